// Attention: the fast kernels (every ISA this CPU runs, 1 and 3 threads) against the scalar twin
// over ragged batches, GQA ratios 1-8, head_dim 8-256, causal and bidirectional.
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/attention.h"
#include "ops/attention_impl.h"
#include "test_util.h"
#include "wide_kernels.h"

using namespace ember;
using namespace ember::test;

namespace {

struct Config {
    std::vector<int32_t> lengths;
    int32_t n_heads, n_kv_heads, head_dim;
};

const Config kConfigs[] = {
    {{1, 7, 97}, 2, 2, 16},   {{97, 1}, 8, 4, 64},     {{1025, 7}, 4, 1, 64}, {{33, 130}, 8, 1, 128},
    {{200, 64}, 2, 1, 256},   {{65, 3}, 6, 2, 20},     {{0, 50, 0}, 2, 2, 8}, {{129}, 16, 8, 128},
};

struct Batch {
    std::vector<int32_t> cu;
    std::vector<float> q, k, v;
    int64_t rows = 0, qs = 0, ks = 0, vs = 0, os = 0;
};

// Inputs with padded rows (NaN in the padding: reading it would poison the result).
Batch make_batch(const Config& c, uint64_t seed, float magnitude) {
    Batch b;
    b.cu.push_back(0);
    for (int32_t len : c.lengths) b.cu.push_back(b.cu.back() + len);
    b.rows = b.cu.back();
    const int64_t qw = int64_t{c.n_heads} * c.head_dim, kw = int64_t{c.n_kv_heads} * c.head_dim;
    b.qs = qw + 3;
    b.ks = kw + 5;
    b.vs = kw + 1;
    b.os = qw + 2;
    auto fill = [&](std::vector<float>& x, int64_t width, int64_t stride, uint64_t s) {
        x = random_floats(static_cast<size_t>(b.rows * stride), s, magnitude);
        for (int64_t r = 0; r < b.rows; ++r)
            for (int64_t j = width; j < stride; ++j) x[r * stride + j] = NAN;
    };
    fill(b.q, qw, b.qs, seed);
    fill(b.k, kw, b.ks, seed + 1);
    fill(b.v, kw, b.vs, seed + 2);
    for (float& x : b.v) x = std::isnan(x) ? x : x / magnitude;  // values stay in [-1, 1]
    return b;
}

ember_attention_params params_for(const Config& c, Batch& b, float* out, int causal, float scale) {
    ember_attention_params p{};
    p.q = b.q.data();
    p.k = b.k.data();
    p.v = b.v.data();
    p.out = out;
    p.q_stride = b.qs;
    p.k_stride = b.ks;
    p.v_stride = b.vs;
    p.out_stride = b.os;
    p.cu_seqlens = b.cu.data();
    p.n_seqs = static_cast<int32_t>(c.lengths.size());
    p.n_heads = c.n_heads;
    p.n_kv_heads = c.n_kv_heads;
    p.head_dim = c.head_dim;
    p.scale = scale;
    p.causal = causal;
    return p;
}

// Largest |fast - ref| over the written outputs, divided by the largest sum_j p_j |v_j| (the
// reference run on |v|). Dividing by the terms rather than by |out| keeps the measure independent
// of cancellation: with near-uniform weights over many random values the outputs are much smaller
// than the values averaged, and any float summation loses digits relative to |out| there.
double out_error(const std::vector<float>& fast, const std::vector<float>& ref,
                 const std::vector<float>& ref_abs, int64_t rows, int64_t width, int64_t stride) {
    double max_diff = 0, max_terms = 0;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < width; ++j) {
            const float a = fast[r * stride + j], b = ref[r * stride + j];
            if (!std::isfinite(a) || !std::isfinite(b)) return INFINITY;
            max_diff = std::max(max_diff, std::fabs(static_cast<double>(a) - b));
            max_terms = std::max(max_terms, static_cast<double>(ref_abs[r * stride + j]));
        }
    return max_terms > 0 ? max_diff / max_terms : max_diff;
}

