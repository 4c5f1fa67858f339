// The tensor-core matmul: y[m, n] (+)= x[m, k] W[n, k]^T (+ bias), bf16 x and y, W in bf16, f16
// or a GGUF block type, f32 accumulators (mma.sync m16n8k16, sm_80 and later).
//
// Structure (the classic multistage GEMM, e.g. CUTLASS's sm80 "multistage" mainloop):
//   prologue   STAGES - 1 k tiles (32 wide) of x and W in flight into shared memory
//   main loop  wait for tile kt; start tile kt + STAGES - 1 into the slot tile kt - 1 used;
//              two k16 steps: ldmatrix A and B fragments, MI x NI mma per warp
//   epilogue   + bias, + y (accumulate), round to bf16, store
// x and 16-bit W tiles travel by cp.async (16 bytes, zero-filled past the edges). Quantized W is
// read into registers at the top of the iteration (QuantRun::load), decoded to bf16 and stored to
// shared memory after the iteration's MMAs, so its load latency overlaps the math. f16 W is
// converted to bf16 in registers after ldmatrix (bf16 tensor cores throughout: x is bf16).
//
// Shared memory rows are BK + 8 = 40 elements (80 bytes): the 8 row addresses of one ldmatrix
// phase fall on distinct 16-byte bank groups (80 r mod 128 = 0, 80, 32, 112, 64, 16, 96, 48),
// so fragment loads are conflict-free without a swizzle.
//
// Tiles (one launch config per shape class, chosen in matmul_tc below):
//   128 x 128, 8 warps of 64 x 32, 4 stages (80 KB): the large-m default (every weight type)
//   64 x 64, 4 warps of 32 x 32, 4 stages (40 KB): when 128-tiles would not fill the GPU
//     (bf16 weights only; other types use the large tile at any size).
#include <type_traits>

#include "core/dtype.h"
#include "matmul.cuh"
#include "mma.cuh"
#include "quant.cuh"

