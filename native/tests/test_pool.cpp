// Pooling (LAST / CLS / MEAN with pool_start) and L2 normalisation.
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/pool.h"
#include "test_util.h"

using namespace ember;
using namespace ember::test;

TEST_CASE("pool: fast kernel matches the scalar twin") {
    const uint64_t seed = test_seed();
    ThreadPool pool(3);
    const std::vector<int32_t> lengths{1, 7, 97, 1025, 2};
    std::vector<int32_t> cu{0};
    for (int32_t l : lengths) cu.push_back(cu.back() + l);
    const std::vector<int32_t> starts{0, 3, 96, 500, 1};
    const int32_t n_seqs = static_cast<int32_t>(lengths.size());
    int index = 0;
    for (int32_t dim : {1, 7, 1024}) {
        for (int32_t mode : {EMBER_POOLING_LAST, EMBER_POOLING_CLS, EMBER_POOLING_MEAN}) {
            for (bool with_start : {false, true}) {
                ++index;
                const int64_t xs = dim + 2;
                std::vector<float> x = random_floats(static_cast<size_t>(cu.back() * xs), seed + index);
                for (int64_t r = 0; r < cu.back(); ++r) x[r * xs + dim] = x[r * xs + dim + 1] = NAN;  // padding
                ember_pool_params p{x.data(), xs, cu.data(), n_seqs, with_start ? starts.data() : nullptr, dim, mode, nullptr};
                std::vector<float> ref(static_cast<size_t>(n_seqs * dim)), fast(ref.size());
                p.out = ref.data();
                cpu::pool_ref(p);
                p.out = fast.data();
                cpu::pool(p, pool);
                INFO("seed=" << seed << " dim=" << dim << " mode=" << mode << " pool_start=" << with_start);
                // Both sum in double: equal up to the final rounding.
                CHECK(rel_error(fast, ref) <= 2 * kUnitRoundoff);
                for (int32_t s = 0; s < n_seqs; ++s) {
                    const float* out = fast.data() + s * dim;
                    if (mode == EMBER_POOLING_LAST)
                        CHECK(std::memcmp(out, x.data() + (cu[s + 1] - 1) * xs, dim * 4) == 0);
                    if (mode == EMBER_POOLING_CLS) CHECK(std::memcmp(out, x.data() + cu[s] * xs, dim * 4) == 0);
                    if (mode == EMBER_POOLING_MEAN) {  // the mean written out, for one column
                        const int64_t first = cu[s] + (with_start ? starts[s] : 0);
                        double sum = 0;
                        for (int64_t r = first; r < cu[s + 1]; ++r) sum += x[r * xs];
                        CHECK(out[0] == doctest::Approx(sum / (cu[s + 1] - first)).epsilon(1e-6));
                    }
                }
            }
        }
    }
}

TEST_CASE("pool: invalid parameters are rejected") {
    ThreadPool pool(1);
    std::vector<int32_t> cu{0, 3, 5}, starts{1, 1};
    std::vector<float> x(5 * 4, 1.0f), out(8);
    const ember_pool_params good{x.data(), 4, cu.data(), 2, starts.data(), 4, EMBER_POOLING_MEAN, out.data()};
    auto with = validation_probe(good, [](const ember_pool_params& p) { cpu::pool_ref(p); },
                                 [&](const ember_pool_params& p) { cpu::pool(p, pool); });
    CHECK(with([](auto&) {}) == EMBER_OK);
    std::vector<int32_t> empty_cu{0, 3, 3}, start_at_end{1, 2}, negative_start{-1, 0};
    CHECK(with([&](auto& p) { p.cu_seqlens = empty_cu.data(); }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([&](auto& p) { p.cu_seqlens = empty_cu.data(); p.mode = EMBER_POOLING_LAST; }) ==
          EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([&](auto& p) { p.pool_start = start_at_end.data(); }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([&](auto& p) { p.pool_start = negative_start.data(); }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.mode = EMBER_POOLING_LATENT; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.mode = 42; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.x = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.out = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.dim = 0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.x_stride = 3; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.cu_seqlens = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
}

TEST_CASE("l2_normalize: unit rows, zero rows stay zero") {
    const int64_t rows = 4, dim = 1025, stride = 1030;
    std::vector<float> x = random_floats(rows * stride, test_seed(), 1e3f);
    for (int64_t c = 0; c < dim; ++c) x[2 * stride + c] = 0.0f;
    for (int64_t c = 0; c < dim; ++c) x[3 * stride + c] *= 1e-30f;  // norm below the 1e-12 floor
    const std::vector<float> x0 = x;
    cpu::l2_normalize(x.data(), rows, dim, stride);
    for (int64_t r : {0, 1, 3}) {
        double ss = 0, dot = 0, n0 = 0;
        for (int64_t c = 0; c < dim; ++c) {
            ss += double(x[r * stride + c]) * x[r * stride + c];
            dot += double(x[r * stride + c]) * x0[r * stride + c];
            n0 += double(x0[r * stride + c]) * x0[r * stride + c];
        }
        if (std::sqrt(n0) >= 1e-12) {
            CHECK(std::sqrt(ss) == doctest::Approx(1.0).epsilon(1e-6));
            CHECK(dot / std::sqrt(n0) == doctest::Approx(1.0).epsilon(1e-6));  // same direction
        } else {  // below the floor: divided by 1e-12, as torch.nn.functional.normalize does
            CHECK(x[r * stride] == doctest::Approx(x0[r * stride] / 1e-12).epsilon(1e-6));
        }
    }
    bool zero_kept = true;
    for (int64_t c = 0; c < dim; ++c) zero_kept &= x[2 * stride + c] == 0.0f;
    CHECK(zero_kept);
    for (int64_t c = dim; c < stride; ++c) CHECK(x[c] == x0[c]);  // padding untouched
    CHECK_THROWS_AS(cpu::l2_normalize(x.data(), 2, 8, 4), Error);
    CHECK_THROWS_AS(cpu::l2_normalize(nullptr, 2, 8, 8), Error);
}
