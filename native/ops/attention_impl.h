// Attention kernels as templates over the vector traits, instantiated once per ISA:
// attention.cpp (SSE2, portable), attention_avx2.cpp, attention_avx512.cpp. attention.cpp
// validates, plans the tiles and runs them on the thread pool; see ops/simd/vec.h for the rules
// that keep the per-ISA copies apart.
//
// One task is one (sequence, kv head, query tile): the bq queries of the tile for all `group`
// query heads that share the kv head, stacked as rows = group * bq rows, so each K / V tile is
// packed once for the whole GQA group. Flash-attention structure (Dao et al., "FlashAttention",
// 2022; the online softmax of Milakov & Gimelshein, 2018):
//   prologue   gather the tile's query rows; O = 0, running max m = -inf, running sum l = 0
//   main loop  for each key tile (causal: only tiles that start at or before the last query):
//                S = Q K^T (K tile packed into NR-wide panels, the matmul micro-kernel)
//                per row: scale, mask (causal: key > query; keys past the tile), new max,
//                P = exp(S - max), l = l * exp(old max - new max) + sum P, O *= that factor
//                O += P V (V tile copied, rows padded to whole panels)
//   epilogue   out = O / l
// Memory per thread: rows x (head_dim + bk + padded head_dim) plus two bk x head_dim tiles,
// whatever the sequence length.
//
// SelfExtend (ember_attention_params): RoPE is applied before attention, so a score with grouped
// positions needs q and k rotated to those positions; the caller passes them rotated (q_group,
// k_group, and for keys after the query q_group_future, k_group_future: model/decoder.cpp makes
// them with the rope op's grouped positions), and the kernel picks, per pair, which product is
// the score. A key tile is classified against the query tile: entirely inside the window (the
// ordinary product, exactly the plain kernel's work), entirely before / after it (one grouped
// product instead), or a boundary tile, which computes each product it needs into its own S
// buffer and takes each pair's score from the right one. Only boundary tiles cost extra, and
// there are a few per query tile whatever L is; no L x L buffer.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "ember/kernels.h"
#include "ops/score_kinds.h"

namespace ember {
class ThreadPool;  // declared, not included: this header reaches the SIMD files (ops/simd/vec.h)
}

namespace ember::cpu {

// Tile sizes and the layout of one task's scratch buffer (offsets in floats, each on a 64-byte
// line), decided by plan_attention() in attention.cpp.
struct AttentionPlan {
    int64_t group;  // query heads per kv head
    int64_t bq;     // queries per tile and head
    int64_t bk;     // keys per tile, a multiple of 32 (every panel width)
    int64_t dp;     // head_dim rounded up to 32: row stride of O and of the V tile
    // Scratch: Q (rows x head_dim), S (rows x bk), O (rows x dp), K panels (bk x head_dim),
    // V tile (bk x dp), running max and sum (rows each); rows = group * bq.
    int64_t q_off, s_off, o_off, k_off, v_off, m_off, l_off, scratch_floats;
    // SelfExtend only (else 0): the grouped Q tiles, and for boundary tiles a second and third
    // S and K panel buffer (past / future grouped products).
    int64_t qg_off, qf_off, s2_off, s3_off, k2_off, k3_off;
};

// The kinds among queries [q0, q1] and keys [k0, k1] of this call (ops/score_kinds.h).
inline int tile_score_kinds(const ember_attention_params& p, int64_t q0, int64_t q1, int64_t k0, int64_t k1) {
    return ember::tile_score_kinds(p.self_extend_window, p.causal != 0, q0, q1, k0, k1);
}

// The softmax scale of a sequence of `len` tokens: scale, times LongEmbed's max(log_base(len), 1)
// when length_scaling_base > 1.
inline float sequence_scale(const ember_attention_params& p, int64_t len) {
    if (p.length_scaling_base <= 1 || len <= 1) return p.scale;
    const double f = std::log(static_cast<double>(len)) / std::log(static_cast<double>(p.length_scaling_base));
    return static_cast<float>(static_cast<double>(p.scale) * (f > 1.0 ? f : 1.0));
}

struct AttentionKernels {
    const char* name;
    // Query tile [q0, q0 + bq) of sequence `seq` for the query heads of kv head `kv_head`.
    void (*tile)(const ember_attention_params& p, const AttentionPlan& plan, int32_t seq,
                 int32_t kv_head, int64_t q0, float* scratch);
};

extern const AttentionKernels kAttentionSse;
extern const AttentionKernels kAttentionAvx2;
extern const AttentionKernels kAttentionAvx512;

// attention() with a given kernel table (the caller checked the CPU runs it).
void attention_with(const ember_attention_params& p, ThreadPool& pool, const AttentionKernels& kernels);

}  // namespace ember::cpu

