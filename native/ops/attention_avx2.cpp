// The attention kernels built for AVX2 + FMA + F16C (see attention_impl.h).
#define EMBER_ATTENTION_INSTANTIATE
#include "ops/attention_impl.h"

namespace ember::cpu {
extern const AttentionKernels kAttentionAvx2 = make_attention_kernels<VecAvx2>();
}
