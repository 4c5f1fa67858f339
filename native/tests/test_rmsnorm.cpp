// RMSNorm (with and without the fused residual add): the fast kernel against the scalar twin.
#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/rmsnorm.h"
#include "test_util.h"

using namespace ember;
using namespace ember::test;

TEST_CASE("rmsnorm: fast kernel matches the scalar twin") {
    const uint64_t seed = test_seed();
    ThreadPool pool(3);
    int index = 0;
    for (int64_t rows : {1, 7, 97}) {
        for (int32_t dim : {1, 7, 97, 1025, 4096}) {
            for (bool with_residual : {false, true}) {
                for (bool in_place : {false, true}) {
                    ++index;
                    const int64_t xs = dim + 3, rs = dim + 1, ys = in_place ? xs : dim + 5;
                    // rows of very different scales: the normalisation must not care
                    std::vector<float> x = random_floats(static_cast<size_t>(rows * xs), seed + index);
                    for (int64_t r = 0; r < rows; ++r)
                        for (int32_t c = 0; c < dim; ++c) x[r * xs + c] *= std::ldexp(1.0f, static_cast<int>(r % 9) * 4 - 16);
                    const std::vector<float> res = random_floats(static_cast<size_t>(rows * rs), seed + index + 1);
                    const std::vector<float> w = random_floats(static_cast<size_t>(dim), seed + index + 2, 2.0f);
                    std::vector<float> x_ref = x, x_fast = x;
                    std::vector<float> y_ref(static_cast<size_t>(rows * ys), 3.0f), y_fast = y_ref;
                    ember_rmsnorm_params p{nullptr, xs, with_residual ? res.data() : nullptr, rs, w.data(),
                                           nullptr, ys, rows, dim, 1e-6f};
                    p.x = x_ref.data();
                    p.y = in_place ? x_ref.data() : y_ref.data();
                    cpu::rmsnorm_ref(p);
                    p.x = x_fast.data();
                    p.y = in_place ? x_fast.data() : y_fast.data();
                    cpu::rmsnorm(p, pool);
                    INFO("seed=" << seed << " rows=" << rows << " dim=" << dim << " residual=" << with_residual
                                 << " in_place=" << in_place);
                    // Both sum squares in double; the fast kernel then rounds 1/rms to float and
                    // multiplies twice in float: within 3 ulp per element (3 * 2^-23 < 4e-7), checked
                    // row by row since rows differ in scale by up to 2^32.
                    const std::vector<float>& yr = in_place ? x_ref : y_ref;
                    const std::vector<float>& yf = in_place ? x_fast : y_fast;
                    const int64_t stride = in_place ? xs : ys;
                    double worst = 0;
                    for (int64_t r = 0; r < rows; ++r)
                        worst = std::max(worst, rel_error(yf.data() + r * stride, yr.data() + r * stride, static_cast<size_t>(dim)));
                    CHECK(worst <= 4e-7);
                    if (!in_place) CHECK(rel_error(y_fast, y_ref) <= 4e-7);  // padding untouched
                    if (with_residual && !in_place) CHECK(x_fast == x_ref);  // x += residual, exactly
                }
            }
        }
    }
}

TEST_CASE("rmsnorm: matches the Hugging Face definition") {
    // x * rsqrt(mean(x^2) + eps) * w on a hand-checked row: mean(x^2) = (1 + 4 + 9 + 16) / 4 = 7.5.
    std::vector<float> x{1, -2, 3, 4}, res{0.5f, 0.5f, -1, 0}, w{1, 2, 0.5f, -1}, y(4);
    ember_rmsnorm_params p{x.data(), 4, nullptr, 4, w.data(), y.data(), 4, 1, 4, 0.5f};
    ThreadPool pool(1);
    cpu::rmsnorm(p, pool);
    const double inv = 1.0 / std::sqrt(7.5 + 0.5);
    CHECK(y[0] == doctest::Approx(1 * inv * 1).epsilon(1e-7));
    CHECK(y[1] == doctest::Approx(-2 * inv * 2).epsilon(1e-7));
    CHECK(y[3] == doctest::Approx(4 * inv * -1).epsilon(1e-7));
    // With the residual: x becomes (1.5, -1.5, 2, 4), mean of squares (2.25 + 2.25 + 4 + 16) / 4.
    p.residual = res.data();
    cpu::rmsnorm(p, pool);
    CHECK(x[0] == 1.5f);
    CHECK(x[2] == 2.0f);
    CHECK(y[2] == doctest::Approx(2 * 0.5 / std::sqrt(24.5 / 4 + 0.5)).epsilon(1e-7));
}

TEST_CASE("rmsnorm: invalid parameters are rejected") {
    ThreadPool pool(1);
    std::vector<float> x(16, 1.0f), w(4, 1.0f), y(16);
    const ember_rmsnorm_params good{x.data(), 4, nullptr, 0, w.data(), y.data(), 4, 4, 4, 1e-6f};
    auto with = validation_probe(good, [](const ember_rmsnorm_params& p) { cpu::rmsnorm_ref(p); },
                                 [&](const ember_rmsnorm_params& p) { cpu::rmsnorm(p, pool); });
    CHECK(with([](auto&) {}) == EMBER_OK);
    CHECK(with([](auto& p) { p.x = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.y = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.weight = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.dim = 0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.rows = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.x_stride = 3; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.y_stride = 2; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([&](auto& p) { p.residual = x.data(); p.residual_stride = 1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.eps = -1.0f; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.eps = NAN; }) == EMBER_ERR_INVALID_ARGUMENT);
}
