// Flash attention forward on tensor cores (bf16 in and out, f32 softmax and accumulators),
// FlashAttention-2's structure (Dao, "FlashAttention-2", 2023; flash-attention's
// csrc/flash_attn/src/flash_fwd_kernel.h) written for mma.sync m16n8k16 without CUTLASS.
//
// One block = one tile of BM = 128 queries of one head of one sequence; 4 warps of 32 query rows
// (two m16 tiles each). Key / value tiles of BN = 64 rows (32 at head_dim 128, flash_key_tile)
// stream through shared memory:
//   prologue   cp.async Q tile and K tile 0
//   main loop  for key tile j:
//                wait K_j; start V_j
//                S = Q K_j^T           (Q fragments read from shared memory per tile)
//                mask (keys past the sequence; causal: key > query), online softmax in f32:
//                m' = max(m, rowmax S), P = exp2((S - m') scale log2 e), l = l e^(m - m') + sum P,
//                O *= e^(m - m')
//                wait V_j; start K_{j+1}
//                O += P V_j            (P re-used from the S accumulators as A fragments, bf16)
//   epilogue   O / l, rounded to bf16, staged through the warp's Q rows for 16-byte stores.
// The V load overlaps the S math and the next K load overlaps the P V math (FA2's schedule with
// single K and V buffers). Rows of D + 8 elements keep ldmatrix conflict-free (see matmul_tc.cu).
// Fully masked rows cannot occur for rows that are stored: key 0 is visible to every query.
//
// Why 32 rows per warp: shared memory bandwidth. An ldmatrix.x4 moves 512 bytes (4 clocks of an
// SM's 128 bytes per clock) and a K or V fragment from it fed two m16n8k16 MMAs (~3 clocks of
// mma.sync on Hopper) when a warp had 16 rows; with 32 rows it feeds four, as in FA2's 128-query
// tiles. Q fragments are re-read per key tile (FA2 does too at these sizes: two m16 tiles of Q in
// registers next to the 32-row O accumulators would spill).
//
// SelfExtend (the SE instances): every score kind has its own Q and K tiles in shared memory
// (ordinary, grouped past, and for bidirectional attention grouped future). A key tile loads the
// K tiles of the kinds the block's queries meet in it (tile_score_kinds, exact); each warp
// computes S once per kind its own rows meet, straight into S when that is one kind (a tile
// wholly inside or beyond the window: the plain kernel's work), else into a second accumulator
// whose pairs of that kind are copied over. Only the few tiles on the window's edge cost two or
// three products. These instances keep 64-query blocks of 16 rows per warp (kFlashSeBlockRows).
//
// Shared memory at head_dim 128: 51 KB (85 / 119 KB with SelfExtend, causal / bidirectional).
// The 16-rows-per-warp version of this kernel reached 0.42-0.49x of PyTorch SDPA on an H200
// (BENCHMARKS.md); a wgmma / TMA path for sm_90a is the known next step (FlashAttention-3).
#include <type_traits>

#include "attention.cuh"
#include "mma.cuh"

