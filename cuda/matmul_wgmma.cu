// The Hopper matmul: y[m, n] (+)= x[m, k] W[n, k]^T (+ bias), bf16 x and y, W in bf16, Q8_0, Q4_K
// or Q6_K, f32 accumulators, warpgroup MMAs (wgmma.mma_async, sm_90a) reading both operands from
// shared memory. Quantized W is decoded in registers into the shared tile (never a dequantized
// copy), while the tensor cores work on an earlier tile.
//
// Why: mma.sync (matmul_tc.cu) feeds the tensor cores from registers loaded by ldmatrix, and on an
// H100 / H200 tops out near half of cuBLASLt (BENCHMARKS.md). wgmma takes its operands straight
// from shared memory through descriptors, 64 x 256 x 16 per instruction per warpgroup.
//
// Tiles: 128 (m) x 256 (n) x 64 (k); two warpgroups (256 threads), each 64 rows x 256 columns,
// 128 f32 accumulators per thread; 4 stages of 48 KB (+ 1 KB to align), one block per SM.
// Shared memory holds each operand tile in the canonical K-major 128-byte-swizzle layout: a row
// of 64 bf16 is 128 bytes, its 16-byte chunk c sits at chunk c ^ (row % 8), groups of 8 rows are
// 1024 bytes apart (the descriptor's stride byte offset) and every tile starts on a 1024-byte
// boundary, so the swizzle the hardware applies to addresses (bits 4-6 ^ bits 7-9) is ours.
// A k16 step moves the descriptor's start 32 bytes along the row.
//
// Loads: cp.async of 16-byte chunks by all threads (zero-filled past the m / n edges), then
// fence.proxy.async, which makes them visible to the tensor cores' async proxy, then a barrier.
// Pipeline: one wgmma group stays in flight. At the top of iteration i, after the barrier, every
// warpgroup has waited for group i - 2, so tile i + 2 may overwrite its slot.
//
// Built for sm_90a only (cuda/CMakeLists.txt); choose_matmul takes it on compute capability 9.0
// devices where its tiles fill the GPU (1.6x the mma.sync kernel there on an H200).
#include <type_traits>

#include "core/dtype.h"
#include "matmul.cuh"
#include "matmul_wgmma.cuh"
#include "mma.cuh"
#include "quant.cuh"

namespace ember::cuda {
namespace {

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)

// ROWS rows (from row0, those below `limit`; zeros past it) of 64 bf16 from column k0 into a
// swizzled tile at dst, 16 bytes per cp.async, consecutive threads along a row.
template <int ROWS>
__device__ __forceinline__ void load_rows(uint8_t* dst, const bf16* src, int64_t stride, int row0, int limit, int k0) {
    using namespace wgmma;
#pragma unroll
    for (int i = 0; i < ROWS * 8 / kThreads; ++i) {
        const int c = static_cast<int>(threadIdx.x) + i * kThreads, row = c / 8, chunk = c % 8;
        const bool ok = row0 + row < limit;
        mma::cp_async16(dst + sw128_offset(row, chunk), src + static_cast<int64_t>(ok ? row0 + row : 0) * stride + k0 + chunk * 8,
                        ok);
    }
}

#endif

struct NoRun {};

// W in bf16 (cp.async, like x) or a GGUF type: then each thread decodes kBN * kBK / 16 /
// kThreads = 4 runs of 16 weights per k tile (run r = tid + i kThreads: row r / 4, weights
// 16 (r % 4) ..), RUNS_LIVE at a time, into the swizzled tile with 16-byte shared stores.
template <int WT>
__global__ void __launch_bounds__(wgmma::kThreads, 1) gemm_wgmma_kernel(const GemmParams p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wgmma;
    constexpr bool kQuant = WT != EMBER_DTYPE_BF16;
    constexpr int kRuns = kBN * kBK / 16 / kThreads, kLive = WT == EMBER_DTYPE_Q6_K ? 2 : kRuns;
    static_assert(kRuns % kLive == 0, "whole groups of runs");
    using Run = std::conditional_t<kQuant, QuantRun<WT, 16>, NoRun>;
    extern __shared__ uint8_t smem_raw[];
    uint8_t* smem = smem_raw + ((1024 - (mma::smem_addr(smem_raw) & 1023)) & 1023);
    const int tid = threadIdx.x, wg = tid / 128, warp = (tid % 128) / 32, lane = tid % 32;
    const int m0 = static_cast<int>(blockIdx.y) * kBM, n0 = static_cast<int>(blockIdx.x) * kBN;
    const int k_tiles = p.k / kBK;

    auto load_tile = [&](int kt, int slot) {
        uint8_t* a = smem + slot * kStageBytes;
        load_rows<kBM>(a, p.x, p.x_stride, m0, p.m, kt * kBK);
        if constexpr (!kQuant)
            load_rows<kBN>(a + kATileBytes, reinterpret_cast<const bf16*>(p.w), p.w_row_bytes / 2, n0, p.n, kt * kBK);
    };
    // Quantized W of tile kt into slot: loads of kLive runs, then their decode and stores.
    auto decode_tile = [&](int kt, int slot) {
        if constexpr (kQuant) {
            uint8_t* b = smem + slot * kStageBytes + kATileBytes;
#pragma unroll
            for (int i0 = 0; i0 < kRuns; i0 += kLive) {
                Run run[kLive];
                bool ok[kLive];
#pragma unroll
                for (int i = 0; i < kLive; ++i) {
                    const int r = tid + (i0 + i) * kThreads;
                    ok[i] = n0 + r / 4 < p.n;
                    if (ok[i]) run[i].load(p.w + static_cast<int64_t>(n0 + r / 4) * p.w_row_bytes, kt * kBK + (r % 4) * 16);
                }
#pragma unroll
                for (int i = 0; i < kLive; ++i) {
                    const int r = tid + (i0 + i) * kThreads;
                    float f[16];
                    if (ok[i]) {
                        run[i].decode(f);
                    } else {
#pragma unroll
                        for (int e = 0; e < 16; ++e) f[e] = 0.0f;
                    }
                    uint4 v[2];
                    mma::pack_bf16x16(f, v);
                    *reinterpret_cast<uint4*>(b + sw128_offset(r / 4, 2 * (r % 4))) = v[0];
                    *reinterpret_cast<uint4*>(b + sw128_offset(r / 4, 2 * (r % 4) + 1)) = v[1];
                }
            }
        }
    };

    float acc[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) acc[i] = 0.0f;

#pragma unroll
    for (int s = 0; s < kStages - 2; ++s) {
        if (s < k_tiles) {
            load_tile(s, s);
            decode_tile(s, s);
        }
        mma::cp_async_commit();
    }
    for (int kt = 0; kt < k_tiles; ++kt) {
        mma::cp_async_wait<kStages - 3>();  // this thread's chunks of tile kt have landed
        // Its cp.async chunks and shared stores (quantized W) become visible to the async proxy.
        fence_proxy_async();
        __syncthreads();  // everyone's chunks; every warpgroup is past group kt - 2
        const int next = kt + kStages - 2;
        if (next < k_tiles) load_tile(next, next % kStages);
        mma::cp_async_commit();

        const uint32_t a_base = mma::smem_addr(smem + (kt % kStages) * kStageBytes) + wg * (64 * 128);
        const uint32_t b_base = mma::smem_addr(smem + (kt % kStages) * kStageBytes + kATileBytes);
        wgmma::pin(acc);
        wgmma::fence();
#pragma unroll
        for (int kk = 0; kk < kBK / 16; ++kk)
            mma_m64n256k16_ss(acc, sw128_desc(a_base + kk * 32), sw128_desc(b_base + kk * 32), 1);
        commit();
        // Quantized W of tile kt + 2 is read and decoded while the tensor cores work on tile kt:
        // its slot was last read by group kt - 2.
        if (next < k_tiles) decode_tile(next, next % kStages);
        wait<1>();
        wgmma::pin(acc);
    }
    wait<0>();
    wgmma::pin(acc);
    mma::cp_async_wait<0>();

    // Accumulator j * 4 + r of a thread: row 16 warp + lane / 4 (+ 8 for r >= 2), column
    // 8 j + 2 (lane % 4) (+ 1 for odd r), within its warpgroup's 64 x 256 tile.
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) {
        const int col = n0 + j * 8 + 2 * t;
        if (col >= p.n) continue;
        const bool two = col + 1 < p.n;
        const float2 b = mma::bias_pair(p.bias, col, two);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = m0 + wg * 64 + warp * 16 + g + 8 * h;
            if (row >= p.m) continue;
            mma::store_pair(p.y + static_cast<int64_t>(row) * p.y_stride + col, acc[j * 4 + 2 * h] + b.x,
                            acc[j * 4 + 2 * h + 1] + b.y, two, p.accumulate != 0);
        }
    }
