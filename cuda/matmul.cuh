// y (+)= x W^T (+ bias) on the GPU, the CUDA twin of ember_kernel_matmul, with activations in f32
// or bf16 and weights in f32, f16, bf16, Q8_0, Q4_K or Q6_K (decoded in registers, never a
// dequantized copy of W).
//
// Paths, picked by choose_matmul (one function, used by the launch and by the tests):
//   TensorCore  bf16 x, bf16 y, 16-bit or quantized W: mma.sync m16n8k16 (sm_80+), a cp.async
//               pipeline of 32-wide k tiles, 128 x 128 or 64 x 64 output tiles (matmul_tc.cu).
//   SmallM      m <= 8 (short batches, a single query): one warp per output column streams its W
//               row once, all m rows at a time (matmul_simt.cu).
//   Simt        everything else (f32 activations, the fp32-compute mode, odd sizes): 64 x 64 tiles
//               of float FMAs (matmul_simt.cu).
//   CublasLt    opt-in (a.cublaslt: the load option or EMBER_CUBLASLT=1; libcublasLt.so.13
//               loadable): bf16 x, W, y, no bias, m > 8; before every hand-written path.
//   Wgmma       bf16 x, y, W in bf16, Q8_0, Q4_K or Q6_K, on compute capability 9.0 (H100 /
//               H200), k a multiple of 64: warpgroup MMAs from swizzled shared memory
//               (matmul_wgmma.cu). Taken before TensorCore where its 128 x 256 tiles fill the GPU.
// EMBER_CUDA_MATMUL=tc|smallm|simt|wgmma forces a path where it applies (diagnosis, the
// benchmark's mma.sync rows); unset = automatic.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "common.cuh"

namespace ember::cuda {

enum class MatmulPath { TensorCore, SmallM, Simt, CublasLt, Wgmma };

const char* matmul_path_name(MatmulPath p);

struct MatmulArgs {
    Tensor y;            // m rows of n, f32 or bf16
    Tensor x;            // m rows of k, f32 or bf16
    Weight w;            // n rows of k (device memory)
    const float* bias;   // n floats (device), or null
    bool accumulate;     // y += result
    bool cublaslt = false;  // the caller allows cuBLASLt (its backend's setting)
};

// Checks shapes, types and strides; INVALID_ARGUMENT (or MODEL_UNSUPPORTED for a weight type
// with no decoder) otherwise.
ember_status validate_matmul(const MatmulArgs& a, std::string* error);

// The path the launch takes for these arguments (after validate_matmul), honouring
// EMBER_CUDA_MATMUL and a.cublaslt.
MatmulPath choose_matmul(const MatmulArgs& a);

// Queues the product on `stream`. `force` (tests, benchmarks) picks a path; it must be one that
// applies (matmul_path_applies), else INVALID_ARGUMENT.
ember_status matmul(const MatmulArgs& a, cudaStream_t stream, std::string* error);
ember_status matmul_with(const MatmulArgs& a, MatmulPath path, cudaStream_t stream, std::string* error);
bool matmul_path_applies(const MatmulArgs& a, MatmulPath path);

// The launch parameters of the tensor-core kernels (matmul_tc.cu, matmul_wgmma.cu): bf16 x and y,
// W as rows of w_row_bytes in its own type.
struct GemmParams {
    const bf16* x;
    int64_t x_stride;
    const uint8_t* w;
    int64_t w_row_bytes;
    const float* bias;
    bf16* y;
    int64_t y_stride;
    int m, n, k;
    int accumulate;
};
// For arguments a bf16 path applies to (sizes checked to fit an int there).
GemmParams gemm_params(const MatmulArgs& a);

// --- The paths (matmul_tc.cu, matmul_simt.cu, matmul_wgmma.cu, cublaslt.cpp) ----------------------------------
ember_status matmul_tc(const MatmulArgs& a, cudaStream_t stream, std::string* error);
ember_status matmul_small_m(const MatmulArgs& a, cudaStream_t stream, std::string* error);
ember_status matmul_simt(const MatmulArgs& a, cudaStream_t stream, std::string* error);
bool matmul_tc_applies(const MatmulArgs& a);
bool matmul_small_m_applies(const MatmulArgs& a);
ember_status matmul_wgmma(const MatmulArgs& a, cudaStream_t stream, std::string* error);
bool matmul_wgmma_applies(const MatmulArgs& a);

constexpr int kSmallMMaxRows = 8;

}  // namespace ember::cuda
