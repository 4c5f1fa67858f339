#include "norm.cuh"

#include <algorithm>
#include <cmath>

namespace ember::cuda {
namespace {

constexpr int kBlock = 256, kRowsPerBlock = kBlock / 32, kWarpRowMax = 1024;

// The threads that share a row: a warp (WARP) or the whole block. Sums over them.
template <bool WARP>
struct RowGroup {
    int64_t row;
    int first, step;  // this thread's first column and the stride between its columns
    __device__ RowGroup(int64_t base_row) {
        if constexpr (WARP) {
            row = base_row * kRowsPerBlock + threadIdx.x / 32;
            first = threadIdx.x % 32;
            step = 32;
        } else {
            row = base_row;
            first = threadIdx.x;
            step = kBlock;
        }
    }
    __device__ float sum(float v, float* scratch) const {
        if constexpr (WARP) return warp_sum(v);
        else return block_sum(v, scratch);
    }
};

struct RmsParams {
    void* x;
    int64_t x_stride;
    const void* residual;
    int64_t residual_stride;
    const float* weight;
    void* y;
    int64_t y_stride;
    int64_t rows;
    int dim;
    float eps;
};

template <class T, bool WARP>
__global__ void __launch_bounds__(kBlock) rmsnorm_kernel(const RmsParams p) {
    __shared__ float scratch[32];
    const int64_t groups = WARP ? ceil_div(p.rows, kRowsPerBlock) : p.rows;
    for (int64_t base = blockIdx.x; base < groups; base += gridDim.x) {
        const RowGroup<WARP> g(base);
        // In warp mode a warp past the last row still joins no barrier (warp_sum only): skip it.
        if (WARP && g.row >= p.rows) continue;
        T* x = static_cast<T*>(p.x) + g.row * p.x_stride;
        float ss = 0.0f;
        for (int c = g.first; c < p.dim; c += g.step) {
            float v = to_f(x[c]);
            if (p.residual != nullptr) {
                v += to_f(static_cast<const T*>(p.residual)[g.row * p.residual_stride + c]);
                const T r = from_f<T>(v);
                x[c] = r;
                v = to_f(r);  // normalise what is stored
            }
            ss = fmaf(v, v, ss);
        }
        ss = g.sum(ss, scratch);
        const float inv = rsqrtf(ss / static_cast<float>(p.dim) + p.eps);
        T* y = static_cast<T*>(p.y) + g.row * p.y_stride;
        for (int c = g.first; c < p.dim; c += g.step) y[c] = from_f<T>(to_f(x[c]) * inv * p.weight[c]);
    }
}

struct LnParams {
    const void* x;
    int64_t x_stride;
    const float* weight;
    const float* bias;
    void* y;
    int64_t y_stride;
    int64_t rows;
    int dim;
    float eps;
};

template <class TX, class TY, bool WARP>
__global__ void __launch_bounds__(kBlock) layernorm_kernel(const LnParams p) {
    __shared__ float scratch[32];
    const int64_t groups = WARP ? ceil_div(p.rows, kRowsPerBlock) : p.rows;
    for (int64_t base = blockIdx.x; base < groups; base += gridDim.x) {
        const RowGroup<WARP> g(base);
        if (WARP && g.row >= p.rows) continue;
        const TX* x = static_cast<const TX*>(p.x) + g.row * p.x_stride;
        float s = 0.0f;
        for (int c = g.first; c < p.dim; c += g.step) s += to_f(x[c]);
        const float mean = g.sum(s, scratch) / static_cast<float>(p.dim);
        float v = 0.0f;
        for (int c = g.first; c < p.dim; c += g.step) {
            const float d = to_f(x[c]) - mean;
            v = fmaf(d, d, v);
        }
        const float inv = rsqrtf(g.sum(v, scratch) / static_cast<float>(p.dim) + p.eps);
        TY* y = static_cast<TY*>(p.y) + g.row * p.y_stride;
        // y may alias x: each thread rewrites only the columns it read.
        for (int c = g.first; c < p.dim; c += g.step) {
            const float o = (to_f(x[c]) - mean) * inv * p.weight[c] + (p.bias ? p.bias[c] : 0.0f);
            y[c] = from_f<TY>(o);
        }
    }
}

template <bool WARP>
__global__ void __launch_bounds__(kBlock) l2_kernel(float* x, int64_t stride, int64_t rows, int dim) {
    __shared__ float scratch[32];
    const int64_t groups = WARP ? ceil_div(rows, kRowsPerBlock) : rows;
    for (int64_t base = blockIdx.x; base < groups; base += gridDim.x) {
        const RowGroup<WARP> g(base);
        if (WARP && g.row >= rows) continue;
        float* r = x + g.row * stride;
        float ss = 0.0f;
        for (int c = g.first; c < dim; c += g.step) ss = fmaf(r[c], r[c], ss);
        const float denom = fmaxf(sqrtf(g.sum(ss, scratch)), 1e-12f);
        for (int c = g.first; c < dim; c += g.step) r[c] = r[c] / denom;
    }
}

unsigned row_blocks(int64_t rows, bool warp) {
    const int64_t groups = warp ? ceil_div(rows, kRowsPerBlock) : rows;
    return static_cast<unsigned>(std::min<int64_t>(groups, int64_t(1) << 20));
}

ember_status check_rows(const char* op, const Tensor& t, int64_t rows, int64_t cols, std::string* error) {
    EMBER_CU_REQUIRE(t.rows >= rows && t.cols == cols, "%s: a tensor is %lld x %lld, expected %lld x %lld", op,
                     (long long)t.rows, (long long)t.cols, (long long)rows, (long long)cols);
    EMBER_CU_REQUIRE(rows == 0 || (t.data != nullptr && t.stride >= cols), "%s: null tensor or stride below its width", op);
    return EMBER_OK;
}

}  // namespace

ember_status rmsnorm(const Tensor& x, const Tensor* residual, const float* weight, float eps, const Tensor& y,
                     cudaStream_t stream, std::string* error) {
    const char* op = "rmsnorm";
    EMBER_CU_REQUIRE(x.rows >= 0 && x.cols > 0 && x.cols <= 0x7fffffff, "rmsnorm: bad row width %lld", (long long)x.cols);
    EMBER_CU_REQUIRE(std::isfinite(eps) && eps >= 0.0f, "rmsnorm: eps must be finite and >= 0");
    EMBER_CU_TRY(check_rows(op, y, x.rows, x.cols, error));
    if (residual) EMBER_CU_TRY(check_rows(op, *residual, x.rows, x.cols, error));
    EMBER_CU_REQUIRE(y.dtype == x.dtype && (!residual || residual->dtype == x.dtype), "rmsnorm: operands must share one dtype");
    if (x.rows == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(x.data && weight, "rmsnorm: null pointer");
    RmsParams p{x.data, x.stride, residual ? residual->data : nullptr, residual ? residual->stride : 0, weight, y.data,
                y.stride, x.rows, static_cast<int>(x.cols), eps};
    const bool warp = x.cols <= kWarpRowMax;
    return with_act_type(x.dtype, op, error, [&](auto tag) -> ember_status {
        using T = typename decltype(tag)::type;
        if (warp)
            rmsnorm_kernel<T, true><<<row_blocks(p.rows, true), kBlock, 0, stream>>>(p);
        else
            rmsnorm_kernel<T, false><<<row_blocks(p.rows, false), kBlock, 0, stream>>>(p);
        return launched(op, error);
    });
}

ember_status layernorm(const Tensor& x, const float* weight, const float* bias, float eps, const Tensor& y,
                       cudaStream_t stream, std::string* error) {
    const char* op = "layernorm";
    EMBER_CU_REQUIRE(x.rows >= 0 && x.cols > 0 && x.cols <= 0x7fffffff, "layernorm: bad row width %lld", (long long)x.cols);
    EMBER_CU_REQUIRE(std::isfinite(eps) && eps >= 0.0f, "layernorm: eps must be finite and >= 0");
    EMBER_CU_TRY(check_rows(op, y, x.rows, x.cols, error));
    if (x.rows == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(x.data && weight, "layernorm: null pointer");
    EMBER_CU_REQUIRE(x.data != y.data || (x.dtype == y.dtype && x.stride == y.stride),
                     "layernorm: in place needs one dtype and stride");
    LnParams p{x.data, x.stride, weight, bias, y.data, y.stride, x.rows, static_cast<int>(x.cols), eps};
    const bool warp = x.cols <= kWarpRowMax;
    return with_act_type(x.dtype, op, error, [&](auto tx) -> ember_status {
        return with_act_type(y.dtype, op, error, [&](auto ty) -> ember_status {
            using TX = typename decltype(tx)::type;
            using TY = typename decltype(ty)::type;
            if (warp)
                layernorm_kernel<TX, TY, true><<<row_blocks(p.rows, true), kBlock, 0, stream>>>(p);
            else
                layernorm_kernel<TX, TY, false><<<row_blocks(p.rows, false), kBlock, 0, stream>>>(p);
            return launched(op, error);
        });
    });
}

ember_status l2_normalize(const Tensor& x, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(x.dtype == EMBER_DTYPE_F32, "l2_normalize: f32 rows only");
    EMBER_CU_REQUIRE(x.rows >= 0 && x.cols > 0 && x.cols <= 0x7fffffff && x.stride >= x.cols, "l2_normalize: bad shape");
    if (x.rows == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(x.data != nullptr, "l2_normalize: null pointer");
    const bool warp = x.cols <= kWarpRowMax;
    if (warp)
        l2_kernel<true><<<row_blocks(x.rows, true), kBlock, 0, stream>>>(x.f32(), x.stride, x.rows, static_cast<int>(x.cols));
    else
        l2_kernel<false><<<row_blocks(x.rows, false), kBlock, 0, stream>>>(x.f32(), x.stride, x.rows, static_cast<int>(x.cols));
    return launched("l2_normalize", error);
}

}  // namespace ember::cuda