void check_against_reference(float magnitude, double tolerance) {
    const uint64_t seed = test_seed();
    ThreadPool pool1(1), pool3(3);
    const auto variants = fast_variants<ember_attention_params, cpu::AttentionKernels>(
        &cpu::attention, &cpu::attention_with, test::kAttentionWide);
    int index = 0;
    for (const Config& c : kConfigs) {
        for (int causal : {1, 0}) {
            ++index;
            Batch b = make_batch(c, seed + 100 * index, magnitude);
            const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
            const float sentinel = 12345.0f;
            std::vector<float> ref(static_cast<size_t>(b.rows * b.os), sentinel);
            ember_attention_params p = params_for(c, b, ref.data(), causal, scale);
            cpu::attention_ref(p);
            std::vector<float> ref_abs(ref.size());
            {
                Batch abs_batch = b;
                for (float& x : abs_batch.v) x = std::fabs(x);
                ember_attention_params pa = params_for(c, abs_batch, ref_abs.data(), causal, scale);
                cpu::attention_ref(pa);
            }
            const int64_t width = int64_t{c.n_heads} * c.head_dim;
            for (const auto& variant : variants) {
                for (ThreadPool* pool : {&pool1, &pool3}) {
                    std::vector<float> out(ref.size(), sentinel);
                    p.out = out.data();
                    variant.run(p, *pool);
                    std::string lens;
                    for (int32_t l : c.lengths) lens += std::to_string(l) + " ";
                    INFO("seed=" << seed << " lengths=" << lens << "heads=" << c.n_heads << "/" << c.n_kv_heads
                                 << " head_dim=" << c.head_dim << " causal=" << causal << " kernels="
                                 << variant.name << " threads=" << pool->size());
                    const double err = out_error(out, ref, ref_abs, b.rows, width, b.os);
                    CHECK(err <= tolerance);
                    bool padding_kept = true;
                    for (int64_t r = 0; r < b.rows; ++r)
                        for (int64_t j = width; j < b.os; ++j) padding_kept &= out[r * b.os + j] == sentinel;
                    CHECK(padding_kept);
                }
            }
        }
    }
}

}  // namespace

// Tolerance 1e-5 (see out_error): float scores carry about sqrt(head_dim) * 2^-24 relative error,
// exp about 1 ulp, the weighted sums about sqrt(L) * 2^-24; together a few 1e-7 of the terms.
// A missing or doubled key, or an exp off by 1e-4, lands far above it.
TEST_CASE("attention: fast kernels match the double-precision twin") {
    check_against_reference(1.0f, 1e-5);
}

// q, k in [-4, 4]: scores up to tens, so the running max changes often and the softmax is peaked.
// The float rounding of each score grows with |q| |k|, 16 times the case above, and the tolerance
// with it (measured: about 6e-6).
TEST_CASE("attention: peaked softmax (large scores) stays accurate") {
    check_against_reference(4.0f, 16 * 1e-5);
}

TEST_CASE("attention: invalid parameters are rejected") {
    ThreadPool pool(1);
    std::vector<int32_t> cu{0, 3, 5};
    std::vector<float> q(5 * 32, 1.0f), kv(5 * 16, 1.0f), out(5 * 32);
    const ember_attention_params good{q.data(), kv.data(), kv.data(), out.data(), 32, 16, 16, 32,
                                      cu.data(), 2, 4, 2, 8, 0.35f, 1};
    auto with = validation_probe(good, [](const ember_attention_params& p) { cpu::attention_ref(p); },
                                 [&](const ember_attention_params& p) { cpu::attention(p, pool); });
    CHECK(with([](auto&) {}) == EMBER_OK);
    CHECK(with([](auto& p) { p.n_kv_heads = 3; }) == EMBER_ERR_INVALID_ARGUMENT);  // 4 % 3 != 0
    CHECK(with([](auto& p) { p.n_kv_heads = 0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.n_heads = 0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.head_dim = 0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.head_dim = 257; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.q = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.k = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.v = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.out = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.q_stride = 31; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.k_stride = 15; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.out_stride = 8; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.cu_seqlens = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.n_seqs = -2; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.scale = INFINITY; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.scale = NAN; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.scale = 0.0f; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.scale = -0.35f; }) == EMBER_ERR_INVALID_ARGUMENT);
    std::vector<int32_t> bad_cu{0, 4, 3};
    CHECK(with([&](auto& p) { p.cu_seqlens = bad_cu.data(); }) == EMBER_ERR_INVALID_ARGUMENT);
    std::vector<int32_t> negative_cu{-1, 2, 3};
    CHECK(with([&](auto& p) { p.cu_seqlens = negative_cu.data(); }) == EMBER_ERR_INVALID_ARGUMENT);
}
