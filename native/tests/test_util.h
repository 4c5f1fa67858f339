// Helpers shared by the C++ tests: seeded random inputs (never zeros), error metrics.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "wide_kernels.h"

// doctest 2.4 prints a `const char*` in INFO / MESSAGE as its address; tests log C strings
// (dtype names, ember_last_error()) and need the text.
namespace doctest {
template <> struct StringMaker<const char*> {
    static String convert(const char* p) { return p != nullptr ? String(p) : String("(null)"); }
};
template <> struct StringMaker<char*> {
    static String convert(const char* p) { return StringMaker<const char*>::convert(p); }
};
}  // namespace doctest

namespace ember::test {

// Uniform in [-scale, scale], fresh per seed; tests print the seed on failure.
inline std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// A seed that differs between runs unless EMBER_TEST_SEED is set, so every run tries new inputs.
inline uint64_t test_seed() {
    if (const char* s = std::getenv("EMBER_TEST_SEED")) return std::strtoull(s, nullptr, 10);
    static const uint64_t seed = std::random_device{}();
    return seed;
}

// max |a - b| / max |b|; NaN/Inf anywhere gives +inf so it never passes.
// Cosine similarity in double; a NaN or inf anywhere gives -2 (never passes a >= check).
inline double cosine(const float* a, const float* b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return -2.0;
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

inline double rel_error(const float* a, const float* b, size_t n) {
    double max_diff = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
        max_diff = std::max(max_diff, std::fabs(static_cast<double>(a[i]) - b[i]));
        max_ref = std::max(max_ref, std::fabs(static_cast<double>(b[i])));
    }
    return max_ref > 0 ? max_diff / max_ref : max_diff;
}

inline double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    return rel_error(a.data(), b.data(), a.size());
}

// The kernel variants this CPU can run: the portable one always, then AVX2 and AVX-512 when present.
inline std::vector<Isa> runnable_isas() {
    std::vector<Isa> isas{Isa::Scalar};
    if (cpu_features().avx2) isas.push_back(Isa::Avx2);
    if (cpu_features().avx512) isas.push_back(Isa::Avx512);
    return isas;
}

// One way to run an op's fast kernel, named for failure messages.
template <class Params>
struct FastVariant {
    std::string name;
    std::function<void(const Params&, ThreadPool&)> run;
};

// The fast-kernel variants a test compares with the scalar twin: the kernels of every ISA this
// CPU runs, plus on AVX2 CPUs the 16-lane build of vec_doubled.h ("avx2x2"), which runs the
// tiling of the AVX-512 kernels here.
template <class Params, class Table>
std::vector<FastVariant<Params>> fast_variants(void (*by_isa)(const Params&, ThreadPool&, Isa),
                                               void (*with)(const Params&, ThreadPool&, const Table&),
                                               const Table& wide) {
    std::vector<FastVariant<Params>> out;
    for (Isa isa : runnable_isas())
        out.push_back({isa_name(isa), [by_isa, isa](const Params& p, ThreadPool& pool) { by_isa(p, pool, isa); }});
    if (cpu_features().avx2)
        out.push_back({"avx2x2", [with, &wide](const Params& p, ThreadPool& pool) { with(p, pool, wide); }});
    return out;
}

// For validation tests: with(change) applies `change` to a copy of the known-good parameters and
// returns the status the scalar twin throws for them (EMBER_OK when it accepts them), after
// checking that the fast kernel rejects the same parameters.
template <class Params, class Ref, class Fast>
auto validation_probe(const Params& good, Ref ref, Fast fast) {
    return [=](auto change) {
        Params p = good;
        change(p);
        ember_status status = EMBER_OK;
        try {
            ref(p);
        } catch (const Error& e) {
            status = e.status();
        }
        if (status != EMBER_OK) CHECK_THROWS_AS(fast(p), Error);
        return status;
    };
}

// Unit roundoff of float: 2^-24, half an ulp of 1.
constexpr double kUnitRoundoff = 5.9604644775390625e-8;

}  // namespace ember::test