namespace ember::cuda {
namespace {

constexpr int kWarps = 4, kThreads = kWarps * 32;

// Score kinds with their own Q / K tiles: 1 without SelfExtend, 2 causal, 3 bidirectional.
__host__ __device__ constexpr int flash_kinds(bool causal, bool self_extend) { return self_extend ? (causal ? 2 : 3) : 1; }

// Query rows per warp: 16 x MT. Two m16 tiles per warp (FA2's 128-query blocks) make each K and V
// fragment read from shared memory feed two MMAs; SelfExtend keeps one (its extra Q and K tiles per
// kind would not fit twice, and its edge tiles cost per warp).
__host__ __device__ constexpr int flash_row_tiles(bool self_extend) { return self_extend ? 1 : 2; }
__host__ __device__ constexpr int flash_block_rows(bool self_extend) { return kWarps * 16 * flash_row_tiles(self_extend); }

// Keys per tile: 32 at head_dim 128 with 32-row warps, where 64 would spill registers (ptxas:
// 255 registers and a spilled stack at 64, 244 and none at 32; FA2 picks 128 x 32 tiles there on
// sm86 / sm89 for the same reason), else 64.
__host__ __device__ constexpr int flash_key_tile(int d, bool self_extend) {
    return !self_extend && d == 128 ? 32 : kFlashKeyTile;
}

// Q and K tiles per kind, one V tile.
constexpr size_t flash_smem_bytes(int d, bool causal, bool self_extend) {
    const int bn = flash_key_tile(d, self_extend);
    return static_cast<size_t>(flash_kinds(causal, self_extend) * (flash_block_rows(self_extend) + bn) + bn) * (d + 8) *
           sizeof(bf16);
}
static_assert(flash_block_rows(true) == kFlashSeBlockRows && kFlashSeBlockRows == kWarps * kFlashSeWarpRows &&
                  flash_key_tile(64, true) == kFlashKeyTile && flash_key_tile(128, true) == kFlashKeyTile,
              "the tiling flash_tile_kinds is tested with");

template <int D, bool CAUSAL, bool SE>
__global__ void __launch_bounds__(kThreads) flash_fwd_kernel(const FlashParams p) {
    constexpr int MT = flash_row_tiles(SE);  // m16 tiles per warp
    constexpr int BM = flash_block_rows(SE), kWarpRows = 16 * MT, kBN = flash_key_tile(D, SE);
    constexpr int kLds = D + 8;
    constexpr int KD = D / 16;     // k16 steps over head_dim for S = Q K^T
    constexpr int ND = D / 8;      // n8 tiles over head_dim for O
    constexpr int NN = kBN / 8;    // n8 tiles over the keys for S
    constexpr int KK = kBN / 16;   // k16 steps over the keys for O += P V
    constexpr int kChunks = D / 8; // 16-byte chunks per row
    constexpr int kKinds = flash_kinds(CAUSAL, SE);
    static_assert(D % 16 == 0 && BM == kWarps * kWarpRows, "tile shape");

    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16* const Qs = reinterpret_cast<bf16*>(smem_raw);  // kind c: Qs + c * BM * kLds
    bf16* const Ks = Qs + kKinds * BM * kLds;            // kind c: Ks + c * kBN * kLds
    bf16* const Vs = Ks + kKinds * kBN * kLds;

    const QueryBlock qb = query_block<CAUSAL>(p.cu_seqlens, BM);
    const int start = qb.start, len = qb.len, m0 = qb.m0, head = blockIdx.y;
    if (m0 >= len) return;  // uniform for the block, before any barrier
    const int kv_head = head / p.group;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const float scale_log2 = length_scaled(p.scale_log2, len, p.length_base);
    const int g = lane >> 2, t = lane & 3;

    const bf16* vg = p.v + static_cast<int64_t>(start) * p.v_stride + static_cast<int64_t>(kv_head) * D;

    // ROWS rows from row r0 of a [token][D] matrix into a shared tile; rows past the sequence are
    // zero-filled (their scores are masked, and a zero V row keeps 0 * V finite).
    auto load_tile = [&](auto rows_tag, bf16* dst, const bf16* src, int64_t stride, int r0) {
        constexpr int ROWS = decltype(rows_tag)::value;
        static_assert(ROWS * kChunks % kThreads == 0, "whole chunks per thread");
#pragma unroll
        for (int i = 0; i < ROWS * kChunks / kThreads; ++i) {
            const int c = tid + i * kThreads;
            const int r = c / kChunks, col = (c % kChunks) * 8;
            const bool ok = r0 + r < len;
            const bf16* s = ok ? src + static_cast<int64_t>(r0 + r) * stride + col : src;
            mma::cp_async16(dst + r * kLds + col, s, ok);
        }
    };
    using QRows = std::integral_constant<int, BM>;
    using KRows = std::integral_constant<int, kBN>;

    const int kv_end = CAUSAL ? min(len, m0 + BM) : len;
    const int n_blocks = (kv_end + kBN - 1) / kBN;
    const int wrow0 = m0 + warp * kWarpRows;  // this warp's first row; thread rows wrow0 + 16 mt + g (+ 8)

    // Score kinds of queries [q0, q0 + rows) against key tile j (kind c: bit c; flash_tile_kinds).
    // Rows past the sequence (computed, never stored) may take any loaded product, or none.
    auto kinds_of = [&](int q0, int rows, int j) -> int {
        if constexpr (!SE) {
            return 1;
        } else {
            return flash_tile_kinds(p.window, CAUSAL, len, kv_end, q0, rows, j * kBN, kBN);
        }
    };
    // K tiles of the kinds in `kinds` for key tile j.
    auto load_k = [&](int kinds, int j) {
#pragma unroll
        for (int c = 0; c < kKinds; ++c)
            if (kinds & (1 << c))
                load_tile(KRows{}, Ks + c * kBN * kLds,
                          p.k[c] + static_cast<int64_t>(start) * p.k_stride[c] + static_cast<int64_t>(kv_head) * D,
                          p.k_stride[c], j * kBN);
    };

    // --- prologue ----------------------------------------------------------------------------
#pragma unroll
    for (int c = 0; c < kKinds; ++c)
        load_tile(QRows{}, Qs + c * BM * kLds,
                  p.q[c] + static_cast<int64_t>(start) * p.q_stride[c] + static_cast<int64_t>(head) * D, p.q_stride[c], m0);
    load_k(kinds_of(m0, BM, 0), 0);
    mma::cp_async_commit();

    float o[MT][ND][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int i = 0; i < ND; ++i) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
    float row_m[MT][2], row_l[MT][2];  // row_l: partial sums over this thread's columns, reduced at the end
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
        row_m[mt][0] = row_m[mt][1] = -INFINITY;
        row_l[mt][0] = row_l[mt][1] = 0.0f;
    }

