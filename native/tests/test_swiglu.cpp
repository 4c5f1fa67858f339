// SwiGLU and the vector exp behind it (and behind attention's softmax).
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/common.h"
#include "ops/swiglu.h"
#include "ops/swiglu_impl.h"
#include "test_util.h"
#include "wide_kernels.h"

using namespace ember;
using namespace ember::test;

namespace {

// Distance from got to the exact value in units of the float spacing at the exact value.
double ulps(float got, double exact) {
    const float f = static_cast<float>(std::fabs(exact));
    const double spacing = std::nextafter(f, INFINITY) - f;
    return std::fabs(got - exact) / spacing;
}

// The exp of every kernel table this CPU runs (see fast_variants).
std::vector<std::pair<std::string, const cpu::SwigluKernels*>> exp_tables() {
    std::vector<std::pair<std::string, const cpu::SwigluKernels*>> out;
    for (Isa isa : runnable_isas())
        out.push_back({isa_name(isa), &cpu::kernels_for(isa, cpu::kSwigluSse, cpu::kSwigluAvx2, cpu::kSwigluAvx512)});
    if (cpu_features().avx2) out.push_back({"avx2x2", &test::kSwigluWide});
    return out;
}

}  // namespace

TEST_CASE("vector exp: within 2 ulp where the result is normal, exact at the edges") {
    const uint64_t seed = test_seed();
    std::vector<float> x;
    for (int i = 0; i <= 400000; ++i) x.push_back(-88.0f + 176.7f * i / 400000.0f);  // dense grid
    std::vector<float> r = random_floats(200000, seed, 88.0f);
    x.insert(x.end(), r.begin(), r.end());
    for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 0.5f, -0.5f, 0.34657359f, 88.72f, -87.33f})
        x.push_back(v);
    for (const auto& [name, table] : exp_tables()) {
        std::vector<float> y(x.size());
        table->exp(x.data(), y.data(), static_cast<int64_t>(x.size()));
        double worst = 0;
        float worst_x = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            const double exact = std::exp(static_cast<double>(x[i]));
            if (exact < std::numeric_limits<float>::min() || exact > std::numeric_limits<float>::max()) continue;
            const double e = ulps(y[i], exact);
            if (!(e <= worst)) {
                worst = e;
                worst_x = x[i];
            }
        }
        INFO("seed=" << seed << " kernels=" << name << " worst at x=" << worst_x);
        CHECK(worst <= 2.0);

        // Special values and the under/overflow edges.
        const float in[] = {-INFINITY, INFINITY, NAN, -200.0f, 200.0f, 88.7228394f, 88.8f, -103.0f,
                            -95.0f, -87.5f};
        float out[10];
        table->exp(in, out, 10);
        CHECK(out[0] == 0.0f);
        CHECK(out[1] == INFINITY);
        CHECK(std::isnan(out[2]));
        CHECK(out[3] == 0.0f);
        CHECK(out[4] == INFINITY);
        CHECK(out[5] == INFINITY);  // just past log(FLT_MAX)
        CHECK(out[6] == INFINITY);
        for (int i = 7; i < 10; ++i) {  // subnormal results: within one step of the smallest spacing
            INFO("x=" << in[i]);
            CHECK(std::fabs(out[i] - std::exp(static_cast<double>(in[i]))) <= 1.5 * 1.401298464e-45);
        }
    }
}

TEST_CASE("swiglu: fast kernels match the scalar twin") {
    const uint64_t seed = test_seed();
    ThreadPool pool1(1), pool3(3);
    const auto variants =
        fast_variants<ember_swiglu_params, cpu::SwigluKernels>(&cpu::swiglu, &cpu::swiglu_with, test::kSwigluWide);
    int index = 0;
    for (int64_t rows : {1, 7, 97}) {
        for (int64_t cols : {1, 7, 97, 1025, 3072}) {
            ++index;
            const int64_t gs = cols + 3, us = cols + 1, os = cols + 2;
            // gate spans the saturated ends of silu too
            std::vector<float> gate = random_floats(static_cast<size_t>(rows * gs), seed + index, 30.0f);
            std::vector<float> up = random_floats(static_cast<size_t>(rows * us), seed + index + 500);
            ember_swiglu_params p{gate.data(), gs, up.data(), us, nullptr, os, rows, cols};
            std::vector<float> ref(static_cast<size_t>(rows * os), 7.0f);
            p.out = ref.data();
            cpu::swiglu_ref(p);
            for (const auto& variant : variants) {
                for (ThreadPool* pool : {&pool1, &pool3}) {
                    std::vector<float> out(ref.size(), 7.0f);
                    p.out = out.data();
                    variant.run(p, *pool);
                    INFO("seed=" << seed << " rows=" << rows << " cols=" << cols << " kernels="
                                 << variant.name << " threads=" << pool->size());
                    // exp within 2 ulp, then 1 + e, the quotient and the product round once each:
                    // a few ulp of each element; 1e-6 relative per element is 16 ulp.
                    double worst = 0;
                    for (size_t i = 0; i < out.size(); ++i) {
                        const double d = std::fabs(static_cast<double>(out[i]) - ref[i]);
                        const double e = d / std::max(std::fabs(static_cast<double>(ref[i])), 1e-30);
                        worst = std::max(worst, std::isfinite(out[i]) ? e : INFINITY);
                    }
                    CHECK(worst <= 1e-6);
                    CHECK(rel_error(out, ref) <= 1e-6);  // padding (7.0) untouched too
                }
            }
        }
    }
}

TEST_CASE("swiglu: out may be gate") {
    ThreadPool pool(2);
    const int64_t rows = 5, cols = 37;
    std::vector<float> gate = random_floats(rows * cols, test_seed(), 8.0f), up = random_floats(rows * cols, test_seed() + 1);
    std::vector<float> ref(gate.size());
    ember_swiglu_params p{gate.data(), cols, up.data(), cols, ref.data(), cols, rows, cols};
    cpu::swiglu_ref(p);
    for (const auto& variant : fast_variants<ember_swiglu_params, cpu::SwigluKernels>(
             &cpu::swiglu, &cpu::swiglu_with, test::kSwigluWide)) {
        std::vector<float> g = gate;
        ember_swiglu_params q{g.data(), cols, up.data(), cols, g.data(), cols, rows, cols};
        variant.run(q, pool);
        CHECK(rel_error(g, ref) <= 1e-6);
    }
}

TEST_CASE("swiglu: invalid parameters are rejected") {
    ThreadPool pool(1);
    std::vector<float> a(16, 1.0f), b(16, 1.0f), c(16);
    const ember_swiglu_params good{a.data(), 4, b.data(), 4, c.data(), 4, 4, 4};
    auto with = validation_probe(good, [](const ember_swiglu_params& p) { cpu::swiglu_ref(p); },
                                 [&](const ember_swiglu_params& p) { cpu::swiglu(p, pool); });
    CHECK(with([](auto&) {}) == EMBER_OK);
    CHECK(with([](auto& p) { p.gate = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.out = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.up_stride = 3; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.rows = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.cols = -2; }) == EMBER_ERR_INVALID_ARGUMENT);
}
