// SelfExtend in the attention kernels: the fused kernels (every ISA, 1 and 3 threads) and the
// scalar twin against a direct, materialized reference built from the definition (positions per
// pair, one softmax over the merged row), on ragged batches up to L = 300, G in {2, 3, 9}, W in
// {4, 16, 64}, causal and bidirectional, GQA, head dims 64 and 128. Then the invariants: a window
// covering the sequence is exactly ordinary attention, and the paper's worked example.
#include <cstring>
#include <random>

#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "model/rope_freqs.h"
#include "ops/attention.h"
#include "ops/attention_impl.h"
#include "ops/rope.h"
#include "test_util.h"
#include "wide_kernels.h"

using namespace ember;
using namespace ember::test;

namespace {

// The positions of the pair (query i, key j), straight from the SelfExtend definition
// (../shared/specs/long-context.md): neighbours keep theirs; beyond the window the key takes
// j / G and the query i / G + (W - W / G) (keys before the query); for keys after it the shift
// moves to the key.
std::pair<int64_t, int64_t> pair_positions(int64_t i, int64_t j, int64_t g, int64_t w) {
    const int64_t shift = w - w / g;
    if (std::llabs(i - j) < w) return {i, j};
    if (j < i) return {i / g + shift, j / g};
    return {i / g, j / g + shift};
}

struct Problem {
    std::vector<int32_t> cu;
    int32_t n_heads = 0, n_kv = 0, d = 0;
    int64_t qs = 0, ks = 0, vs = 0, os = 0;  // row strides (padded with NaN)
    std::vector<float> q, k, v;              // q, k before RoPE
    std::vector<float> cos, sin;             // the model's tables (model/rope_freqs)
    int64_t table_rows = 0;
};

Problem make_problem(const std::vector<int32_t>& lengths, int32_t n_heads, int32_t n_kv, int32_t d, int64_t rows_needed,
                     uint64_t seed) {
    Problem p;
    p.cu.push_back(0);
    for (int32_t l : lengths) p.cu.push_back(p.cu.back() + l);
    p.n_heads = n_heads;
    p.n_kv = n_kv;
    p.d = d;
    const int64_t rows = p.cu.back(), qw = int64_t{n_heads} * d, kw = int64_t{n_kv} * d;
    p.qs = qw + 3;
    p.ks = kw + 5;
    p.vs = kw + 1;
    p.os = qw + 2;
    auto fill = [&](std::vector<float>& x, int64_t width, int64_t stride, uint64_t s) {
        x = random_floats(static_cast<size_t>(rows * stride), s, 1.0f);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = width; j < stride; ++j) x[r * stride + j] = NAN;  // reading padding poisons the result
    };
    fill(p.q, qw, p.qs, seed);
    fill(p.k, kw, p.ks, seed + 1);
    fill(p.v, kw, p.vs, seed + 2);
    RopeConfig rope;
    rope.theta = 10000.0;
    p.table_rows = rows_needed;
    build_rope_table(compute_rope_frequencies(rope, d, 4096, 4096), rows_needed, p.cos, p.sin);
    return p;
}

// x rotated in place by the rope op at positions index / group + offset.
void rotate(const Problem& pb, std::vector<float>& x, int64_t stride, int32_t heads, int32_t group, int32_t offset) {
    ember_rope_params r{};
    r.x = x.data();
    r.x_stride = stride;
    r.cu_seqlens = pb.cu.data();
    r.n_seqs = static_cast<int32_t>(pb.cu.size() - 1);
    r.n_heads = heads;
    r.head_dim = pb.d;
    r.rot_dim = pb.d;
    r.cos = pb.cos.data();
    r.sin = pb.sin.data();
    r.table_rows = pb.table_rows;
    r.pos_offset = offset;
    r.pos_group = group;
    cpu::rope_ref(r);
}

// The kernel's operands, rotated the way model/decoder.cpp rotates them.
struct Operands {
    std::vector<float> q, k, qg, kg, qf, kf;
};