#ifdef EMBER_ATTENTION_INSTANTIATE  // defined by the files that instantiate the kernels

#include "ops/simd/gemm.h"
#include "ops/simd/vec_math.h"

namespace ember::cpu {
namespace {

template <class V>
struct Attention {
    using T = typename V::T;
    using G = Gemm<V>;
    static constexpr int NR = G::NR;

    static float scalar_exp(float x) { return _mm_cvtss_f32(vexp<VecSse>(_mm_set1_ps(x))); }

    // One row of scores: s = S * scale for the first `cnt` keys (cnt >= 1), the rest of the
    // tile's kn keys masked; then p = exp(s - new max) in place and the running state updated.
    // Returns the factor the row's accumulator must be rescaled by.
    static float softmax_row(float* srow, int64_t cnt, int64_t kn, float scale, float& m, float& l) {
        const int64_t cw = (cnt + V::W - 1) / V::W * V::W;  // <= bk: the buffer is that wide
        for (int64_t j = cnt; j < cw; ++j) srow[j] = -__builtin_inff();
        const T vscale = V::set1(scale);
        T vmax = V::set1(-__builtin_inff());
        for (int64_t j = 0; j < cw; j += V::W) {
            const T s = V::mul(V::load(srow + j), vscale);
            V::store(srow + j, s);
            vmax = V::max(vmax, s);
        }
        const float tile_max = V::hmax(vmax);
        const float m_new = m > tile_max ? m : tile_max;
        const float corr = scalar_exp(m - m_new);  // 0 on the first tile (m = -inf)
        const T vm = V::set1(m_new);
        T vsum = V::zero();
        for (int64_t j = 0; j < cw; j += V::W) {
            const T e = vexp<V>(V::sub(V::load(srow + j), vm));  // masked: exp(-inf) = 0
            V::store(srow + j, e);
            vsum = V::add(vsum, e);
        }
        for (int64_t j = cw; j < kn; ++j) srow[j] = 0.0f;
        l = l * corr + V::hsum(vsum);
        m = m_new;
        return corr;
    }

    // Asks for the K and V rows of the next key tile to be brought into L2 while this one is
    // computed: consecutive rows are n_kv_heads * head_dim floats apart (4 KiB for Qwen3-0.6B),
    // too far apart for the hardware prefetchers.
    static void prefetch_tile(const ember_attention_params& p, const float* k, int64_t k_stride, int64_t start,
                              int32_t kv_head, int64_t kt0, int64_t kn) {
        const int64_t d = p.head_dim;
        for (int64_t j = 0; j < kn; ++j) {
            const char* kr = reinterpret_cast<const char*>(k + (start + kt0 + j) * k_stride + kv_head * d);
            const char* vr = reinterpret_cast<const char*>(p.v + (start + kt0 + j) * p.v_stride + kv_head * d);
            for (int64_t b = 0; b < d * 4; b += 64) {
                _mm_prefetch(kr + b, _MM_HINT_T1);
                _mm_prefetch(vr + b, _MM_HINT_T1);
            }
        }
    }

    // Keys of the tile [kt0, kt0 + kn) that some row of rows [i, i + rg) sees (all of them, or
    // up to the latest query among the rows when causal; <= 0: none).
    static int64_t visible(const ember_attention_params& p, int64_t q0, int64_t nq, int64_t i, int64_t rg,
                           int64_t kt0, int64_t kn) {
        if (!p.causal) return kn;
        int64_t last = 0;
        for (int64_t r = i; r < i + rg; ++r) last = imax(last, r % nq);
        return imin(kn, q0 + last - kt0 + 1);
    }

