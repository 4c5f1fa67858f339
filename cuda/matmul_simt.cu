// The CUDA-core matmul paths: a 64 x 64 tiled SIMT kernel (any activation type pair, any weight
// type, any k; the fp32-compute mode and every shape the tensor-core path does not take) and the
// small-m kernel (m <= 8: a warp per output column reads its weight row once, 8 weights per lane
// per step, and dots it with every x row; memory-bound on W as it should be).
// Both accumulate in f32 and run the same epilogue: + bias, + y when accumulating, round once.
#include <algorithm>

#include "core/dtype.h"
#include "matmul.cuh"
#include "quant.cuh"

namespace ember::cuda {
namespace {

struct SimtParams {
    const void* x;
    int64_t x_stride;
    const uint8_t* w;
    int64_t w_row_bytes;
    const float* bias;
    void* y;
    int64_t y_stride;
    int64_t m, n, k;
    int accumulate;
};

template <class TY>
__device__ __forceinline__ void store_out(const SimtParams& p, int64_t row, int64_t col, float v) {
    if (p.bias != nullptr) v += p.bias[col];
    TY* y = static_cast<TY*>(p.y) + row * p.y_stride + col;
    if (p.accumulate) v += to_f(*y);
    *y = from_f<TY>(v);
}

// --- tiled SIMT ---------------------------------------------------------------------------------
constexpr int kSimtBM = 64, kSimtBN = 64, kSimtBK = 16, kSimtThreads = 256;

template <class TX, class TY, int WT>
__global__ void __launch_bounds__(kSimtThreads) gemm_simt_kernel(const SimtParams p) {
    __shared__ __align__(16) float As[kSimtBK][kSimtBM + 4];
    __shared__ __align__(16) float Bs[kSimtBK][kSimtBN + 4];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const TX* x = static_cast<const TX*>(p.x);
    const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kSimtBN;
    for (int64_t m0 = static_cast<int64_t>(blockIdx.y) * kSimtBM; m0 < p.m; m0 += static_cast<int64_t>(gridDim.y) * kSimtBM) {
        float acc[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
        for (int64_t k0 = 0; k0 < p.k; k0 += kSimtBK) {
#pragma unroll
            for (int i = 0; i < kSimtBM * kSimtBK / kSimtThreads; ++i) {
                const int e = tid + i * kSimtThreads, r = e / kSimtBK, kk = e % kSimtBK;
                const int64_t gm = m0 + r, gk = k0 + kk;
                As[kk][r] = gm < p.m && gk < p.k ? to_f(x[gm * p.x_stride + gk]) : 0.0f;
            }
#pragma unroll
            for (int i = 0; i < kSimtBN * kSimtBK / kSimtThreads; ++i) {
                const int e = tid + i * kSimtThreads, c = e / kSimtBK, kk = e % kSimtBK;
                const int64_t gn = n0 + c, gk = k0 + kk;
                Bs[kk][c] = gn < p.n && gk < p.k ? decode_one<WT>(p.w + gn * p.w_row_bytes, gk) : 0.0f;
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < kSimtBK; ++kk) {
                const float4 a = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
                const float4 b = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
                const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
                for (int i = 0; i < 4; ++i)
#pragma unroll
                    for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
            }
            __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int64_t row = m0 + ty * 4 + i;
            if (row >= p.m) continue;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int64_t col = n0 + tx * 4 + j;
                if (col < p.n) store_out<TY>(p, row, col, acc[i][j]);
            }
        }
    }
}

// --- small m ------------------------------------------------------------------------------------
constexpr int kGemvWarps = 8;

// x[0..7] as floats; the caller guarantees 16-byte alignment.
__device__ __forceinline__ void load8(const float* x, float (&v)[8]) {
    const float4 a = reinterpret_cast<const float4*>(x)[0], b = reinterpret_cast<const float4*>(x)[1];
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}
__device__ __forceinline__ void load8(const bf16* x, float (&v)[8]) {
    const uint4 u = *reinterpret_cast<const uint4*>(x);
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        v[2 * i] = __uint_as_float(w[i] << 16);
        v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
}

template <class TX, class TY, int WT>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_kernel(const SimtParams p) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int64_t col = static_cast<int64_t>(blockIdx.x) * kGemvWarps + warp;
    if (col >= p.n) return;  // no barriers below
    const TX* x = static_cast<const TX*>(p.x);
    const uint8_t* wrow = p.w + col * p.w_row_bytes;
    const int m = static_cast<int>(p.m);
    float acc[kSmallMMaxRows];
#pragma unroll
    for (int r = 0; r < kSmallMMaxRows; ++r) acc[r] = 0.0f;
#pragma unroll 2
    for (int64_t k0 = lane * 8; k0 < p.k; k0 += 32 * 8) {
        float wv[8];
        decode_run<WT, 8>(wrow, k0, wv);
#pragma unroll
        for (int r = 0; r < kSmallMMaxRows; ++r) {
            if (r < m) {
                float xv[8];
                load8(x + r * p.x_stride + k0, xv);
#pragma unroll
                for (int i = 0; i < 8; ++i) acc[r] = fmaf(xv[i], wv[i], acc[r]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < kSmallMMaxRows; ++r) {
        if (r < m) {
            const float s = warp_sum(acc[r]);
            if (lane == 0) store_out<TY>(p, r, col, s);
        }
    }
}

SimtParams make_params(const MatmulArgs& a) {
    SimtParams p{};
    p.x = a.x.data;
    p.x_stride = a.x.stride;
    p.w = static_cast<const uint8_t*>(a.w.data);
    p.w_row_bytes = dtype_row_bytes(a.w.dtype, a.w.k);
    p.bias = a.bias;
    p.y = a.y.data;
    p.y_stride = a.y.stride;
    p.m = a.x.rows;
    p.n = a.w.n;
    p.k = a.w.k;
    p.accumulate = a.accumulate ? 1 : 0;
    return p;
}

// Calls f(TypeTag<TX>, TypeTag<TY>, WeightTag<WT>) for the supported combinations: (x, y) in
// (f32, f32), (bf16, bf16), (f32, bf16); W any decodable type.
template <class F>
ember_status dispatch(const MatmulArgs& a, const char* op, std::string* error, F&& f) {
    return with_weight_type(a.w.dtype, [&](auto wt) -> ember_status {
        constexpr int WT = decltype(wt)::value;
        if constexpr (WT < 0) {
            return fail(EMBER_ERR_MODEL_UNSUPPORTED, format("%s: weight dtype %d has no decoder", op, a.w.dtype), error);
        } else {
            const int32_t xd = a.x.dtype, yd = a.y.dtype;
            if (xd == EMBER_DTYPE_F32 && yd == EMBER_DTYPE_F32) return f(TypeTag<float>{}, TypeTag<float>{}, wt);
            if (xd == EMBER_DTYPE_BF16 && yd == EMBER_DTYPE_BF16) return f(TypeTag<bf16>{}, TypeTag<bf16>{}, wt);
            if (xd == EMBER_DTYPE_F32 && yd == EMBER_DTYPE_BF16) return f(TypeTag<float>{}, TypeTag<bf16>{}, wt);
            return fail(EMBER_ERR_INVALID_ARGUMENT,
                        format("%s: x %s -> y %s is not a supported activation pair", op, act_name(xd), act_name(yd)),
                        error);
        }
    });
}

}  // namespace

bool matmul_small_m_applies(const MatmulArgs& a) {
    if (a.x.rows < 1 || a.x.rows > kSmallMMaxRows || a.w.k % 8 != 0) return false;
    if (a.x.dtype == EMBER_DTYPE_BF16 && a.y.dtype == EMBER_DTYPE_F32) return false;
    const int64_t xs = a.x.dtype == EMBER_DTYPE_F32 ? 4 : 2;
    if (!aligned_to(a.x.data, 16) || (a.x.stride * xs) % 16 != 0) return false;
    // Plain weights are read 16 bytes at a time; block types need their natural alignment, which
    // whole rows from an aligned base give.
    if (!aligned_to(a.w.data, 16) || dtype_row_bytes(a.w.dtype, a.w.k) % 2 != 0) return false;
    if (a.w.dtype == EMBER_DTYPE_F32 || a.w.dtype == EMBER_DTYPE_F16 || a.w.dtype == EMBER_DTYPE_BF16)
        return dtype_row_bytes(a.w.dtype, a.w.k) % 16 == 0;
    return true;
}

ember_status matmul_small_m(const MatmulArgs& a, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(matmul_small_m_applies(a), "matmul: the small-m path does not apply to these operands");
    const SimtParams p = make_params(a);
    return dispatch(a, "matmul (small m)", error, [&](auto tx, auto ty, auto wt) -> ember_status {
        using TX = typename decltype(tx)::type;
        using TY = typename decltype(ty)::type;
        const dim3 grid(static_cast<unsigned>(ceil_div(p.n, kGemvWarps)));
        gemv_kernel<TX, TY, decltype(wt)::value><<<grid, kGemvWarps * 32, 0, stream>>>(p);
        return launched("matmul (small m)", error);
    });
}

ember_status matmul_simt(const MatmulArgs& a, cudaStream_t stream, std::string* error) {
    const SimtParams p = make_params(a);
    EMBER_CU_REQUIRE(ceil_div(p.n, kSimtBN) <= 0x7fffffff, "matmul: n = %lld is too large", (long long)p.n);
    return dispatch(a, "matmul (simt)", error, [&](auto tx, auto ty, auto wt) -> ember_status {
        using TX = typename decltype(tx)::type;
        using TY = typename decltype(ty)::type;
        const dim3 grid(static_cast<unsigned>(ceil_div(p.n, kSimtBN)),
                        static_cast<unsigned>(std::min<int64_t>(ceil_div(p.m, kSimtBM), kMaxGridY)));
        gemm_simt_kernel<TX, TY, decltype(wt)::value><<<grid, kSimtThreads, 0, stream>>>(p);
        return launched("matmul (simt)", error);
    });
}

}  // namespace ember::cuda
