// Flash attention forward on tensor cores (bf16 in and out, f32 softmax and accumulators),
// FlashAttention-2's structure (Dao, "FlashAttention-2", 2023; flash-attention's
// csrc/flash_attn/src/flash_fwd_kernel.h) written for mma.sync m16n8k16 without CUTLASS.
//
// One block = one tile of BM = 64 queries of one head of one sequence; 4 warps, 16 query rows
// each. Key / value tiles of BN = 64 rows stream through shared memory:
//   prologue   cp.async Q tile and K tile 0
//   main loop  for key tile j:
//                wait K_j; start V_j
//                S = Q K_j^T           (Q fragments held in registers since j = 0)
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
// SelfExtend (the SE instances): every score kind has its own Q and K tiles in shared memory
// (ordinary, grouped past, and for bidirectional attention grouped future). A key tile loads the
// K tiles of the kinds the block's 64 queries meet in it (tile_score_kinds, exact); each warp
// computes S once per kind its own 16 rows meet, straight into S when that is one kind (a tile
// wholly inside or beyond the window: the plain kernel's work), else into a second accumulator
// whose pairs of that kind are copied over. Only the few tiles on the window's edge cost two or
// three products. Q fragments come from shared memory per tile here (three sets would not fit in
// registers).
//
// Tuning: BM = BN = 64 with 4 warps, as FA2 uses for head_dim 64 / 128 forward on sm80; 52 KB of
// shared memory at head_dim 128 (85 / 119 KB with SelfExtend, causal / bidirectional). On an H200
// this reaches 0.42-0.49x of PyTorch SDPA (BENCHMARKS.md); a wgmma / TMA path for sm_90a is the
// known next step (FlashAttention-3).
#include "attention.cuh"
#include "mma.cuh"

namespace ember::cuda {
namespace {

struct FlashParams {
    // Q and K of each score kind (0 ordinary, 1 grouped past, 2 grouped future; 1 and 2 only
    // with SelfExtend) and their row strides.
    const bf16* q[3];
    const bf16* k[3];
    int64_t q_stride[3], k_stride[3];
    const bf16* v;
    bf16* o;
    int64_t v_stride, o_stride;
    const int32_t* cu_seqlens;
    int group;         // query heads per kv head
    float scale_log2;  // scale * log2(e)
    int length_base;   // > 1: LongEmbed's scale x max(log_base(len), 1)
    int window;        // SelfExtend's window (SE instances only)
};

constexpr int kBM = 64, kBN = 64, kWarps = 4, kThreads = kWarps * 32;

// Score kinds with their own Q / K tiles: 1 without SelfExtend, 2 causal, 3 bidirectional.
__host__ __device__ constexpr int flash_kinds(bool causal, bool self_extend) { return self_extend ? (causal ? 2 : 3) : 1; }

// Q and K tiles per kind, one V tile.
constexpr size_t flash_smem_bytes(int d, int kinds) {
    return static_cast<size_t>(kinds * (kBM + kBN) + kBN) * (d + 8) * sizeof(bf16);
}

template <int D, bool CAUSAL, bool SE>
__global__ void __launch_bounds__(kThreads) flash_fwd_kernel(const FlashParams p) {
    constexpr int kLds = D + 8;
    constexpr int KD = D / 16;     // k16 steps over head_dim for S = Q K^T
    constexpr int ND = D / 8;      // n8 tiles over head_dim for O
    constexpr int NN = kBN / 8;    // n8 tiles over the keys for S
    constexpr int KK = kBN / 16;   // k16 steps over the keys for O += P V
    constexpr int kChunks = D / 8; // 16-byte chunks per row
    constexpr int kKinds = flash_kinds(CAUSAL, SE);
    static_assert(D % 16 == 0 && kBM == kWarps * 16, "tile shape");

    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16* const Qs = reinterpret_cast<bf16*>(smem_raw);  // kind c: Qs + c * kBM * kLds
    bf16* const Ks = Qs + kKinds * kBM * kLds;           // kind c: Ks + c * kBN * kLds
    bf16* const Vs = Ks + kKinds * kBN * kLds;

    const int seq = blockIdx.z, head = blockIdx.y;
    const int start = p.cu_seqlens[seq], len = p.cu_seqlens[seq + 1] - start;
    // Causal: the longest tiles (most keys) first, for a better tail.
    const int m_block = CAUSAL ? static_cast<int>(gridDim.x) - 1 - static_cast<int>(blockIdx.x) : blockIdx.x;
    const int m0 = m_block * kBM;
    if (m0 >= len) return;  // uniform for the block, before any barrier
    const int kv_head = head / p.group;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const float scale_log2 =
        p.length_base > 1 && len > 1 ? p.scale_log2 * fmaxf(logf(float(len)) / logf(float(p.length_base)), 1.0f) : p.scale_log2;
    const int g = lane >> 2, t = lane & 3;

    const bf16* vg = p.v + static_cast<int64_t>(start) * p.v_stride + static_cast<int64_t>(kv_head) * D;

    // 64 rows from row r0 of a [token][D] matrix into a shared tile; rows past the sequence are
    // zero-filled (their scores are masked, and a zero V row keeps 0 * V finite).
    auto load_tile = [&](bf16* dst, const bf16* src, int64_t stride, int r0) {
#pragma unroll
        for (int i = 0; i < 64 * kChunks / kThreads; ++i) {
            const int c = tid + i * kThreads;
            const int r = c / kChunks, col = (c % kChunks) * 8;
            const bool ok = r0 + r < len;
            const bf16* s = ok ? src + static_cast<int64_t>(r0 + r) * stride + col : src;
            mma::cp_async16(dst + r * kLds + col, s, ok);
        }
    };

    const int kv_end = CAUSAL ? min(len, m0 + kBM) : len;
    const int n_blocks = (kv_end + kBN - 1) / kBN;
    const int row0 = m0 + warp * 16 + g;  // this thread's rows: row0 and row0 + 8

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
                load_tile(Ks + c * kBN * kLds,
                          p.k[c] + static_cast<int64_t>(start) * p.k_stride[c] + static_cast<int64_t>(kv_head) * D,
                          p.k_stride[c], j * kBN);
    };

