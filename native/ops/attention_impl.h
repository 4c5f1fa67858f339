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
//                O += P V (V tile copied with its rows padded to a whole number of panels)
//   epilogue   out = O / l
// Memory per thread: rows x (head_dim + bk + padded head_dim) plus two bk x head_dim tiles,
// whatever the sequence length.
#pragma once

#include <cstdint>

#include "ember/kernels.h"

namespace ember::cpu {

struct AttentionPlan {
    int64_t group;  // query heads per kv head
    int64_t bq;     // queries per tile and head
    int64_t bk;     // keys per tile, a multiple of 32 (every panel width)
    int64_t dp;     // head_dim rounded up to 32

    // Scratch floats one task needs; every buffer starts on a 64-byte line.
    int64_t scratch_floats(int64_t head_dim) const {
        const int64_t rows = group * bq;
        return line(rows * head_dim) + line(rows * bk) + line(rows * dp) + line(bk * head_dim) +
               line(bk * dp) + 2 * line(rows);
    }
    static int64_t line(int64_t floats) { return (floats + 15) / 16 * 16; }
};

struct AttentionKernels {
    const char* name;
    // Query tile [q0, q0 + bq) of sequence `seq` for the query heads of kv head `kv_head`.
    void (*tile)(const ember_attention_params& p, const AttentionPlan& plan, int32_t seq,
                 int32_t kv_head, int64_t q0, float* scratch);
};

extern const AttentionKernels kAttentionSse;
extern const AttentionKernels kAttentionAvx2;
extern const AttentionKernels kAttentionAvx512;

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
        const float m_new = m > V::hmax(vmax) ? m : V::hmax(vmax);
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

    static void tile(const ember_attention_params& p, const AttentionPlan& plan, int32_t seq,
                     int32_t kv_head, int64_t q0, float* scratch) {
        const int64_t d = p.head_dim, group = plan.group, bk = plan.bk, dp = plan.dp;
        const int64_t start = p.cu_seqlens[seq], len = p.cu_seqlens[seq + 1] - start;
        const int64_t nq = imin(plan.bq, len - q0);
        const int64_t rows = group * nq;
        const int64_t h0 = static_cast<int64_t>(kv_head) * group;  // first query head
        float* qb = scratch;
        float* sb = qb + AttentionPlan::line(rows * d);
        float* ob = sb + AttentionPlan::line(rows * bk);
        float* kb = ob + AttentionPlan::line(rows * dp);
        float* vb = kb + AttentionPlan::line(bk * d);
        float* mb = vb + AttentionPlan::line(bk * dp);
        float* lb = mb + AttentionPlan::line(rows);

        // Prologue: row r = h * nq + i holds query q0 + i of head h0 + h.
        for (int64_t h = 0; h < group; ++h)
            for (int64_t i = 0; i < nq; ++i)
                std::memcpy(qb + (h * nq + i) * d, p.q + (start + q0 + i) * p.q_stride + (h0 + h) * d,
                            static_cast<size_t>(d) * sizeof(float));
        std::memset(ob, 0, static_cast<size_t>(rows * dp) * sizeof(float));
        for (int64_t r = 0; r < rows; ++r) {
            mb[r] = -__builtin_inff();
            lb[r] = 0.0f;
        }

        // Main loop over key tiles.
        const int64_t kend = p.causal ? q0 + nq : len;
        const unsigned char* kbase = reinterpret_cast<const unsigned char*>(
            p.k + start * p.k_stride + static_cast<int64_t>(kv_head) * d);
        for (int64_t kt0 = 0; kt0 < kend; kt0 += bk) {
            const int64_t kn = imin(bk, kend - kt0);
            const int64_t kn_pad = (kn + NR - 1) / NR * NR;
            for (int64_t j = 0; j < kn; j += NR)
                G::template pack_panel<FmtF32>(kbase + (kt0 + j) * p.k_stride * 4, p.k_stride * 4,
                                               imin(NR, kn - j), 0, d, kb + (j / NR) * d * NR);
            G::block(rows, d, qb, d, kb, d * NR, NR, sb, bk, kn_pad, false, nullptr);

            for (int64_t r = 0; r < rows; ++r) {
                const int64_t qpos = q0 + r % nq;
                const int64_t cnt = p.causal ? imin(kn, qpos - kt0 + 1) : kn;
                float* srow = sb + r * bk;
                if (cnt <= 0) {  // every key of this tile is in this query's future
                    std::memset(srow, 0, static_cast<size_t>(kn) * sizeof(float));
                    continue;
                }
                const float corr = softmax_row(srow, cnt, kn, p.scale, mb[r], lb[r]);
                if (corr != 1.0f) {
                    const T vc = V::set1(corr);
                    float* orow = ob + r * dp;
                    for (int64_t c = 0; c < dp; c += V::W) V::store(orow + c, V::mul(V::load(orow + c), vc));
                }
            }

            const float* vsrc = p.v + (start + kt0) * p.v_stride + static_cast<int64_t>(kv_head) * d;
            for (int64_t j = 0; j < kn; ++j) {
                std::memcpy(vb + j * dp, vsrc + j * p.v_stride, static_cast<size_t>(d) * sizeof(float));
                for (int64_t c = d; c < dp; ++c) vb[j * dp + c] = 0.0f;
            }
            G::block(rows, kn, sb, bk, vb, NR, dp, ob, dp, dp, true, nullptr);
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