Operands rotated(const Problem& pb, int32_t g, int32_t w) {
    const int32_t shift = w - w / g;
    Operands o{pb.q, pb.k, pb.q, pb.k, pb.q, pb.k};
    rotate(pb, o.q, pb.qs, pb.n_heads, 1, 0);
    rotate(pb, o.k, pb.ks, pb.n_kv, 1, 0);
    rotate(pb, o.qg, pb.qs, pb.n_heads, g, shift);
    rotate(pb, o.kg, pb.ks, pb.n_kv, g, 0);
    rotate(pb, o.qf, pb.qs, pb.n_heads, g, 0);
    rotate(pb, o.kf, pb.ks, pb.n_kv, g, shift);
    return o;
}

ember_attention_params params_for(const Problem& pb, const Operands& o, float* out, int causal, int32_t w) {
    ember_attention_params p{};
    p.q = o.q.data();
    p.k = o.k.data();
    p.v = pb.v.data();
    p.out = out;
    p.q_stride = pb.qs;
    p.k_stride = pb.ks;
    p.v_stride = pb.vs;
    p.out_stride = pb.os;
    p.cu_seqlens = pb.cu.data();
    p.n_seqs = static_cast<int32_t>(pb.cu.size() - 1);
    p.n_heads = pb.n_heads;
    p.n_kv_heads = pb.n_kv;
    p.head_dim = pb.d;
    p.scale = 1.0f / std::sqrt(static_cast<float>(pb.d));
    p.causal = causal;
    if (w > 0) {
        p.self_extend_window = w;
        p.q_group = o.qg.data();
        p.k_group = o.kg.data();
        p.q_group_stride = pb.qs;
        p.k_group_stride = pb.ks;
        if (!causal) {
            p.q_group_future = o.qf.data();
            p.k_group_future = o.kf.data();
            p.q_group_future_stride = pb.qs;
            p.k_group_future_stride = pb.ks;
        }
    }
    return p;
}

// The direct reference: for every sequence and head the full L x L score matrix, each entry the
// product of q and k rotated (in double, from the same cos / sin tables) to the pair's positions,
// then one exact softmax per row. `use_abs`: with |v|, for the error measure below.
std::vector<float> materialized(const Problem& pb, int causal, int64_t g, int64_t w, bool use_abs) {
    const int64_t d = pb.d, half = d / 2, group = pb.n_heads / pb.n_kv;
    std::vector<float> out(pb.q.size() / pb.qs * pb.os, 0.0f);
    auto rot = [&](const float* x, int64_t pos, std::vector<double>& y) {
        for (int64_t j = 0; j < half; ++j) {
            const double c = pb.cos[pos * half + j], s = pb.sin[pos * half + j], a = x[j], b = x[j + half];
            y[j] = a * c - b * s;
            y[j + half] = b * c + a * s;
        }
    };
    std::vector<double> qr(d), kr(d), acc(d);
    for (size_t s = 0; s + 1 < pb.cu.size(); ++s) {
        const int64_t start = pb.cu[s], len = pb.cu[s + 1] - start;
        for (int64_t h = 0; h < pb.n_heads; ++h) {
            std::vector<double> scores(static_cast<size_t>(len * len), -INFINITY);
            for (int64_t i = 0; i < len; ++i)
                for (int64_t j = 0; j < (causal ? i + 1 : len); ++j) {
                    const auto [pq, pk] = pair_positions(i, j, g, w);
                    rot(pb.q.data() + (start + i) * pb.qs + h * d, pq, qr);
                    rot(pb.k.data() + (start + j) * pb.ks + (h / group) * d, pk, kr);
                    double dot = 0;
                    for (int64_t c = 0; c < d; ++c) dot += qr[c] * kr[c];
                    scores[i * len + j] = dot / std::sqrt(static_cast<double>(d));
                }
            for (int64_t i = 0; i < len; ++i) {
                const double* row = scores.data() + i * len;
                const double mx = *std::max_element(row, row + len);
                double sum = 0;
                std::fill(acc.begin(), acc.end(), 0.0);
                for (int64_t j = 0; j < len; ++j) {
                    const double e = std::exp(row[j] - mx);  // exp(-inf) = 0: masked
                    sum += e;
                    const float* vr = pb.v.data() + (start + j) * pb.vs + (h / group) * d;
                    for (int64_t c = 0; c < d; ++c) acc[c] += e * (use_abs ? std::fabs(vr[c]) : vr[c]);
                }
                for (int64_t c = 0; c < d; ++c)
                    out[(start + i) * pb.os + h * d + c] = static_cast<float>(acc[c] / sum);
            }
        }
    }
    return out;
}