    // acc = Q K^T for this warp's rows: Q from tile qt, K from tile kt (one ldmatrix of K feeds MT
    // MMAs). Q fragments are read per key tile, as FA2 does at these tile sizes.
    auto qk = [&](float (&acc)[MT][NN][4], const bf16* qt, const bf16* kt) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int i = 0; i < NN; ++i) acc[mt][i][0] = acc[mt][i][1] = acc[mt][i][2] = acc[mt][i][3] = 0.0f;
#pragma unroll
        for (int kd = 0; kd < KD; ++kd) {
            uint32_t a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
                mma::ldmatrix_x4(a[mt], qt + (warp * kWarpRows + mt * 16 + mma::a_lane_row(lane)) * kLds + kd * 16 +
                                            mma::a_lane_col(lane));
#pragma unroll
            for (int nn = 0; nn < NN / 2; ++nn) {
                uint32_t r4[4];
                mma::ldmatrix_x4(r4, kt + (nn * 16 + mma::bnk_lane_row(lane)) * kLds + kd * 16 + mma::bnk_lane_col(lane));
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    mma::mma_bf16(acc[mt][2 * nn], a[mt], r4[0], r4[1]);
                    mma::mma_bf16(acc[mt][2 * nn + 1], a[mt], r4[2], r4[3]);
                }
            }
        }
    };
    // The query row and key of accumulator element e of n8 tile nn in m16 tile mt.
    auto row_of = [&](int mt, int e) { return wrow0 + mt * 16 + g + 8 * (e >> 1); };
    auto key_of = [&](int n0, int nn, int e) { return n0 + nn * 8 + 2 * t + (e & 1); };

    // --- main loop ---------------------------------------------------------------------------
    for (int j = 0; j < n_blocks; ++j) {
        mma::cp_async_wait<0>();
        __syncthreads();  // K_j (and Q) visible to all; every warp is done with V_{j-1}
        load_tile(KRows{}, Vs, vg, p.v_stride, j * kBN);
        mma::cp_async_commit();

        float s[MT][NN][4];
        const int n0 = j * kBN;
        if constexpr (!SE) {
            qk(s, Qs, Ks);
        } else {
            // This warp's kinds (a subset of the block's, whose K tiles are loaded); uniform per warp.
            const int wk = kinds_of(wrow0, kWarpRows, j);
            if (wk != 0 && (wk & (wk - 1)) == 0) {  // one kind: every pair of these rows is of it
                const int c = wk == kScorePast ? 1 : wk == kScoreFuture ? 2 : 0;
                qk(s, Qs + c * BM * kLds, Ks + c * kBN * kLds);
            } else {
#pragma unroll
                for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                    for (int i = 0; i < NN; ++i) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.0f;
#pragma unroll
                for (int c = 0; c < kKinds; ++c) {
                    if (!(wk & (1 << c))) continue;
                    float sc[MT][NN][4];
                    qk(sc, Qs + c * BM * kLds, Ks + c * kBN * kLds);
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                        for (int nn = 0; nn < NN; ++nn)
#pragma unroll
                            for (int e = 0; e < 4; ++e)
                                if (score_kind(row_of(mt, e), key_of(n0, nn, e), p.window) == (1 << c))
                                    s[mt][nn][e] = sc[mt][nn][e];
                }
            }
        }

        // Mask: keys past the sequence, and (causal) keys after the query.
        if (n0 + kBN > len || (CAUSAL && n0 + kBN - 1 > wrow0)) {
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int nn = 0; nn < NN; ++nn)
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int key = key_of(n0, nn, e);
                        if (key >= len || (CAUSAL && key > row_of(mt, e))) s[mt][nn][e] = -INFINITY;
                    }
        }

        // Online softmax (in m16 tile mt: row wrow0 + 16 mt + g -> r = 0, + 8 -> r = 1; a row's
        // kBN scores live in the 4 threads of a quad).
        uint32_t pa[MT][KK][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
            float mx[2] = {row_m[mt][0], row_m[mt][1]};
#pragma unroll
            for (int nn = 0; nn < NN; ++nn) {
                mx[0] = fmaxf(mx[0], fmaxf(s[mt][nn][0], s[mt][nn][1]));
                mx[1] = fmaxf(mx[1], fmaxf(s[mt][nn][2], s[mt][nn][3]));
            }
            float base[2], corr[2];
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                // The max's change is taken before scaling, as FlashAttention does: the correction is
                // exactly 1 when the max did not move (a product minus its own rounded value, which
                // nvcc contracts to an FMA, is not 0), so a tile that adds nothing to a row leaves it
                // bit for bit; 0 while row_m is -inf.
                const float m_new = mx[r] == -INFINITY ? 0.0f : mx[r];
                base[r] = m_new * scale_log2;
                corr[r] = exp2f((row_m[mt][r] - m_new) * scale_log2);
                row_m[mt][r] = mx[r];
            }
            float rs[2] = {0.0f, 0.0f};
