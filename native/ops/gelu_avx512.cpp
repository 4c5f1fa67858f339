// The GELU kernels built for AVX-512 (see gelu_impl.h).
// GCC 12's AVX-512 intrinsics trip -Wmaybe-uninitialized (and, inlined into vgelu, -Wuninitialized)
// on their own internals (GCC PR 105593); both must be silenced before <immintrin.h> is first read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define EMBER_GELU_INSTANTIATE
#include "ops/gelu_impl.h"

namespace ember::cpu {
extern const GeluKernels kGeluAvx512 = make_gelu_kernels<VecAvx512>();
}