    // --- prologue ----------------------------------------------------------------------------
#pragma unroll
    for (int c = 0; c < kKinds; ++c)
        load_tile(Qs + c * kBM * kLds, p.q[c] + static_cast<int64_t>(start) * p.q_stride[c] + static_cast<int64_t>(head) * D,
                  p.q_stride[c], m0);
    load_k(kinds_of(m0, kBM, 0), 0);
    mma::cp_async_commit();

    float o[ND][4];
#pragma unroll
    for (int i = 0; i < ND; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float row_m[2] = {-INFINITY, -INFINITY};
    float row_l[2] = {0.0f, 0.0f};  // partial sums over this thread's columns; reduced at the end
    uint32_t qf[SE ? 1 : KD][4];  // SelfExtend reads Q fragments from shared memory per tile

    // --- main loop ---------------------------------------------------------------------------
    for (int j = 0; j < n_blocks; ++j) {
        mma::cp_async_wait<0>();
        __syncthreads();  // K_j (and Q) visible to all; every warp is done with V_{j-1}
        load_tile(Vs, vg, p.v_stride, j * kBN);
        mma::cp_async_commit();

        // acc = Q K^T: Q from tile qt (SelfExtend) or the registers qf, K from tile kt.
        auto qk = [&](float (&acc)[NN][4], const bf16* qt, const bf16* kt) {
#pragma unroll
            for (int i = 0; i < NN; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.0f;
#pragma unroll
            for (int kd = 0; kd < KD; ++kd) {
                uint32_t a[4];
                if constexpr (SE) {
                    mma::ldmatrix_x4(a, qt + (warp * 16 + mma::a_lane_row(lane)) * kLds + kd * 16 + mma::a_lane_col(lane));
                } else {
                    a[0] = qf[kd][0];
                    a[1] = qf[kd][1];
                    a[2] = qf[kd][2];
                    a[3] = qf[kd][3];
                }
#pragma unroll
                for (int nn = 0; nn < NN / 2; ++nn) {
                    uint32_t r4[4];
                    mma::ldmatrix_x4(r4, kt + (nn * 16 + mma::bnk_lane_row(lane)) * kLds + kd * 16 + mma::bnk_lane_col(lane));
                    mma::mma_bf16(acc[2 * nn], a, r4[0], r4[1]);
                    mma::mma_bf16(acc[2 * nn + 1], a, r4[2], r4[3]);
                }
            }
        };

        if constexpr (!SE) {
            if (j == 0) {
#pragma unroll
                for (int kd = 0; kd < KD; ++kd)
                    mma::ldmatrix_x4(qf[kd], Qs + (warp * 16 + mma::a_lane_row(lane)) * kLds + kd * 16 + mma::a_lane_col(lane));
            }
        }
        float s[NN][4];
        const int n0 = j * kBN;
        if constexpr (!SE) {
            qk(s, Qs, Ks);
        } else {
            // This warp's kinds (a subset of the block's, whose K tiles are loaded); uniform per warp.
            const int wk = kinds_of(m0 + warp * 16, 16, j);
            if (wk != 0 && (wk & (wk - 1)) == 0) {  // one kind: every pair of these rows is of it
                const int c = wk == kScorePast ? 1 : wk == kScoreFuture ? 2 : 0;
                qk(s, Qs + c * kBM * kLds, Ks + c * kBN * kLds);
            } else {
#pragma unroll
                for (int i = 0; i < NN; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
                for (int c = 0; c < kKinds; ++c) {
                    if (!(wk & (1 << c))) continue;
                    float sc[NN][4];
                    qk(sc, Qs + c * kBM * kLds, Ks + c * kBN * kLds);
#pragma unroll
                    for (int nn = 0; nn < NN; ++nn) {
#pragma unroll
                        for (int e = 0; e < 4; ++e) {
                            const int key = n0 + nn * 8 + 2 * t + (e & 1);
                            const int row = row0 + 8 * (e >> 1);
                            if (score_kind(row, key, p.window) == (1 << c)) s[nn][e] = sc[nn][e];
                        }
                    }
                }
            }
        }

        // Mask: keys past the sequence, and (causal) keys after the query.
        if (n0 + kBN > len || (CAUSAL && n0 + kBN - 1 > m0 + warp * 16)) {
#pragma unroll
            for (int nn = 0; nn < NN; ++nn) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int key = n0 + nn * 8 + 2 * t + (e & 1);
                    const int row = row0 + 8 * (e >> 1);
                    if (key >= len || (CAUSAL && key > row)) s[nn][e] = -INFINITY;
                }
            }
        }

        // Online softmax (rows row0 -> r = 0, row0 + 8 -> r = 1; a row's 64 scores live in the
        // 4 threads of a quad).
        float mx[2] = {row_m[0], row_m[1]};
#pragma unroll
        for (int nn = 0; nn < NN; ++nn) {
            mx[0] = fmaxf(mx[0], fmaxf(s[nn][0], s[nn][1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[nn][2], s[nn][3]));
        }
        float base[2], corr[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            base[r] = mx[r] == -INFINITY ? 0.0f : mx[r] * scale_log2;
            corr[r] = exp2f(row_m[r] * scale_log2 - base[r]);  // 0 while row_m is -inf
            row_m[r] = mx[r];
        }
        float rs[2] = {0.0f, 0.0f};
#pragma unroll
        for (int nn = 0; nn < NN; ++nn) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int r = e >> 1;
                s[nn][e] = exp2f(fmaf(s[nn][e], scale_log2, -base[r]));  // masked: exp2(-inf) = 0
                rs[r] += s[nn][e];
            }
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) row_l[r] = row_l[r] * corr[r] + rs[r];
#pragma unroll
        for (int i = 0; i < ND; ++i) {
            o[i][0] *= corr[0];
            o[i][1] *= corr[0];
            o[i][2] *= corr[1];
            o[i][3] *= corr[1];
        }

        // P as A fragments: the accumulator layout of n8 tiles 2kk, 2kk + 1 is the A layout of
        // the k16 step kk (a0 = row g cols 2t.., a1 = row g+8, a2 = row g cols 8+2t.., a3 = row g+8).
        uint32_t pa[KK][4];
#pragma unroll
        for (int kk = 0; kk < KK; ++kk) {
            pa[kk][0] = mma::pack_bf16(s[2 * kk][0], s[2 * kk][1]);
            pa[kk][1] = mma::pack_bf16(s[2 * kk][2], s[2 * kk][3]);
            pa[kk][2] = mma::pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[kk][3] = mma::pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
        }

        mma::cp_async_wait<0>();
        __syncthreads();  // V_j visible; every warp is done reading K_j
        if (j + 1 < n_blocks) load_k(kinds_of(m0, kBM, j + 1), j + 1);
        mma::cp_async_commit();

        // O += P V_j
#pragma unroll
        for (int kk = 0; kk < KK; ++kk) {
#pragma unroll
            for (int dn = 0; dn < ND / 2; ++dn) {
                uint32_t r4[4];
                mma::ldmatrix_x4_trans(r4, Vs + (kk * 16 + mma::bkn_lane_row(lane)) * kLds + dn * 16 + mma::bkn_lane_col(lane));
                mma::mma_bf16(o[2 * dn], pa[kk], r4[0], r4[1]);
                mma::mma_bf16(o[2 * dn + 1], pa[kk], r4[2], r4[3]);
            }
        }
    }
    mma::cp_async_wait<0>();

