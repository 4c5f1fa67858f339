// The SwiGLU kernels built for AVX-512 (see swiglu_impl.h).
// GCC 12's AVX-512 intrinsics trip -Wmaybe-uninitialized on their own internals (GCC PR 105593);
// it must be silenced before <immintrin.h> is first read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define EMBER_SWIGLU_INSTANTIATE
#include "ops/swiglu_impl.h"

namespace ember::cpu {
extern const SwigluKernels kSwigluAvx512 = make_swiglu_kernels<VecAvx512>();
}
