// GELU (exact erf form) and GEGLU: every ISA's kernel against the double-precision twin.
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/gelu.h"
#include "test_util.h"

using namespace ember;
using namespace ember::test;

namespace {

double spacing_at(double v) {
    const float f = static_cast<float>(std::fabs(v));
    return static_cast<double>(std::nextafter(f, INFINITY)) - f;
}

// The kernel's accuracy bound (see vgelu in gelu_impl.h): 8 ulp of the exact value times
// (1 + x^2 / 2), gelu's own condition number for x << 0, plus one rounding for the GEGLU product;
// results below FLT_MIN are checked absolutely. NaN anywhere fails.
double excess(float got, float gate, float ref, bool with_up) {
    if (std::isnan(got) || std::isnan(ref)) return std::isnan(got) && std::isnan(ref) ? 0.0 : INFINITY;
    const double allowed = (8.0 * (1.0 + 0.5 * double(gate) * gate) + (with_up ? 1.0 : 0.0)) * spacing_at(ref) +
                           std::numeric_limits<float>::min();
    return std::fabs(double(got) - ref) / allowed;
}

}  // namespace

TEST_CASE("gelu: known values") {
    // 0.5 x (1 + erf(x / sqrt 2)) from the double formula.
    const float x[] = {0.0f, 1.0f, -1.0f, 3.0f, -3.0f, 0.5f, -8.0f, 20.0f};
    const double want[] = {0.0, 0.8413447460685429, -0.15865525393145707, 2.99595030590511,
                           -0.004049694094890287, 0.34573123063700656, -4.9767684594174555e-15, 20.0};
    for (Isa isa : runnable_isas()) {
        float y[8];
        ember_gelu_params p{x, 8, nullptr, 0, y, 8, 1, 8};
        ThreadPool pool(1);
        cpu::gelu(p, pool, isa);
        INFO("isa=" << std::string(isa_name(isa)));
        for (int i = 0; i < 8; ++i) {
            INFO("x=" << x[i]);
            // 1e-6 relative, scaled by the condition number (1 + x^2 / 2) in the far negative tail.
            CHECK(std::fabs(y[i] - want[i]) <= 1e-6 * (1 + 0.5 * x[i] * x[i]) * std::fabs(want[i]) + 1e-30);
        }
    }
}

TEST_CASE("gelu / geglu: fast kernels match the scalar twin") {
    const uint64_t seed = test_seed();
    ThreadPool pool1(1), pool3(3);
    int index = 0;
    for (int64_t rows : {1, 7, 97}) {
        for (int64_t cols : {1, 7, 97, 1025}) {
            for (bool with_up : {false, true}) {
                ++index;
                const int64_t gs = cols + 3, us = cols + 1, os = cols + 2;
                // gate spans both tails: erfc(|z|) underflows past x ~ -14
                std::vector<float> gate = random_floats(static_cast<size_t>(rows * gs), seed + index, 16.0f);
                for (size_t i = 0; i < gate.size(); i += 5) gate[i] *= 0.125f;  // and the middle densely
                std::vector<float> up = random_floats(static_cast<size_t>(rows * us), seed + index + 500, 3.0f);
                ember_gelu_params p{gate.data(), gs, with_up ? up.data() : nullptr, us, nullptr, os, rows, cols};
                std::vector<float> ref(static_cast<size_t>(rows * os), 7.0f);
                p.out = ref.data();
                cpu::gelu_ref(p);
                for (Isa isa : runnable_isas()) {
                    for (ThreadPool* pool : {&pool1, &pool3}) {
                        std::vector<float> out(ref.size(), 7.0f);
                        p.out = out.data();
                        cpu::gelu(p, *pool, isa);
                        INFO("seed=" << seed << " rows=" << rows << " cols=" << cols << " up=" << with_up
                                     << " isa=" << std::string(isa_name(isa)) << " threads=" << pool->size());
                        double worst = 0;
                        for (int64_t r = 0; r < rows; ++r)
                            for (int64_t c = 0; c < cols; ++c)
                                worst = std::max(worst, excess(out[r * os + c], gate[r * gs + c], ref[r * os + c], with_up));
                        CHECK(worst <= 1.0);
                        for (int64_t r = 0; r < rows; ++r) CHECK(out[r * os + cols] == 7.0f);  // padding
                    }
                }
            }
        }
    }
}

TEST_CASE("gelu: a dense grid, special values, and out aliasing gate or up") {
    std::vector<float> x;
    for (int i = 0; i <= 200000; ++i) x.push_back(-16.0f + 32.0f * i / 200000.0f);
    for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-40f, 1e6f, -1e6f, INFINITY}) x.push_back(v);
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<float> ref(x.size());
    ember_gelu_params p{x.data(), n, nullptr, 0, ref.data(), n, 1, n};
    cpu::gelu_ref(p);
    ThreadPool pool(2);
    for (Isa isa : runnable_isas()) {
        INFO("isa=" << std::string(isa_name(isa)));
        std::vector<float> y = x;  // in place
        ember_gelu_params q{y.data(), n, nullptr, 0, y.data(), n, 1, n};
        cpu::gelu(q, pool, isa);
        double worst = 0;
        for (int64_t i = 0; i < n; ++i) worst = std::max(worst, excess(y[i], x[i], ref[i], false));
        CHECK(worst <= 1.0);
        CHECK(y[n - 1] == INFINITY);
        CHECK(y[n - 3] == 1e6f);
        CHECK(y[n - 2] == 0.0f);
        const float nan_in[2] = {NAN, 1.0f};
        float nan_out[2];
        ember_gelu_params r{nan_in, 2, nullptr, 0, nan_out, 2, 1, 2};
        cpu::gelu(r, pool, isa);
        CHECK(std::isnan(nan_out[0]));
        // GEGLU written over its up operand.
        std::vector<float> up = random_floats(x.size(), test_seed(), 2.0f), u = up, want(x.size());
        ember_gelu_params s{x.data(), n, up.data(), n, want.data(), n, 1, n};
        cpu::gelu_ref(s);
        ember_gelu_params t{x.data(), n, u.data(), n, u.data(), n, 1, n};
        cpu::gelu(t, pool, isa);
        worst = 0;
        for (int64_t i = 0; i < n - 8; ++i) worst = std::max(worst, excess(u[i], x[i], want[i], true));
        CHECK(worst <= 1.0);
    }
}

TEST_CASE("gelu: invalid parameters are rejected") {
    ThreadPool pool(1);
    std::vector<float> a(16, 1.0f), b(16, 1.0f), c(16);
    const ember_gelu_params good{a.data(), 4, b.data(), 4, c.data(), 4, 4, 4};
    auto status_of = [&](ember_gelu_params p) {
        try {
            cpu::gelu_ref(p);
        } catch (const Error& e) {
            CHECK_THROWS_AS(cpu::gelu(p, pool), Error);
            return e.status();
        }
        return EMBER_OK;
    };
    CHECK(status_of(good) == EMBER_OK);
    ember_gelu_params p = good;
    p.gate = nullptr;
    CHECK(status_of(p) == EMBER_ERR_INVALID_ARGUMENT);
    p = good;
    p.up_stride = 3;
    CHECK(status_of(p) == EMBER_ERR_INVALID_ARGUMENT);
    p = good;
    p.up = nullptr;
    p.up_stride = 0;
    CHECK(status_of(p) == EMBER_OK);
    p = good;
    p.cols = -1;
    CHECK(status_of(p) == EMBER_ERR_INVALID_ARGUMENT);
}
