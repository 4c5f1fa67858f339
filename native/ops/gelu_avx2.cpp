// The GELU kernels built for AVX2 + FMA + F16C (see gelu_impl.h).
#define EMBER_GELU_INSTANTIATE
#include "ops/gelu_impl.h"

namespace ember::cpu {
extern const GeluKernels kGeluAvx2 = make_gelu_kernels<VecAvx2>();
}