#pragma unroll
            for (int nn = 0; nn < NN; ++nn) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int r = e >> 1;
                    s[mt][nn][e] = exp2f(fmaf(s[mt][nn][e], scale_log2, -base[r]));  // masked: exp2(-inf) = 0
                    rs[r] += s[mt][nn][e];
                }
            }
#pragma unroll
            for (int r = 0; r < 2; ++r) row_l[mt][r] = row_l[mt][r] * corr[r] + rs[r];
#pragma unroll
            for (int i = 0; i < ND; ++i) {
                o[mt][i][0] *= corr[0];
                o[mt][i][1] *= corr[0];
                o[mt][i][2] *= corr[1];
                o[mt][i][3] *= corr[1];
            }

            // P as A fragments: the accumulator layout of n8 tiles 2kk, 2kk + 1 is the A layout of
            // the k16 step kk (a0 = row g cols 2t.., a1 = row g+8, a2 = row g cols 8+2t.., a3 = row g+8).
#pragma unroll
            for (int kk = 0; kk < KK; ++kk) {
                pa[mt][kk][0] = mma::pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                pa[mt][kk][1] = mma::pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                pa[mt][kk][2] = mma::pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                pa[mt][kk][3] = mma::pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
        }

        mma::cp_async_wait<0>();
        __syncthreads();  // V_j visible; every warp is done reading K_j
        if (j + 1 < n_blocks) load_k(kinds_of(m0, BM, j + 1), j + 1);
        mma::cp_async_commit();

        // O += P V_j (one ldmatrix of V feeds MT MMAs)
#pragma unroll
        for (int kk = 0; kk < KK; ++kk) {
#pragma unroll
            for (int dn = 0; dn < ND / 2; ++dn) {
                uint32_t r4[4];
                mma::ldmatrix_x4_trans(r4, Vs + (kk * 16 + mma::bkn_lane_row(lane)) * kLds + dn * 16 + mma::bkn_lane_col(lane));
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    mma::mma_bf16(o[mt][2 * dn], pa[mt][kk], r4[0], r4[1]);
                    mma::mma_bf16(o[mt][2 * dn + 1], pa[mt][kk], r4[2], r4[3]);
                }
            }
        }
    }
    mma::cp_async_wait<0>();

    // --- epilogue ----------------------------------------------------------------------------
    // Stage the warp's kWarpRows x D output in its own (ordinary) Q rows (only this warp ever read
    // them), then 16-byte stores.
    bf16* stage = Qs + warp * kWarpRows * kLds;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
        float inv[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float l = row_l[mt][r];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            inv[r] = l > 0.0f ? 1.0f / l : 0.0f;
        }
        bf16* st = stage + mt * 16 * kLds;
#pragma unroll
        for (int i = 0; i < ND; ++i) {
            *reinterpret_cast<uint32_t*>(st + g * kLds + i * 8 + 2 * t) =
                mma::pack_bf16(o[mt][i][0] * inv[0], o[mt][i][1] * inv[0]);
            *reinterpret_cast<uint32_t*>(st + (g + 8) * kLds + i * 8 + 2 * t) =
                mma::pack_bf16(o[mt][i][2] * inv[1], o[mt][i][3] * inv[1]);
        }
    }
    __syncwarp();
    bf16* og = p.o + static_cast<int64_t>(start) * p.o_stride + static_cast<int64_t>(head) * D;
