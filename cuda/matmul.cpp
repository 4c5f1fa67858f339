// The matmul entry point: argument checks and the one function that picks a path.
#include "matmul.cuh"

#include <cstdlib>
#include <cstring>

#include "core/dtype.h"
#include "cublaslt.cuh"
#include "matmul_wgmma.cuh"

namespace ember::cuda {

namespace {

bool weight_decodable(int32_t dtype) {
    switch (dtype) {
        case EMBER_DTYPE_F32:
        case EMBER_DTYPE_F16:
        case EMBER_DTYPE_BF16:
        case EMBER_DTYPE_Q8_0:
        case EMBER_DTYPE_Q4_K:
        case EMBER_DTYPE_Q6_K: return true;
        default: return false;
    }
}

}  // namespace

const char* matmul_path_name(MatmulPath p) {
    switch (p) {
        case MatmulPath::TensorCore: return "tensor-core";
        case MatmulPath::SmallM: return "small-m";
        case MatmulPath::Simt: return "simt";
        case MatmulPath::CublasLt: return "cublaslt";
        case MatmulPath::Wgmma: return "wgmma";
    }
    return "?";
}

GemmParams gemm_params(const MatmulArgs& a) {
    GemmParams p{};
    p.x = static_cast<const bf16*>(a.x.data);
    p.x_stride = a.x.stride;
    p.w = static_cast<const uint8_t*>(a.w.data);
    p.w_row_bytes = dtype_row_bytes(a.w.dtype, a.w.k);
    p.bias = a.bias;
    p.y = static_cast<bf16*>(a.y.data);
    p.y_stride = a.y.stride;
    p.m = static_cast<int>(a.x.rows);
    p.n = static_cast<int>(a.w.n);
    p.k = static_cast<int>(a.w.k);
    p.accumulate = a.accumulate ? 1 : 0;
    return p;
}

ember_status validate_matmul(const MatmulArgs& a, std::string* error) {
    const int64_t m = a.x.rows, n = a.w.n, k = a.w.k;
    EMBER_CU_REQUIRE(m >= 0 && n >= 0 && k >= 0, "matmul: negative size (m=%lld, n=%lld, k=%lld)", (long long)m,
                     (long long)n, (long long)k);
    if (!weight_decodable(a.w.dtype)) {
        const DtypeInfo* info = dtype_info(a.w.dtype);
        return fail(EMBER_ERR_MODEL_UNSUPPORTED,
                    format("matmul: %s weights are not supported by the CUDA backend", info ? info->name : "unknown"),
                    error);
    }
    EMBER_CU_REQUIRE(a.x.cols == k, "matmul: x has %lld columns, W has k = %lld", (long long)a.x.cols, (long long)k);
    EMBER_CU_REQUIRE(a.y.rows == m && a.y.cols == n, "matmul: y is %lld x %lld, expected %lld x %lld",
                     (long long)a.y.rows, (long long)a.y.cols, (long long)m, (long long)n);
    EMBER_CU_REQUIRE(a.x.dtype == EMBER_DTYPE_F32 || a.x.dtype == EMBER_DTYPE_BF16, "matmul: x dtype %d", a.x.dtype);
    EMBER_CU_REQUIRE(a.y.dtype == EMBER_DTYPE_F32 || a.y.dtype == EMBER_DTYPE_BF16, "matmul: y dtype %d", a.y.dtype);
    EMBER_CU_REQUIRE(!(a.x.dtype == EMBER_DTYPE_BF16 && a.y.dtype == EMBER_DTYPE_F32),
                     "matmul: bf16 x with an f32 y is not a supported pair");
    if (m == 0 || n == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(k > 0, "matmul: k must be positive");
    EMBER_CU_REQUIRE(dtype_row_bytes(a.w.dtype, k) > 0, "matmul: k = %lld is not a whole number of %s blocks",
                     (long long)k, dtype_info(a.w.dtype)->name);
    EMBER_CU_REQUIRE(a.x.data && a.y.data && a.w.data, "matmul: null pointer");
    EMBER_CU_REQUIRE(a.x.stride >= k && a.y.stride >= n, "matmul: a row stride is smaller than its row");
    return EMBER_OK;
}

bool matmul_path_applies(const MatmulArgs& a, MatmulPath path) {
    switch (path) {
        case MatmulPath::TensorCore: return matmul_tc_applies(a);
        case MatmulPath::SmallM: return matmul_small_m_applies(a);
        case MatmulPath::Simt: return true;
        case MatmulPath::CublasLt: return lt::applies(a);
        case MatmulPath::Wgmma: return matmul_wgmma_applies(a);
    }
    return false;
}

MatmulPath choose_matmul(const MatmulArgs& a) {
    if (env_equals("EMBER_CUDA_MATMUL", "simt")) return MatmulPath::Simt;
    if (env_equals("EMBER_CUDA_MATMUL", "smallm") && matmul_small_m_applies(a)) return MatmulPath::SmallM;
    if (env_equals("EMBER_CUDA_MATMUL", "tc") && matmul_tc_applies(a)) return MatmulPath::TensorCore;
    if (env_equals("EMBER_CUDA_MATMUL", "wgmma") && a.x.rows > kSmallMMaxRows && matmul_wgmma_applies(a))
        return MatmulPath::Wgmma;
    if (a.cublaslt && a.x.rows > kSmallMMaxRows && lt::applies(a)) return MatmulPath::CublasLt;
    if (matmul_small_m_applies(a)) return MatmulPath::SmallM;
    // wgmma: 1.6x the mma.sync kernel on an H200 (BENCHMARKS.md), once its 128 x 256 tiles fill
    // every multiprocessor; below that the mma.sync kernel's smaller tiles spread the work wider.
    if (matmul_wgmma_applies(a) && ceil_div(a.x.rows, wgmma::kBM) * ceil_div(a.w.n, wgmma::kBN) >= sm_count())
        return MatmulPath::Wgmma;
    if (matmul_tc_applies(a)) return MatmulPath::TensorCore;
    return MatmulPath::Simt;
}

ember_status matmul_with(const MatmulArgs& a, MatmulPath path, cudaStream_t stream, std::string* error) {
    EMBER_CU_TRY(validate_matmul(a, error));
    if (a.x.rows == 0 || a.w.n == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(matmul_path_applies(a, path), "matmul: the %s path does not apply to these operands",
                     matmul_path_name(path));
    switch (path) {
        case MatmulPath::TensorCore: return matmul_tc(a, stream, error);
        case MatmulPath::SmallM: return matmul_small_m(a, stream, error);
        case MatmulPath::Simt: return matmul_simt(a, stream, error);
        case MatmulPath::CublasLt: return lt::matmul(a, stream, error);
        case MatmulPath::Wgmma: return matmul_wgmma(a, stream, error);
    }
    return fail(EMBER_ERR_INTERNAL, "matmul: unknown path", error);
}

ember_status matmul(const MatmulArgs& a, cudaStream_t stream, std::string* error) {
    EMBER_CU_TRY(validate_matmul(a, error));
    if (a.x.rows == 0 || a.w.n == 0) return EMBER_OK;
    return matmul_with(a, choose_matmul(a), stream, error);
}

}  // namespace ember::cuda