// Largest |got - want| over the outputs divided by the largest sum_j p_j |v_j| (as in
// test_attention.cpp: independent of cancellation in the weighted sum); NaN never passes.
double out_error(const Problem& pb, const std::vector<float>& got, const std::vector<float>& want,
                 const std::vector<float>& terms) {
    const int64_t rows = pb.cu.back(), width = int64_t{pb.n_heads} * pb.d;
    double diff = 0, scale = 0;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < width; ++c) {
            const float a = got[r * pb.os + c], b = want[r * pb.os + c];
            if (!std::isfinite(a) || !std::isfinite(b)) return INFINITY;
            diff = std::max(diff, std::fabs(double(a) - b));
            scale = std::max(scale, double(terms[r * pb.os + c]));
        }
    return diff / scale;
}

}  // namespace

// Tolerance 1e-5 of the terms, the bound plain attention is held to (test_attention.cpp, same
// input scale): the kernels see q and k rotated in float, a few 2^-24 of |q|, |k| per element,
// which adds about sqrt(head_dim) * 2^-24 * |q| |k| to each score, well inside it (measured worst:
// 2.2e-7 fused, 6e-8 scalar twin). A pair scored with the wrong positions moves its score by the
// angle difference times |q| |k| (0.1 or more at these sizes) and lands orders of magnitude above.
TEST_CASE("self-extend: fused kernels and the scalar twin match the materialized definition") {
    const uint64_t seed = test_seed();
    ThreadPool pool1(1), pool3(3);
    const auto variants = fast_variants<ember_attention_params, cpu::AttentionKernels>(
        &cpu::attention, &cpu::attention_with, test::kAttentionWide);
    struct Shape {
        int32_t n_heads, n_kv, d;
    };
    const Shape shapes[] = {{4, 2, 64}, {8, 2, 128}};
    std::mt19937_64 rng(seed);
    double worst_fast = 0, worst_ref = 0;
    int index = 0;
    for (int32_t g : {2, 3, 9})
        for (int32_t w : {4, 16, 64})
            for (int causal : {1, 0})
                for (const Shape& sh : shapes) {
                    ++index;
                    // Lengths sampled from 1..300: one near the top, one just past the window, one
                    // anywhere, and a single token.
                    std::uniform_int_distribution<int32_t> any(2, 300), top(250, 300);
                    const std::vector<int32_t> lengths{top(rng), w + 1, any(rng), 1};
                    const int64_t max_len = *std::max_element(lengths.begin(), lengths.end());
                    const Problem pb = make_problem(lengths, sh.n_heads, sh.n_kv, sh.d,
                                                    std::max<int64_t>(max_len, max_len / g + w + 1), seed + 7 * index);
                    const Operands o = rotated(pb, g, w);
                    const std::vector<float> want = materialized(pb, causal, g, w, false),
                                             terms = materialized(pb, causal, g, w, true);
                    std::string lens;
                    for (int32_t l : lengths) lens += std::to_string(l) + " ";
                    INFO("seed=" << seed << " G=" << g << " W=" << w << " causal=" << causal << " heads=" << sh.n_heads
                                 << "/" << sh.n_kv << " head_dim=" << sh.d << " lengths=" << lens);
                    std::vector<float> out(want.size(), 7.0f);
                    ember_attention_params p = params_for(pb, o, out.data(), causal, w);
                    cpu::attention_ref(p);
                    const double e_ref = out_error(pb, out, want, terms);
                    worst_ref = std::max(worst_ref, e_ref);
                    CHECK(e_ref <= 1e-5);
                    for (const auto& variant : variants)
                        for (ThreadPool* pool : {&pool1, &pool3}) {
                            std::fill(out.begin(), out.end(), 7.0f);
                            variant.run(p, *pool);
                            const double e = out_error(pb, out, want, terms);
                            worst_fast = std::max(worst_fast, e);
                            INFO("kernels=" << variant.name << " threads=" << pool->size());
                            CHECK(e <= 1e-5);
                        }
                }
    MESSAGE("SelfExtend vs the materialized definition: worst error " << worst_fast << " (fused kernels), "
                                                                      << worst_ref << " (scalar twin)");
}

