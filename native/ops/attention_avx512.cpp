// The attention kernels built for AVX-512 (see attention_impl.h).
// GCC 12's AVX-512 intrinsics trip -Wmaybe-uninitialized on their own internals (GCC PR 105593);
// it must be silenced before <immintrin.h> is first read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define EMBER_ATTENTION_INSTANTIATE
#include "ops/attention_impl.h"

namespace ember::cpu {
extern const AttentionKernels kAttentionAvx512 = make_attention_kernels<VecAvx512>();
}