    // --- epilogue ----------------------------------------------------------------------------
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float l = row_l[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[r] = l > 0.0f ? 1.0f / l : 0.0f;
    }
    // Stage the warp's 16 x D output in its own (ordinary) Q rows (only this warp ever read them).
    bf16* stage = Qs + warp * 16 * kLds;
#pragma unroll
    for (int i = 0; i < ND; ++i) {
        *reinterpret_cast<uint32_t*>(stage + g * kLds + i * 8 + 2 * t) = mma::pack_bf16(o[i][0] * inv[0], o[i][1] * inv[0]);
        *reinterpret_cast<uint32_t*>(stage + (g + 8) * kLds + i * 8 + 2 * t) =
            mma::pack_bf16(o[i][2] * inv[1], o[i][3] * inv[1]);
    }
    __syncwarp();
    bf16* og = p.o + static_cast<int64_t>(start) * p.o_stride + static_cast<int64_t>(head) * D;
#pragma unroll
    for (int i = 0; i < 16 * kChunks / 32; ++i) {
        const int c = lane + i * 32;
        const int r = c / kChunks, col = (c % kChunks) * 8;
        const int row = m0 + warp * 16 + r;
        if (row < len)
            *reinterpret_cast<uint4*>(og + static_cast<int64_t>(row) * p.o_stride + col) =
                *reinterpret_cast<const uint4*>(stage + r * kLds + col);
    }
}

template <int D, bool CAUSAL, bool SE>
ember_status launch_flash(const FlashParams& p, int n_seqs, int n_heads, int64_t max_len, cudaStream_t stream,
                          std::string* error) {
    auto kernel = flash_fwd_kernel<D, CAUSAL, SE>;
    constexpr size_t smem = flash_smem_bytes(D, flash_kinds(CAUSAL, SE));
    EMBER_CU_TRY(allow_smem(reinterpret_cast<const void*>(kernel), smem, "attention (flash)", error));
    const unsigned m_blocks = static_cast<unsigned>(ceil_div(max_len, kBM));
    // At most 65535 sequences per launch (grid.z): later ones in further launches.
    for (int s0 = 0; s0 < n_seqs; s0 += 65535) {
        FlashParams q = p;
        q.cu_seqlens = p.cu_seqlens + s0;
        const dim3 grid(m_blocks, static_cast<unsigned>(n_heads), static_cast<unsigned>(std::min(65535, n_seqs - s0)));
        kernel<<<grid, kThreads, smem, stream>>>(q);
        EMBER_CU_TRY(launched("attention (flash)", error));
    }
    return EMBER_OK;
}

template <int D>
ember_status launch_flash(const FlashParams& p, bool causal, bool self_extend, int n_seqs, int n_heads, int64_t max_len,
                          cudaStream_t stream, std::string* error) {
    if (self_extend)
        return causal ? launch_flash<D, true, true>(p, n_seqs, n_heads, max_len, stream, error)
                      : launch_flash<D, false, true>(p, n_seqs, n_heads, max_len, stream, error);
    return causal ? launch_flash<D, true, false>(p, n_seqs, n_heads, max_len, stream, error)
                  : launch_flash<D, false, false>(p, n_seqs, n_heads, max_len, stream, error);
}

bool flash_operand_ok(const Tensor& t) { return t.dtype == EMBER_DTYPE_BF16 && aligned_to(t.data, 16) && t.stride % 8 == 0; }

}  // namespace