namespace ember::cuda {
namespace {

constexpr int kBK = 32;
constexpr int kLds = kBK + 8;  // shared row stride, elements

template <int WT>
constexpr bool kCpAsyncWeights = WT == EMBER_DTYPE_BF16 || WT == EMBER_DTYPE_F16;

template <int BM, int BN, int WM, int WN, int STAGES, int WT>
struct TcConfig {
    static constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
    static constexpr int kThreads = kWarpsM * kWarpsN * 32;
    static constexpr int kMI = WM / 16, kNI = WN / 8;
    static constexpr int kStageElems = (BM + BN) * kLds;
    static constexpr size_t kSmemBytes = static_cast<size_t>(STAGES) * kStageElems * sizeof(bf16);
    static constexpr int kAChunks = BM * kBK / 8 / kThreads;  // 16-byte chunks per thread
    static constexpr int kBChunks = BN * kBK / 8 / kThreads;
    static_assert(kNI % 2 == 0, "B fragments come in pairs of n8 tiles");
    static_assert(BM * kBK / 8 % kThreads == 0 && BN * kBK / 8 % kThreads == 0, "whole chunks per thread");
    static_assert(kCpAsyncWeights<WT> || BN * 2 == kThreads, "quantized W: one 16-weight run per thread");
    static_assert(STAGES >= 2, "at least double buffering");
};

struct NoRun {};

__device__ __forceinline__ uint32_t f16x2_to_bf16x2(uint32_t v) {
    __half2 h;
    memcpy(&h, &v, 4);
    const float2 f = __half22float2(h);
    return mma::pack_bf16(f.x, f.y);
}

template <int BM, int BN, int WM, int WN, int STAGES, int WT>
__global__ void __launch_bounds__(TcConfig<BM, BN, WM, WN, STAGES, WT>::kThreads)
    gemm_tc_kernel(const GemmParams p) {
    using C = TcConfig<BM, BN, WM, WN, STAGES, WT>;
    constexpr bool kAsyncW = kCpAsyncWeights<WT>;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16* const smem = reinterpret_cast<bf16*>(smem_raw);

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int warp_m = warp % C::kWarpsM, warp_n = warp / C::kWarpsM;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int k_tiles = (p.k + kBK - 1) / kBK;

    auto a_tile = [&](int s) { return smem + s * C::kStageElems; };
    auto b_tile = [&](int s) { return smem + s * C::kStageElems + BM * kLds; };

    // --- producers ---------------------------------------------------------------------------
    auto load_a = [&](int s, int kt) {
        bf16* dst = a_tile(s);
#pragma unroll
        for (int i = 0; i < C::kAChunks; ++i) {
            const int c = tid + i * C::kThreads;
            const int r = c / (kBK / 8), col = (c % (kBK / 8)) * 8;
            const int gm = m0 + r, gk = kt * kBK + col;
            const bool ok = gm < p.m && gk < p.k;
            const bf16* src = ok ? p.x + static_cast<int64_t>(gm) * p.x_stride + gk : p.x;
            mma::cp_async16(dst + r * kLds + col, src, ok);
        }
    };
    auto load_b_async = [&](int s, int kt) {
        bf16* dst = b_tile(s);
#pragma unroll
        for (int i = 0; i < C::kBChunks; ++i) {
            const int c = tid + i * C::kThreads;
            const int r = c / (kBK / 8), col = (c % (kBK / 8)) * 8;
            const int gn = n0 + r, gk = kt * kBK + col;
            const bool ok = gn < p.n && gk < p.k;
            const uint8_t* src = ok ? p.w + static_cast<int64_t>(gn) * p.w_row_bytes + static_cast<int64_t>(gk) * 2 : p.w;
            mma::cp_async16(dst + r * kLds + col, src, ok);
        }
    };
    // Quantized W: thread tid owns row tid / 2 of the tile, weights 16 (tid % 2) .. +15 of the k tile.
    using Run = std::conditional_t<kAsyncW, NoRun, QuantRun<WT, 16>>;
    Run run;
    bool run_ok = false;
    const int q_row = tid / 2, q_col = (tid % 2) * 16;
    auto load_b_run = [&](int kt) {
        if constexpr (!kAsyncW) {
            const int gn = n0 + q_row, gk = kt * kBK + q_col;
            run_ok = gn < p.n && gk < p.k;
            if (run_ok) run.load(p.w + static_cast<int64_t>(gn) * p.w_row_bytes, gk);
        }
    };
    auto store_b_run = [&](int s) {
        if constexpr (!kAsyncW) {
            float f[16];
            if (run_ok) {
                run.decode(f);
            } else {
#pragma unroll
                for (int i = 0; i < 16; ++i) f[i] = 0.0f;
            }
            uint4 v[2];
            mma::pack_bf16x16(f, v);
            uint4* dst = reinterpret_cast<uint4*>(b_tile(s) + q_row * kLds + q_col);
            dst[0] = v[0];
            dst[1] = v[1];
        }
    };

    // --- consumer ----------------------------------------------------------------------------
    float acc[C::kMI][C::kNI][4];
#pragma unroll
    for (int mi = 0; mi < C::kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < C::kNI; ++ni)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.0f;

    auto compute = [&](int s) {
        const bf16* A = a_tile(s);
        const bf16* B = b_tile(s);
#pragma unroll
        for (int ks = 0; ks < kBK / 16; ++ks) {
            uint32_t af[C::kMI][4];
#pragma unroll
            for (int mi = 0; mi < C::kMI; ++mi) {
                const int r = warp_m * WM + mi * 16 + mma::a_lane_row(lane);
                mma::ldmatrix_x4(af[mi], A + r * kLds + ks * 16 + mma::a_lane_col(lane));
            }
            uint32_t bfr[C::kNI][2];
#pragma unroll
            for (int nj = 0; nj < C::kNI / 2; ++nj) {
                uint32_t r4[4];
                const int r = warp_n * WN + nj * 16 + mma::bnk_lane_row(lane);
                mma::ldmatrix_x4(r4, B + r * kLds + ks * 16 + mma::bnk_lane_col(lane));
                if constexpr (WT == EMBER_DTYPE_F16) {
#pragma unroll
                    for (int q = 0; q < 4; ++q) r4[q] = f16x2_to_bf16x2(r4[q]);
                }
                bfr[2 * nj][0] = r4[0];
                bfr[2 * nj][1] = r4[1];
                bfr[2 * nj + 1][0] = r4[2];
                bfr[2 * nj + 1][1] = r4[3];
            }
#pragma unroll
            for (int mi = 0; mi < C::kMI; ++mi)
#pragma unroll
                for (int ni = 0; ni < C::kNI; ++ni) mma::mma_bf16(acc[mi][ni], af[mi], bfr[ni][0], bfr[ni][1]);
        }
    };

    // --- prologue ----------------------------------------------------------------------------
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < k_tiles) {
            load_a(s, s);
            if constexpr (kAsyncW) {
                load_b_async(s, s);
            } else {
                load_b_run(s);
                store_b_run(s);
            }
        }
        mma::cp_async_commit();  // one group per stage, empty or not: the wait counts stay exact
    }

