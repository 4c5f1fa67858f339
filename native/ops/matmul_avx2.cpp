// The matmul kernels built for AVX2 + FMA + F16C (see matmul_impl.h).
#define EMBER_MATMUL_INSTANTIATE
#include "ops/matmul_impl.h"

namespace ember::cpu {
extern const MatmulKernels kMatmulAvx2 = make_matmul_kernels<VecAvx2>();
}
