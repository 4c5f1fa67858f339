// The SwiGLU kernels built for AVX2 + FMA + F16C (see swiglu_impl.h).
#define EMBER_SWIGLU_INSTANTIATE
#include "ops/swiglu_impl.h"

namespace ember::cpu {
extern const SwigluKernels kSwigluAvx2 = make_swiglu_kernels<VecAvx2>();
}