    // The q / k operands of one score kind (SelfExtend's grouped ones for past / future keys).
    static const float* q_of(const ember_attention_params& p, int kind, int64_t& stride) {
        stride = kind == kScoreNear ? p.q_stride : kind == kScorePast ? p.q_group_stride : p.q_group_future_stride;
        return kind == kScoreNear ? p.q : kind == kScorePast ? p.q_group : p.q_group_future;
    }
    static const float* k_of(const ember_attention_params& p, int kind, int64_t& stride) {
        stride = kind == kScoreNear ? p.k_stride : kind == kScorePast ? p.k_group_stride : p.k_group_future_stride;
        return kind == kScoreNear ? p.k : kind == kScorePast ? p.k_group : p.k_group_future;
    }
    static int first_kind(int kinds) { return kinds & kScoreNear ? kScoreNear : kinds & kScorePast ? kScorePast : kScoreFuture; }

    static void tile(const ember_attention_params& p, const AttentionPlan& plan, int32_t seq,
                     int32_t kv_head, int64_t q0, float* scratch) {
        const int64_t d = p.head_dim, group = plan.group, bk = plan.bk, dp = plan.dp;
        const int64_t start = p.cu_seqlens[seq], len = p.cu_seqlens[seq + 1] - start;
        const int64_t nq = imin(plan.bq, len - q0);
        const int64_t rows = group * nq;
        const int64_t h0 = static_cast<int64_t>(kv_head) * group;  // first query head
        const int64_t dn = (d + NR - 1) / NR * NR;                  // O columns computed (<= dp)
        const bool se = p.self_extend_window > 0;
        const float scale = sequence_scale(p, len);
        float* qb = scratch + plan.q_off;
        float* sb = scratch + plan.s_off;
        float* ob = scratch + plan.o_off;
        float* kb = scratch + plan.k_off;
        float* vb = scratch + plan.v_off;
        float* mb = scratch + plan.m_off;
        float* lb = scratch + plan.l_off;
        // Per score kind: its gathered Q rows and, on boundary tiles, its own S and K panels.
        float* q_tile[5] = {};
        float* s_extra[5] = {};
        float* k_extra[5] = {};
        q_tile[kScoreNear] = qb;
        if (se) {
            q_tile[kScorePast] = scratch + plan.qg_off;
            s_extra[kScorePast] = scratch + plan.s2_off;
            k_extra[kScorePast] = scratch + plan.k2_off;
            if (!p.causal) {
                q_tile[kScoreFuture] = scratch + plan.qf_off;
                s_extra[kScoreFuture] = scratch + plan.s3_off;
                k_extra[kScoreFuture] = scratch + plan.k3_off;
            }
        }

        // Prologue: row r = h * nq + i holds query q0 + i of head h0 + h.
        for (int kind : {kScoreNear, kScorePast, kScoreFuture}) {
            if (q_tile[kind] == nullptr) continue;
            int64_t qs;
            const float* q = q_of(p, kind, qs);
            for (int64_t h = 0; h < group; ++h)
                for (int64_t i = 0; i < nq; ++i)
                    std::memcpy(q_tile[kind] + (h * nq + i) * d, q + (start + q0 + i) * qs + (h0 + h) * d,
                                static_cast<size_t>(d) * sizeof(float));
        }
        std::memset(ob, 0, static_cast<size_t>(rows * dp) * sizeof(float));
        for (int64_t r = 0; r < rows; ++r) {
            mb[r] = -__builtin_inff();
            lb[r] = 0.0f;
        }

        // S = Q K^T for one score kind into `s`, with the key tile packed into `panels`; each group
        // of kMR rows only as far as its last query sees.
        auto scores = [&](int kind, float* s, float* panels, int64_t kt0, int64_t kn) {
            int64_t ks;
            const float* k = k_of(p, kind, ks);
            const unsigned char* kbase = reinterpret_cast<const unsigned char*>(
                k + start * ks + static_cast<int64_t>(kv_head) * d);
            for (int64_t j = 0; j < kn; j += NR)
                G::template pack_panel<FmtF32>(kbase + (kt0 + j) * ks * 4, ks * 4, imin(NR, kn - j), 0, d,
                                               panels + (j / NR) * d * NR);
            const float* qk = q_tile[kind];
            for (int64_t i = 0; i < rows; i += kMR) {
                const int64_t rg = imin(kMR, rows - i), lim = visible(p, q0, nq, i, rg, kt0, kn);
                for (int64_t j = 0; j < lim; j += NR)
                    G::micro_rows(rg, d, qk + i * d, d, panels + (j / NR) * d * NR, NR, s + i * bk + j, bk, NR,
                                  false, nullptr);
            }
        };

        // Main loop over key tiles.
        const int64_t kend = p.causal ? q0 + nq : len;
        for (int64_t kt0 = 0; kt0 < kend; kt0 += bk) {
            const int64_t kn = imin(bk, kend - kt0);
            const int kinds = tile_score_kinds(p, q0, q0 + nq - 1, kt0, kt0 + kn - 1);
            const int first = first_kind(kinds);
            if (kt0 + bk < kend) {
                const int64_t nn = imin(bk, kend - kt0 - bk);
                int64_t ks;
                const float* k = k_of(p, first_kind(tile_score_kinds(p, q0, q0 + nq - 1, kt0 + bk, kt0 + bk + nn - 1)), ks);
                prefetch_tile(p, k, ks, start, kv_head, kt0 + bk, nn);
            }
            scores(first, sb, kb, kt0, kn);
            if (kinds != first) {
                // A boundary tile: the other products, then each pair's score from its kind.
                for (int kind : {kScorePast, kScoreFuture})
                    if ((kinds & kind) && kind != first) scores(kind, s_extra[kind], k_extra[kind], kt0, kn);
                const int64_t w = p.self_extend_window;
                for (int64_t r = 0; r < rows; ++r) {
                    const int64_t qpos = q0 + r % nq;
                    const int64_t cnt = p.causal ? imin(kn, qpos - kt0 + 1) : kn;
                    float* srow = sb + r * bk;
                    for (int64_t j = 0; j < cnt; ++j) {
                        const int kind = score_kind(qpos, kt0 + j, w);
                        if (kind != first) srow[j] = s_extra[kind][r * bk + j];
                    }
                }
            }

            for (int64_t r = 0; r < rows; ++r) {
                const int64_t qpos = q0 + r % nq;
                const int64_t cnt = p.causal ? imin(kn, qpos - kt0 + 1) : kn;
                float* srow = sb + r * bk;
                if (cnt <= 0) {  // every key of this tile is in this query's future
                    std::memset(srow, 0, static_cast<size_t>(kn) * sizeof(float));
                    continue;
                }
                const float corr = softmax_row(srow, cnt, kn, scale, mb[r], lb[r]);
                if (corr != 1.0f) {
                    const T vc = V::set1(corr);
                    float* orow = ob + r * dp;
                    for (int64_t c = 0; c < dn; c += V::W) V::store(orow + c, V::mul(V::load(orow + c), vc));
                }
            }

            // O += P V, from a copy of the V tile: V rows are often a multiple of 4 KiB apart, and
            // read in place they would all compete for the same few L1 sets (measured: 35% slower).
            // Past a row group's visible keys its P columns are zero.
            const float* vsrc = p.v + (start + kt0) * p.v_stride + static_cast<int64_t>(kv_head) * d;
            for (int64_t j = 0; j < kn; ++j) {
                std::memcpy(vb + j * dp, vsrc + j * p.v_stride, static_cast<size_t>(d) * sizeof(float));
                for (int64_t c = d; c < dn; ++c) vb[j * dp + c] = 0.0f;
            }
            for (int64_t i = 0; i < rows; i += kMR) {
                const int64_t rg = imin(kMR, rows - i), lim = visible(p, q0, nq, i, rg, kt0, kn);
                if (lim <= 0) continue;
                for (int64_t c = 0; c < dn; c += NR)
                    G::micro_rows(rg, lim, sb + i * bk, bk, vb + c, dp, ob + i * dp + c, dp, NR, true, nullptr);
            }
        }

        // Epilogue.
        for (int64_t h = 0; h < group; ++h) {
            for (int64_t i = 0; i < nq; ++i) {
                const int64_t r = h * nq + i;
                const float inv = 1.0f / lb[r];
                float* dst = p.out + (start + q0 + i) * p.out_stride + (h0 + h) * d;
                const float* orow = ob + r * dp;
                for (int64_t c = 0; c < d; ++c) dst[c] = orow[c] * inv;
            }
        }
    }
};

template <class V>
constexpr AttentionKernels make_attention_kernels() {
    return {V::kName, &Attention<V>::tile};
}

}  // namespace
}  // namespace ember::cpu

#endif  // EMBER_ATTENTION_INSTANTIATE
