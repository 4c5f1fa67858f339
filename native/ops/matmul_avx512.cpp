// The matmul kernels built for AVX-512 (see matmul_impl.h).
// GCC 12's AVX-512 intrinsics trip -Wmaybe-uninitialized on their own internals (GCC PR 105593);
// it must be silenced before <immintrin.h> is first read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define EMBER_MATMUL_INSTANTIATE
#include "ops/matmul_impl.h"

namespace ember::cpu {
extern const MatmulKernels kMatmulAvx512 = make_matmul_kernels<VecAvx512>();
}
