// LayerNorm: the fast kernel against the scalar twin and the torch.nn.LayerNorm definition.
#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/layernorm.h"
#include "test_util.h"

using namespace ember;
using namespace ember::test;

TEST_CASE("layernorm: fast kernel matches the scalar twin") {
    const uint64_t seed = test_seed();
    ThreadPool pool(3);
    int index = 0;
    for (int64_t rows : {1, 7, 97}) {
        for (int32_t dim : {1, 7, 97, 1025, 4096}) {
            for (bool with_bias : {false, true}) {
                for (bool in_place : {false, true}) {
                    ++index;
                    const int64_t xs = dim + 3, ys = in_place ? xs : dim + 5;
                    // Rows of very different scales, and rows whose spread is tiny against their
                    // offset (the mean must not be rounded to float before subtracting).
                    std::vector<float> x = random_floats(static_cast<size_t>(rows * xs), seed + index);
                    for (int64_t r = 0; r < rows; ++r) {
                        const float scale = std::ldexp(1.0f, static_cast<int>(r % 9) * 4 - 16);
                        const float offset = r % 3 == 2 ? 1000.0f : 0.0f;
                        for (int32_t c = 0; c < dim; ++c) x[r * xs + c] = x[r * xs + c] * scale + offset;
                    }
                    const std::vector<float> w = random_floats(static_cast<size_t>(dim), seed + index + 1, 2.0f);
                    const std::vector<float> b = random_floats(static_cast<size_t>(dim), seed + index + 2);
                    std::vector<float> x_ref = x, x_fast = x;
                    std::vector<float> y_ref(static_cast<size_t>(rows * ys), 3.0f), y_fast = y_ref;
                    ember_layernorm_params p{nullptr, xs, w.data(), with_bias ? b.data() : nullptr, nullptr, ys, rows, dim, 1e-5f};
                    p.x = x_ref.data();
                    p.y = in_place ? x_ref.data() : y_ref.data();
                    cpu::layernorm_ref(p);
                    p.x = x_fast.data();
                    p.y = in_place ? x_fast.data() : y_fast.data();
                    cpu::layernorm(p, pool);
                    INFO("seed=" << seed << " rows=" << rows << " dim=" << dim << " bias=" << with_bias
                                 << " in_place=" << in_place);
                    // The fast kernel rounds the normalised value to float, then multiplies and adds
                    // in float: within 3 ulp of the largest |n w| + |b| of the row (< 4e-7 relative).
                    const std::vector<float>& yr = in_place ? x_ref : y_ref;
                    const std::vector<float>& yf = in_place ? x_fast : y_fast;
                    const int64_t stride = in_place ? xs : ys;
                    double worst = 0;
                    for (int64_t r = 0; r < rows; ++r)
                        worst = std::max(worst, rel_error(yf.data() + r * stride, yr.data() + r * stride, static_cast<size_t>(dim)));
                    CHECK(worst <= 4e-7);
                    if (!in_place) CHECK(rel_error(y_fast, y_ref) <= 4e-7);  // padding untouched
                }
            }
        }
    }
}

TEST_CASE("layernorm: matches the torch.nn.LayerNorm definition") {
    // x = (1, 2, 3, 6): mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5.
    std::vector<float> x{1, 2, 3, 6}, w{1, 2, 0.5f, -1}, b{0, 1, -1, 0.25f}, y(4);
    ember_layernorm_params p{x.data(), 4, w.data(), b.data(), y.data(), 4, 1, 4, 0.5f};
    ThreadPool pool(1);
    cpu::layernorm(p, pool);
    const double inv = 1.0 / std::sqrt(3.5 + 0.5);
    CHECK(y[0] == doctest::Approx(-2 * inv * 1 + 0).epsilon(1e-7));
    CHECK(y[1] == doctest::Approx(-1 * inv * 2 + 1).epsilon(1e-7));
    CHECK(y[2] == doctest::Approx(0 * inv * 0.5 - 1).epsilon(1e-7));
    CHECK(y[3] == doctest::Approx(3 * inv * -1 + 0.25).epsilon(1e-7));
    // NaN in a row spreads to the whole row, never passes as a number.
    x[2] = NAN;
    cpu::layernorm(p, pool);
    for (float v : y) CHECK(std::isnan(v));
}

TEST_CASE("layernorm: invalid parameters are rejected") {
    ThreadPool pool(1);
    std::vector<float> x(16, 1.0f), w(4, 1.0f), y(16);
    const ember_layernorm_params good{x.data(), 4, w.data(), nullptr, y.data(), 4, 4, 4, 1e-5f};
    auto status_of = [&](ember_layernorm_params p) {
        try {
            cpu::layernorm_ref(p);
        } catch (const Error& e) {
            CHECK_THROWS_AS(cpu::layernorm(p, pool), Error);
            return e.status();
        }
        return EMBER_OK;
    };
    CHECK(status_of(good) == EMBER_OK);
    auto with = [&](auto change) {
        ember_layernorm_params p = good;
        change(p);
        return status_of(p);
    };
    CHECK(with([](auto& p) { p.x = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.y = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.weight = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.dim = 0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.rows = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.x_stride = 3; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.eps = NAN; }) == EMBER_ERR_INVALID_ARGUMENT);
}