TEST_CASE("self-extend: a window covering the sequence, or G = 1, is exactly ordinary attention") {
    const uint64_t seed = test_seed() + 11;
    ThreadPool pool(3);
    const auto variants = fast_variants<ember_attention_params, cpu::AttentionKernels>(
        &cpu::attention, &cpu::attention_with, test::kAttentionWide);
    const std::vector<int32_t> lengths{300, 129, 1, 64};
    for (int causal : {1, 0}) {
        for (auto [g, w] : {std::pair{3, 300}, std::pair{9, 4096}, std::pair{1, 4}, std::pair{1, 16}}) {
            const Problem pb = make_problem(lengths, 8, 2, 64, 300 / g + w + 1, seed + g + w);
            const Operands o = rotated(pb, g, w);
            for (const auto& variant : variants) {
                INFO("G=" << g << " W=" << w << " causal=" << causal << " kernels=" << variant.name);
                std::vector<float> plain(pb.q.size() / pb.qs * pb.os, 0.0f), se = plain;
                ember_attention_params pp = params_for(pb, o, plain.data(), causal, 0);
                ember_attention_params ps = params_for(pb, o, se.data(), causal, w);
                variant.run(pp, pool);
                variant.run(ps, pool);
                bool finite = true;
                for (float x : se) finite &= std::isfinite(x);
                CHECK(finite);
                CHECK(std::memcmp(plain.data(), se.data(), plain.size() * sizeof(float)) == 0);
            }
        }
    }
}

// The paper's example (W = 4, G = 2): from query 0 over keys 0..9 (bidirectional), and from query
// 9 over keys 9..0 (causal), the relative distances are 0 1 2 3 4 4 5 5 6 6. Read off the kernel's
// own output: q = k = a unit vector in RoPE pair 0 only, rotating 0.1 rad per position, so the
// score of a pair at distance r is c cos(0.1 r); V = the identity, so the output row is the
// attention weights; log(p_j / p_self) = c (cos(0.1 r_j) - 1) gives r_j back.
TEST_CASE("self-extend: the paper's worked example (W = 4, G = 2), read from the kernel's output") {
    constexpr int32_t kLen = 10, kD = 16, kG = 2, kW = 4;
    constexpr double kC = 9.0;  // |q| |k| * scale
    Problem pb;
    pb.cu = {0, kLen};
    pb.n_heads = pb.n_kv = 1;
    pb.d = kD;
    pb.qs = pb.ks = pb.vs = pb.os = kD;
    pb.q.assign(kLen * kD, 0.0f);
    pb.k.assign(kLen * kD, 0.0f);
    pb.v.assign(kLen * kD, 0.0f);
    for (int32_t t = 0; t < kLen; ++t) {
        pb.q[t * kD] = 3.0f;
        pb.k[t * kD] = 3.0f;
        pb.v[t * kD + t] = 1.0f;
    }
    RopeFrequencies f;
    f.inv_freq.assign(kD / 2, 0.0f);
    f.inv_freq[0] = 0.1f;
    pb.table_rows = 32;
    build_rope_table(f, pb.table_rows, pb.cos, pb.sin);
    const Operands o = rotated(pb, kG, kW);
    ThreadPool pool(1);
    const std::vector<int> expected{0, 1, 2, 3, 4, 4, 5, 5, 6, 6};
    for (int causal : {0, 1}) {
        std::vector<float> out(kLen * kD, 0.0f);
        ember_attention_params p = params_for(pb, o, out.data(), causal, kW);
        p.scale = 1.0f;
        cpu::attention(p, pool);
        const int query = causal ? 9 : 0;
        const float* weights = out.data() + query * kD;
        std::vector<int> distances;
        for (int n = 0; n < kLen; ++n) {
            const int key = causal ? 9 - n : n;
            const double c = 1.0 + std::log(double(weights[key]) / weights[query]) / kC;
            const double r = std::acos(std::clamp(c, -1.0, 1.0)) / 0.1;
            INFO("causal=" << causal << " key " << key << " distance " << r);
            CHECK(std::fabs(r - std::round(r)) < 0.01);
            distances.push_back(static_cast<int>(std::lround(r)));
        }
        INFO("causal=" << causal);
        CHECK(distances == expected);
    }
}

