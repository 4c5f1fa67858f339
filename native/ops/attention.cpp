#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/scratch.h"
#include "ops/common.h"

#define EMBER_ATTENTION_INSTANTIATE
#include "ops/attention_impl.h"

namespace ember::cpu {

// The portable kernels: the same templates as attention_avx2.cpp, on SSE2.
extern const AttentionKernels kAttentionSse = make_attention_kernels<VecSse>();

namespace {

constexpr int32_t kMaxHeadDim = EMBER_MAX_HEAD_DIM;

// Tile sizes, for `threads` threads. About 128 stacked query rows (bq queries x the GQA group) per
// task: each K / V tile is fetched (from L3 at long lengths, rows a page apart) and packed once
// per task, so the fetch costs about 1/rows of the arithmetic; measured on Zen 3 at L = 2048,
// 64 rows lose ~20% to 128. Q, O (128 x 128 floats each at head_dim 128), S and the K / V tiles
// (64 keys) come to ~224 KiB, within L2. Smaller query tiles when there would be fewer than two
// tasks per thread.
AttentionPlan plan_attention(const ember_attention_params& p, int threads) {
    AttentionPlan plan{};
    plan.group = p.n_heads / p.n_kv_heads;
    plan.bq = std::max<int64_t>(1, ceil_div(128, plan.group));
    plan.bk = 64;
    auto tasks = [&](int64_t bq) {
        int64_t n = 0;
        for (int32_t s = 0; s < p.n_seqs; ++s) n += ceil_div(p.cu_seqlens[s + 1] - p.cu_seqlens[s], bq);
        return n * p.n_kv_heads;
    };
    while (plan.bq >= 16 && tasks(plan.bq) < 2 * threads) plan.bq /= 2;
    plan.dp = round_up(p.head_dim, 32);
    const int64_t rows = plan.group * plan.bq, d = p.head_dim;
    int64_t at = 0;
    auto take = [&](int64_t floats) {
        const int64_t off = at;
        at += round_up(floats, 16);
        return off;
    };
    plan.q_off = take(rows * d);
    plan.s_off = take(rows * plan.bk);
    plan.o_off = take(rows * plan.dp);
    plan.k_off = take(plan.bk * d);
    plan.v_off = take(plan.bk * plan.dp);
    plan.m_off = take(rows);
    plan.l_off = take(rows);
    if (p.self_extend_window > 0) {
        plan.qg_off = take(rows * d);
        plan.s2_off = take(rows * plan.bk);
        plan.k2_off = take(plan.bk * d);
        if (!p.causal) {
            plan.qf_off = take(rows * d);
            plan.s3_off = take(rows * plan.bk);
            plan.k3_off = take(plan.bk * d);
        }
    }
    plan.scratch_floats = at;
    return plan;
}

struct QueryTile {
    int32_t seq;
    int64_t q0;
    int64_t cost;  // key tiles it visits, for ordering
};

}  // namespace

void validate(const ember_attention_params& p) {
    const int64_t rows = check_cu_seqlens("attention", p.cu_seqlens, p.n_seqs);
    EMBER_CHECK_ARG(p.n_heads > 0 && p.n_kv_heads > 0, "attention: n_heads (%d) and n_kv_heads (%d) must be positive",
                    p.n_heads, p.n_kv_heads);
    EMBER_CHECK_ARG(p.n_heads % p.n_kv_heads == 0, "attention: n_heads (%d) is not a multiple of n_kv_heads (%d)",
                    p.n_heads, p.n_kv_heads);
    EMBER_CHECK_ARG(p.head_dim > 0 && p.head_dim <= kMaxHeadDim, "attention: head_dim %d is outside 1..%d",
                    p.head_dim, kMaxHeadDim);
    // The kernels take the running max of unscaled scores and mask with -inf, both of which need
    // a positive scale (0 or less would turn masked scores into NaN).
    EMBER_CHECK_ARG(std::isfinite(p.scale) && p.scale > 0.0f, "attention: scale (%g) must be finite and positive",
                    static_cast<double>(p.scale));
    const int64_t q_width = static_cast<int64_t>(p.n_heads) * p.head_dim;
    const int64_t kv_width = static_cast<int64_t>(p.n_kv_heads) * p.head_dim;
    check_rows("attention: q", p.q, rows, q_width, p.q_stride);
    check_rows("attention: k", p.k, rows, kv_width, p.k_stride);
    check_rows("attention: v", p.v, rows, kv_width, p.v_stride);
    check_rows("attention: out", p.out, rows, q_width, p.out_stride);
    EMBER_CHECK_ARG(p.self_extend_window >= 0, "attention: self_extend_window is negative (%d)", p.self_extend_window);
    if (p.self_extend_window > 0) {
        check_rows("attention: q_group", p.q_group, rows, q_width, p.q_group_stride);
        check_rows("attention: k_group", p.k_group, rows, kv_width, p.k_group_stride);
        if (!p.causal) {
            check_rows("attention: q_group_future", p.q_group_future, rows, q_width, p.q_group_future_stride);
            check_rows("attention: k_group_future", p.k_group_future, rows, kv_width, p.k_group_future_stride);
        }
        // check_rows lets a null pointer through for an empty batch; the kernels never read it then.
    }
    EMBER_CHECK_ARG(p.length_scaling_base >= 0, "attention: length_scaling_base is negative (%d)",
                    p.length_scaling_base);
}

void attention(const ember_attention_params& p, ThreadPool& pool) { attention(p, pool, active_isa()); }

void attention(const ember_attention_params& p, ThreadPool& pool, Isa isa) {
    attention_with(p, pool, kernels_for(isa, kAttentionSse, kAttentionAvx2, kAttentionAvx512));
}

void attention_with(const ember_attention_params& p, ThreadPool& pool, const AttentionKernels& kern) {
    validate(p);
    const AttentionPlan plan = plan_attention(p, pool.size());
    std::vector<QueryTile> tiles;
    for (int32_t s = 0; s < p.n_seqs; ++s) {
        const int64_t len = p.cu_seqlens[s + 1] - p.cu_seqlens[s];
        for (int64_t q0 = 0; q0 < len; q0 += plan.bq)
            tiles.push_back({s, q0, ceil_div(p.causal ? std::min(len, q0 + plan.bq) : len, plan.bk)});
    }
    // Longest first, so the last tasks handed out are short ones (causal tiles differ a lot).
    std::stable_sort(tiles.begin(), tiles.end(),
                     [](const QueryTile& a, const QueryTile& b) { return a.cost > b.cost; });
    const int64_t n_kv = p.n_kv_heads;
    pool.parallel_for(static_cast<int64_t>(tiles.size()) * n_kv, 1, [&](int64_t begin, int64_t end) {
        float* scratch = thread_scratch(static_cast<size_t>(plan.scratch_floats));
        for (int64_t t = begin; t < end; ++t) {
            const QueryTile& tile = tiles[static_cast<size_t>(t / n_kv)];
            kern.tile(p, plan, tile.seq, static_cast<int32_t>(t % n_kv), tile.q0, scratch);
        }
    });
}

void attention_ref(const ember_attention_params& p) {
    validate(p);
    const int64_t d = p.head_dim, group = p.n_heads / p.n_kv_heads;
    std::vector<double> scores, acc(static_cast<size_t>(d));
    for (int32_t s = 0; s < p.n_seqs; ++s) {
        const int64_t start = p.cu_seqlens[s], len = p.cu_seqlens[s + 1] - start;
        const double scale = sequence_scale(p, len);
        for (int64_t h = 0; h < p.n_heads; ++h) {
            const int64_t kvh = h / group;
            for (int64_t i = 0; i < len; ++i) {
                const int64_t visible = p.causal ? i + 1 : len;
                scores.assign(static_cast<size_t>(visible), 0.0);
                double mx = -INFINITY;
                for (int64_t j = 0; j < visible; ++j) {
                    // SelfExtend: the product of the pair's kind (ordinary inside the window).
                    const int kind = score_kind(i, j, p.self_extend_window);
                    const float* q = kind == kScoreNear ? p.q + (start + i) * p.q_stride
                                     : kind == kScorePast ? p.q_group + (start + i) * p.q_group_stride
                                                          : p.q_group_future + (start + i) * p.q_group_future_stride;
                    const float* k = kind == kScoreNear ? p.k + (start + j) * p.k_stride
                                     : kind == kScorePast ? p.k_group + (start + j) * p.k_group_stride
                                                          : p.k_group_future + (start + j) * p.k_group_future_stride;
                    q += h * d;
                    k += kvh * d;
                    double dot = 0.0;
                    for (int64_t c = 0; c < d; ++c) dot += static_cast<double>(q[c]) * k[c];
                    scores[j] = dot * scale;
                    mx = std::max(mx, scores[j]);
                }
                double sum = 0.0;
                std::fill(acc.begin(), acc.end(), 0.0);
                for (int64_t j = 0; j < visible; ++j) {
                    const double e = std::exp(scores[j] - mx);
                    sum += e;
                    const float* v = p.v + (start + j) * p.v_stride + kvh * d;
                    for (int64_t c = 0; c < d; ++c) acc[c] += e * v[c];
                }
                float* out = p.out + (start + i) * p.out_stride + h * d;
                for (int64_t c = 0; c < d; ++c) out[c] = static_cast<float>(acc[c] / sum);
            }
        }
    }
}

}  // namespace ember::cpu