    // --- main loop ---------------------------------------------------------------------------
    for (int kt = 0; kt < k_tiles; ++kt) {
        mma::cp_async_wait<STAGES - 2>();  // tile kt has landed (this thread's copies)
        __syncthreads();                   // ... everyone's; and slot (kt - 1) % STAGES is free
        const int nk = kt + STAGES - 1;
        const bool more = nk < k_tiles;
        if (more) {
            load_a(nk % STAGES, nk);
            if constexpr (kAsyncW) {
                load_b_async(nk % STAGES, nk);
            } else {
                load_b_run(nk);
            }
        }
        mma::cp_async_commit();
        compute(kt % STAGES);
        if constexpr (!kAsyncW) {
            if (more) store_b_run(nk % STAGES);
        }
    }
    mma::cp_async_wait<0>();

    // --- epilogue ----------------------------------------------------------------------------
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int mi = 0; mi < C::kMI; ++mi) {
#pragma unroll
        for (int ni = 0; ni < C::kNI; ++ni) {
            const int col = n0 + warp_n * WN + ni * 8 + 2 * t;
            if (col >= p.n) continue;
            const bool two = col + 1 < p.n;
            const float2 b = mma::bias_pair(p.bias, col, two);
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int row = m0 + warp_m * WM + mi * 16 + g + 8 * h;
                if (row >= p.m) continue;
                mma::store_pair(p.y + static_cast<int64_t>(row) * p.y_stride + col, acc[mi][ni][2 * h] + b.x,
                                acc[mi][ni][2 * h + 1] + b.y, two, p.accumulate != 0);
            }
        }
    }
}

template <int BM, int BN, int WM, int WN, int STAGES, int WT>
ember_status launch_tc(const GemmParams& p, cudaStream_t stream, std::string* error) {
    using C = TcConfig<BM, BN, WM, WN, STAGES, WT>;
    auto kernel = gemm_tc_kernel<BM, BN, WM, WN, STAGES, WT>;
    EMBER_CU_TRY(allow_smem(reinterpret_cast<const void*>(kernel), C::kSmemBytes, "matmul (tensor cores)", error));
    const dim3 grid(static_cast<unsigned>(ceil_div(p.n, BN)), static_cast<unsigned>(ceil_div(p.m, BM)));
    kernel<<<grid, C::kThreads, C::kSmemBytes, stream>>>(p);
    return launched("matmul (tensor cores)", error);
}

}  // namespace

bool matmul_tc_applies(const MatmulArgs& a) {
    const int32_t wt = a.w.dtype;
    const bool wt_ok = wt == EMBER_DTYPE_BF16 || wt == EMBER_DTYPE_F16 || wt == EMBER_DTYPE_Q8_0 ||
                       wt == EMBER_DTYPE_Q4_K || wt == EMBER_DTYPE_Q6_K;
    if (!wt_ok || a.x.dtype != EMBER_DTYPE_BF16 || a.y.dtype != EMBER_DTYPE_BF16) return false;
    const int64_t m = a.x.rows, n = a.w.n, k = a.w.k;
    if (m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff || k % 8 != 0) return false;
    if (ceil_div(m, 64) > kMaxGridY) return false;
    // 16-byte cp.async chunks of x (and 16-bit W) rows; bf16 pairs stored to y.
    if (!aligned_to(a.x.data, 16) || a.x.stride % 8 != 0) return false;
    if (!aligned_to(a.w.data, 16)) return false;
    if (!aligned_to(a.y.data, 4) || a.y.stride % 2 != 0) return false;
    return true;
}

ember_status matmul_tc(const MatmulArgs& a, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(matmul_tc_applies(a), "matmul: the tensor-core path does not apply to these operands");
    const GemmParams p = gemm_params(a);
    // 128-tiles unless they leave most multiprocessors idle.
    const bool big = ceil_div(p.m, 128) * ceil_div(p.n, 128) >= sm_count();
    switch (a.w.dtype) {
        case EMBER_DTYPE_BF16:
            return big ? launch_tc<128, 128, 64, 32, 4, EMBER_DTYPE_BF16>(p, stream, error)
                       : launch_tc<64, 64, 32, 32, 4, EMBER_DTYPE_BF16>(p, stream, error);
        case EMBER_DTYPE_F16: return launch_tc<128, 128, 64, 32, 4, EMBER_DTYPE_F16>(p, stream, error);
        case EMBER_DTYPE_Q8_0: return launch_tc<128, 128, 64, 32, 4, EMBER_DTYPE_Q8_0>(p, stream, error);
        case EMBER_DTYPE_Q4_K: return launch_tc<128, 128, 64, 32, 4, EMBER_DTYPE_Q4_K>(p, stream, error);
        case EMBER_DTYPE_Q6_K: return launch_tc<128, 128, 64, 32, 4, EMBER_DTYPE_Q6_K>(p, stream, error);
        default: return fail(EMBER_ERR_INTERNAL, "matmul_tc: weight type slipped past the check", error);
    }
}

}  // namespace ember::cuda