TEST_CASE("attention: LongEmbed's length scaling multiplies the logits by max(log_N(L), 1)") {
    const uint64_t seed = test_seed() + 23;
    ThreadPool pool(3);
    const std::vector<int32_t> lengths{200, 17, 5};
    const Problem pb = make_problem(lengths, 4, 2, 64, 300, seed);
    const Operands o = rotated(pb, 2, 16);
    for (int causal : {1, 0})
        for (int32_t w : {0, 16}) {
            INFO("causal=" << causal << " W=" << w);
            std::vector<float> ref(pb.q.size() / pb.qs * pb.os, 0.0f), fast = ref, by_hand = ref, plain = ref;
            ember_attention_params p = params_for(pb, o, ref.data(), causal, w);
            p.length_scaling_base = 16;
            cpu::attention_ref(p);
            p.out = fast.data();
            cpu::attention(p, pool);
            CHECK(rel_error(fast, ref) <= 1e-5);
            // Per sequence the same as a scale of scale * log_16(L) (1 for L <= 16).
            for (size_t s = 0; s < lengths.size(); ++s) {
                Problem one = pb;
                const int32_t a = pb.cu[s], b = pb.cu[s + 1];
                one.cu = {0, b - a};
                Operands os = o;
                auto cut = [&](std::vector<float>& x, int64_t stride) {
                    x = std::vector<float>(x.begin() + a * stride, x.begin() + b * stride);
                };
                cut(one.v, pb.vs);
                for (auto* x : {&os.q, &os.qg, &os.qf}) cut(*x, pb.qs);
                for (auto* x : {&os.k, &os.kg, &os.kf}) cut(*x, pb.ks);
                std::vector<float> got((b - a) * pb.os, 0.0f);
                ember_attention_params q = params_for(one, os, got.data(), causal, w);
                q.scale = static_cast<float>(q.scale * std::max(std::log(double(b - a)) / std::log(16.0), 1.0));
                cpu::attention_ref(q);
                std::copy(got.begin(), got.end(), by_hand.begin() + a * pb.os);
            }
            CHECK(rel_error(ref, by_hand) <= 1e-6);
            // A base of at least L changes nothing.
            ember_attention_params pl = params_for(pb, o, plain.data(), causal, w);
            pl.length_scaling_base = 200;
            cpu::attention(pl, pool);
            std::vector<float> none(plain.size(), 0.0f);
            ember_attention_params pn = params_for(pb, o, none.data(), causal, w);
            cpu::attention(pn, pool);
            CHECK(std::memcmp(plain.data(), none.data(), plain.size() * sizeof(float)) == 0);
        }
}

TEST_CASE("self-extend: invalid parameters are rejected") {
    const Problem pb = make_problem({20, 3}, 4, 2, 16, 64, 5);
    const Operands o = rotated(pb, 2, 4);
    std::vector<float> out(pb.q.size() / pb.qs * pb.os);
    ThreadPool pool(1);
    for (int causal : {1, 0}) {
        const ember_attention_params good = params_for(pb, o, out.data(), causal, 4);
        auto with = validation_probe(good, [](const ember_attention_params& p) { cpu::attention_ref(p); },
                                     [&](const ember_attention_params& p) { cpu::attention(p, pool); });
        CHECK(with([](auto&) {}) == EMBER_OK);
        CHECK(with([](auto& p) { p.self_extend_window = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
        CHECK(with([](auto& p) { p.q_group = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
        CHECK(with([](auto& p) { p.k_group = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
        CHECK(with([](auto& p) { p.k_group_stride = 3; }) == EMBER_ERR_INVALID_ARGUMENT);
        CHECK(with([](auto& p) { p.length_scaling_base = -2; }) == EMBER_ERR_INVALID_ARGUMENT);
        // The future pair is read only without the causal mask.
        CHECK(with([](auto& p) { p.q_group_future = nullptr; }) == (causal ? EMBER_OK : EMBER_ERR_INVALID_ARGUMENT));
        CHECK(with([](auto& p) { p.k_group_future = nullptr; }) == (causal ? EMBER_OK : EMBER_ERR_INVALID_ARGUMENT));
    }
}
