// NV-Embed latent-attention pooling: the fast (blocked GEMM) kernel against the scalar twin, at
// small odd shapes and at the real number of latents with wide heads.
#include "core/error.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/latent_pool.h"
#include "test_util.h"

using namespace ember;
using namespace ember::test;

namespace {

struct LatentCase {
    int32_t dim, heads, latents, head_dim, ffn;
    std::vector<int32_t> lengths, starts;
};

// Random operands for a case; weights scaled so activations stay O(1) through the block, as in a
// trained model (scores of a few units, residual updates of the size of the input).
struct LatentOperands {
    std::vector<float> x, norm_w, norm_b, score_w, value_w, ffn_norm_w, ffn_norm_b, w0, b0, w2, b2;
    std::vector<uint16_t> w0_bf16;
    std::vector<int32_t> cu;
    LatentOperands(const LatentCase& c, uint64_t seed) {
        const int64_t d = c.dim, hr = int64_t(c.heads) * c.latents, f = c.ffn;
        cu = {0};
        for (int32_t l : c.lengths) cu.push_back(cu.back() + l);
        x = random_floats(static_cast<size_t>(cu.back() * (d + 3)), seed, 2.0f);
        norm_w = random_floats(d, seed + 1, 1.5f);
        norm_b = random_floats(d, seed + 2, 0.5f);
        score_w = random_floats(static_cast<size_t>(hr * d), seed + 3, 3.0f / std::sqrt(float(d)) * std::sqrt(float(c.head_dim)));
        value_w = random_floats(static_cast<size_t>(d * hr), seed + 4, 1.0f);
        ffn_norm_w = random_floats(d, seed + 5, 1.5f);
        ffn_norm_b = random_floats(d, seed + 6, 0.5f);
        w0 = random_floats(static_cast<size_t>(2 * f * d), seed + 7, 2.0f / std::sqrt(float(d)));
        b0 = random_floats(static_cast<size_t>(2 * f), seed + 8, 0.5f);
        w2 = random_floats(static_cast<size_t>(d * f), seed + 9, 2.0f / std::sqrt(float(f)));
        b2 = random_floats(d, seed + 10, 0.5f);
        for (float v : w0) w0_bf16.push_back(f32_to_bf16(v));
    }
    ember_latent_pool_params params(const LatentCase& c, bool bf16_w0) const {
        ember_latent_pool_params p{};
        p.x = x.data();
        p.x_stride = c.dim + 3;
        p.cu_seqlens = cu.data();
        p.n_seqs = static_cast<int32_t>(c.lengths.size());
        p.pool_start = c.starts.empty() ? nullptr : c.starts.data();
        p.dim = c.dim;
        p.n_heads = c.heads;
        p.n_latents = c.latents;
        p.ffn_dim = c.ffn;
        p.norm_weight = norm_w.data();
        p.norm_bias = norm_b.data();
        p.score_w = score_w.data();
        p.score_w_dtype = EMBER_DTYPE_F32;
        p.value_w = value_w.data();
        p.value_w_dtype = EMBER_DTYPE_F32;
        p.scale = static_cast<float>(1.0 / std::sqrt(double(c.head_dim)));
        p.ffn_norm_weight = ffn_norm_w.data();
        p.ffn_norm_bias = ffn_norm_b.data();
        p.w0 = bf16_w0 ? static_cast<const void*>(w0_bf16.data()) : w0.data();
        p.w0_dtype = bf16_w0 ? EMBER_DTYPE_BF16 : EMBER_DTYPE_F32;
        p.b0 = b0.data();
        p.w2 = w2.data();
        p.w2_dtype = EMBER_DTYPE_F32;
        p.b2 = b2.data();
        p.eps = 1e-5f;
        return p;
    }
};

// Runs fast and twin on one case; returns (pooled error, per-token error).
std::pair<double, double> compare(const LatentCase& c, uint64_t seed, ThreadPool& pool, bool bf16_w0) {
    const LatentOperands ops(c, seed);
    ember_latent_pool_params p = ops.params(c, bf16_w0);
    const int64_t rows = ops.cu.back(), ts = c.dim + 1, n = p.n_seqs;
    std::vector<float> out_ref(n * c.dim), out_fast(n * c.dim, NAN), tok_ref(rows * ts, 9.0f), tok_fast = tok_ref;
    p.out = out_ref.data();
    p.token_out = tok_ref.data();
    p.token_out_stride = ts;
    cpu::latent_pool_ref(p);
    p.out = out_fast.data();
    p.token_out = tok_fast.data();
    cpu::latent_pool(p, pool);
    // Without token_out the fast kernel keeps the rows in its own buffer: same pooled result.
    std::vector<float> out_alone(n * c.dim, NAN);
    p.out = out_alone.data();
    p.token_out = nullptr;
    cpu::latent_pool(p, pool);
    CHECK(out_alone == out_fast);
    return {rel_error(out_fast, out_ref), rel_error(tok_fast, tok_ref)};
}

}  // namespace