#pragma unroll
    for (int i = 0; i < kWarpRows * kChunks / 32; ++i) {
        const int c = lane + i * 32;
        const int r = c / kChunks, col = (c % kChunks) * 8;
        const int row = wrow0 + r;
        if (row < len)
            *reinterpret_cast<uint4*>(og + static_cast<int64_t>(row) * p.o_stride + col) =
                *reinterpret_cast<const uint4*>(stage + r * kLds + col);
    }
}

template <int D, bool CAUSAL, bool SE>
ember_status launch_flash(const FlashParams& p, const Seqs& seqs, int n_heads, cudaStream_t stream, std::string* error) {
    auto kernel = flash_fwd_kernel<D, CAUSAL, SE>;
    constexpr size_t smem = flash_smem_bytes(D, CAUSAL, SE);
    EMBER_CU_TRY(allow_smem(reinterpret_cast<const void*>(kernel), smem, "attention (flash)", error));
    const unsigned m_blocks = static_cast<unsigned>(ceil_div(seqs.max_len, flash_block_rows(SE)));
    return launch_sequence_chunks(seqs, m_blocks, n_heads, [&](const int32_t* cu_seqlens, dim3 grid) {
        FlashParams q = p;
        q.cu_seqlens = cu_seqlens;
        kernel<<<grid, kThreads, smem, stream>>>(q);
        return launched("attention (flash)", error);
    });
}

template <int D>
ember_status launch_flash(const FlashParams& p, bool causal, bool self_extend, const Seqs& seqs, int n_heads,
                          cudaStream_t stream, std::string* error) {
    if (self_extend)
        return causal ? launch_flash<D, true, true>(p, seqs, n_heads, stream, error)
                      : launch_flash<D, false, true>(p, seqs, n_heads, stream, error);
    return causal ? launch_flash<D, true, false>(p, seqs, n_heads, stream, error)
                  : launch_flash<D, false, false>(p, seqs, n_heads, stream, error);
}

}  // namespace

FlashParams flash_params(const AttentionArgs& a) {
    FlashParams p{};
    const bool se = a.self_extend_window > 0;
    const Tensor* qs[3] = {&a.q, &a.q_group, &a.q_group_future};
    const Tensor* ks[3] = {&a.k, &a.k_group, &a.k_group_future};
    for (int c = 0; c < flash_kinds(a.causal, se); ++c) {
        p.q[c] = static_cast<const bf16*>(qs[c]->data);
        p.k[c] = static_cast<const bf16*>(ks[c]->data);
        p.q_stride[c] = qs[c]->stride;
        p.k_stride[c] = ks[c]->stride;
    }
    p.v = static_cast<const bf16*>(a.v.data);
    p.o = static_cast<bf16*>(a.out.data);
    p.v_stride = a.v.stride;
    p.o_stride = a.out.stride;
    p.cu_seqlens = a.seqs.cu_seqlens;
    p.group = a.n_heads / a.n_kv_heads;
    p.scale_log2 = a.scale * 1.4426950408889634f;
    p.length_base = a.length_scaling_base;
    p.window = a.self_extend_window;
    return p;
}

bool attention_flash_applies(const AttentionArgs& a) {
    if (a.head_dim != 64 && a.head_dim != 128) return false;
    if (a.n_heads > 65535 || a.seqs.max_len > (int64_t(1) << 30)) return false;
    for (const Tensor* t : {&a.q, &a.k, &a.v, &a.out})
        if (!bf16_rows_16b(*t)) return false;
    if (a.self_extend_window > 0) {
        // The grouped operands, and shared memory for a Q and a K tile per score kind.
        for (const Tensor* t : {&a.q_group, &a.k_group})
            if (!bf16_rows_16b(*t)) return false;
        if (!a.causal)
            for (const Tensor* t : {&a.q_group_future, &a.k_group_future})
                if (!bf16_rows_16b(*t)) return false;
        if (flash_smem_bytes(a.head_dim, a.causal, true) > smem_optin_limit()) return false;
    }
    return true;
}

ember_status attention_flash(const AttentionArgs& a, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(attention_flash_applies(a), "attention: the flash path does not apply to these operands");
    const FlashParams p = flash_params(a);
    const bool se = a.self_extend_window > 0;
    return a.head_dim == 64 ? launch_flash<64>(p, a.causal, se, a.seqs, a.n_heads, stream, error)
                            : launch_flash<128>(p, a.causal, se, a.seqs, a.n_heads, stream, error);
}

}  // namespace ember::cuda