#endif
}

template <int WT>
ember_status launch(const GemmParams& p, cudaStream_t stream, std::string* error) {
    auto kernel = gemm_wgmma_kernel<WT>;
    EMBER_CU_TRY(allow_smem(reinterpret_cast<const void*>(kernel), wgmma::kSmemBytes, "matmul (wgmma)", error));
    const dim3 grid(static_cast<unsigned>(ceil_div(p.n, wgmma::kBN)), static_cast<unsigned>(ceil_div(p.m, wgmma::kBM)));
    kernel<<<grid, wgmma::kThreads, wgmma::kSmemBytes, stream>>>(p);
    return launched("matmul (wgmma)", error);
}

}  // namespace

bool matmul_wgmma_applies(const MatmulArgs& a) {
    const int32_t wt = a.w.dtype;
    if (wt != EMBER_DTYPE_BF16 && wt != EMBER_DTYPE_Q8_0 && wt != EMBER_DTYPE_Q4_K && wt != EMBER_DTYPE_Q6_K) return false;
    if (a.x.dtype != EMBER_DTYPE_BF16 || a.y.dtype != EMBER_DTYPE_BF16) return false;
    const int64_t m = a.x.rows, n = a.w.n, k = a.w.k;
    if (m <= 0 || n <= 0 || m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff || k % wgmma::kBK != 0) return false;
    if (ceil_div(m, wgmma::kBM) > kMaxGridY) return false;
    if (!aligned_to(a.x.data, 16) || a.x.stride % 8 != 0 || !aligned_to(a.w.data, 16)) return false;
    if (!aligned_to(a.y.data, 4) || a.y.stride % 2 != 0) return false;
    return compute_capability() == 90;  // sm_90a machine code runs on 9.0 only
}

ember_status matmul_wgmma(const MatmulArgs& a, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(matmul_wgmma_applies(a), "matmul: the wgmma path does not apply to these operands");
    const GemmParams p = gemm_params(a);
    switch (a.w.dtype) {
        case EMBER_DTYPE_BF16: return launch<EMBER_DTYPE_BF16>(p, stream, error);
        case EMBER_DTYPE_Q8_0: return launch<EMBER_DTYPE_Q8_0>(p, stream, error);
        case EMBER_DTYPE_Q4_K: return launch<EMBER_DTYPE_Q4_K>(p, stream, error);
        case EMBER_DTYPE_Q6_K: return launch<EMBER_DTYPE_Q6_K>(p, stream, error);
        default: return fail(EMBER_ERR_INTERNAL, "matmul_wgmma: weight type slipped past the check", error);
    }
}

}  // namespace ember::cuda