TEST_CASE("latent_pool: fast kernel matches the scalar twin at odd shapes") {
    const uint64_t seed = test_seed();
    ThreadPool pool(3);
    const LatentCase cases[] = {
        {1, 1, 1, 1, 1, {1}, {}},
        {7, 3, 5, 4, 13, {1, 9, 2}, {0, 4, 1}},
        {37, 2, 17, 19, 75, {40, 3}, {39, 0}},
        {64, 4, 16, 32, 256, {6, 37}, {0, 5}},  // the nvembed-tiny golden's shape
    };
    int index = 0;
    for (const LatentCase& c : cases) {
        for (bool bf16 : {false, true}) {
            const auto [pooled, tokens] = compare(c, seed + 100 * ++index, pool, bf16);
            INFO("seed=" << seed << " dim=" << c.dim << " heads=" << c.heads << " latents=" << c.latents
                         << " ffn=" << c.ffn << " bf16 w0=" << bf16 << " pooled err " << pooled << " token err " << tokens);
            // float32 GEMMs (k <= 256 here) against double: a few ulp of the largest value
            // (observed <= 3e-7).
            CHECK(pooled <= 1e-6);
            CHECK(tokens <= 1e-6);
        }
    }
}

TEST_CASE("latent_pool: fast kernel matches the scalar twin at r = 512 with wide heads") {
    // NV-Embed-v2 runs 512 latents, 8 heads of head_dim 4096, dim 4096, ffn 4 * 4096. Here: the same
    // 512 latents and 8 heads (so every token scores 4096 latent slots and the value GEMM sums
    // over 4096), dim 256 and head_dim 256 (the fold leaves only the scale of head_dim in the
    // kernel), ffn 4 * 256, to keep the double-precision twin fast. Three sequences, one of a
    // single token, with instruction masks, over more tokens than one block of the fast kernel.
    const uint64_t seed = test_seed();
    ThreadPool pool(3);
    const LatentCase c{256, 8, 512, 256, 1024, {1, 37, 150}, {0, 5, 149}};
    const auto [pooled, tokens] = compare(c, seed, pool, true);
    INFO("seed=" << seed << " pooled err " << pooled << " token err " << tokens);
    // Sums over 4096 terms in float: allow 4e-6 of the largest value (observed about 4e-7).
    CHECK(pooled <= 4e-6);
    CHECK(tokens <= 4e-6);
}

TEST_CASE("latent_pool: NaN in one token reaches its sequence only; invalid parameters are rejected") {
    ThreadPool pool(2);
    const LatentCase c{7, 3, 5, 4, 13, {3, 4}, {}};
    LatentOperands ops(c, test_seed());
    ops.x[1 * (c.dim + 3) + 2] = NAN;  // sequence 0, token 1
    ember_latent_pool_params p = ops.params(c, false);
    std::vector<float> out(2 * c.dim);
    p.out = out.data();
    cpu::latent_pool(p, pool);
    for (int32_t i = 0; i < c.dim; ++i) {
        CHECK(std::isnan(out[i]));
        CHECK(std::isfinite(out[c.dim + i]));
    }
    ops.x[1 * (c.dim + 3) + 2] = 0.5f;
    auto status_of = [&](ember_latent_pool_params q) {
        try {
            cpu::latent_pool_ref(q);
        } catch (const Error& e) {
            CHECK_THROWS_AS(cpu::latent_pool(q, pool), Error);
            return e.status();
        }
        return EMBER_OK;
    };
    const ember_latent_pool_params good = ops.params(c, false);
    auto with = [&](auto change) {
        ember_latent_pool_params q = good;
        q.out = out.data();
        change(q);
        return status_of(q);
    };
    CHECK(with([](auto&) {}) == EMBER_OK);
    CHECK(with([](auto& q) { q.out = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& q) { q.score_w = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& q) { q.n_latents = 0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& q) { q.scale = NAN; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& q) { q.x_stride = 3; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& q) { q.w2_dtype = EMBER_DTYPE_Q4_K; }) == EMBER_ERR_INVALID_ARGUMENT);
    const int32_t bad_start[2] = {0, 4};
    CHECK(with([&](auto& q) { q.pool_start = bad_start; }) == EMBER_ERR_INVALID_ARGUMENT);
}