bool attention_flash_applies(const AttentionArgs& a) {
    if (a.head_dim != 64 && a.head_dim != 128) return false;
    if (a.n_heads > 65535 || a.seqs.max_len > (int64_t(1) << 30)) return false;
    for (const Tensor* t : {&a.q, &a.k, &a.v, &a.out})
        if (!flash_operand_ok(*t)) return false;
    if (a.self_extend_window > 0) {
        // The grouped operands, and shared memory for a Q and a K tile per score kind.
        for (const Tensor* t : {&a.q_group, &a.k_group})
            if (!flash_operand_ok(*t)) return false;
        if (!a.causal)
            for (const Tensor* t : {&a.q_group_future, &a.k_group_future})
                if (!flash_operand_ok(*t)) return false;
        if (flash_smem_bytes(a.head_dim, flash_kinds(a.causal, true)) > smem_optin_limit()) return false;
    }
    return true;
}

ember_status attention_flash(const AttentionArgs& a, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(attention_flash_applies(a), "attention: the flash path does not apply to these operands");
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
    const int n = a.seqs.n_seqs, h = a.n_heads;
    const int64_t L = a.seqs.max_len;
    return a.head_dim == 64 ? launch_flash<64>(p, a.causal, se, n, h, L, stream, error)
                            : launch_flash<128>(p, a.causal, se, n, h, L, stream, error);
}

}  // namespace ember::cuda
