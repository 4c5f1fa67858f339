// Matmul: the fast kernels (every ISA this CPU runs, 1 and 3 threads) against the scalar twin.
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/common.h"
#include "ops/matmul.h"
#include "ops/matmul_impl.h"
#include "test_util.h"
#include "wide_kernels.h"

using namespace ember;
using namespace ember::test;

namespace {

struct Weights {
    std::vector<float> f32;
    std::vector<uint16_t> half;  // bf16 or f16 bits
    const void* data(int32_t dtype) const {
        return dtype == EMBER_DTYPE_F32 ? static_cast<const void*>(f32.data()) : half.data();
    }
    Weights abs() const {  // clearing the sign bit is |w| in all three formats
        Weights a = *this;
        for (float& v : a.f32) v = std::fabs(v);
        for (uint16_t& h : a.half) h &= 0x7fff;
        return a;
    }
};

Weights make_weights(int32_t dtype, size_t count, uint64_t seed) {
    Weights w;
    w.f32 = random_floats(count, seed);
    if (dtype == EMBER_DTYPE_BF16)
        for (float v : w.f32) w.half.push_back(f32_to_bf16(v));
    if (dtype == EMBER_DTYPE_F16)
        for (float v : w.f32) w.half.push_back(f32_to_f16(v));
    return w;
}

const char* dtype_name(int32_t dtype) {
    return dtype == EMBER_DTYPE_F32 ? "f32" : dtype == EMBER_DTYPE_BF16 ? "bf16" : "f16";
}

struct Shape {
    int64_t m, k, n;
};

// Odd shapes around the kernels' edges: gemv (m <= 8) and gemm, k below / across the 256 block,
// n around the 3-column gemv tiles and the 16 / 32 panel widths, single rows and columns.
const Shape kShapes[] = {{1, 7, 1},       {1, 1024, 257}, {3, 100, 257}, {4, 1025, 31},  {5, 7, 33},
                         {8, 33, 50},     {9, 257, 17},   {17, 1024, 257}, {17, 100, 1}, {128, 100, 257},
                         {128, 1024, 64}, {515, 7, 257},  {515, 300, 33}, {64, 513, 1000}};

// Largest |fast - ref| divided by the largest sum_p |x_ip w_jp| + |bias_j| + |y_ij| (`terms`: the
// reference run on absolute values). Dividing by the terms rather than by |y| keeps the measure
// meaningful when an output nearly cancels, as single outputs over a short k often do.
double matmul_error(const std::vector<float>& fast, const std::vector<float>& ref, const std::vector<float>& terms) {
    double max_diff = 0, max_terms = 0;
    for (size_t i = 0; i < fast.size(); ++i) {
        if (!std::isfinite(fast[i]) || !std::isfinite(ref[i])) return INFINITY;
        max_diff = std::max(max_diff, std::fabs(static_cast<double>(fast[i]) - ref[i]));
        max_terms = std::max(max_terms, static_cast<double>(terms[i]));
    }
    return max_diff / max_terms;
}

// f32 accumulation of k products carries a rounding error that grows like a random walk: about
// sqrt(k) * 2^-24 of the terms (the worst case is k * 2^-24). 4 sqrt(k) u leaves room for the tail
// of the distribution, while a missing or doubled product (about 1/k of the terms) is far above it
// for every k tested.
double matmul_tolerance(int64_t k) { return 4.0 * std::sqrt(static_cast<double>(k)) * kUnitRoundoff; }

}  // namespace

TEST_CASE("matmul: fast kernels match the scalar twin") {
    const uint64_t seed = test_seed();
    ThreadPool pool1(1), pool3(3);
    const auto variants = fast_variants<ember_matmul_params, cpu::MatmulKernels>(&cpu::matmul, &cpu::matmul_with,
                                                                                test::kMatmulWide);
    int case_index = 0;
    for (const Shape& s : kShapes) {
        for (int32_t dtype : {EMBER_DTYPE_F32, EMBER_DTYPE_BF16, EMBER_DTYPE_F16}) {
            ++case_index;
            const uint64_t cs = seed + 1000 * case_index;
            // Vary the options with the case: padding, accumulate, bias.
            const int64_t x_pad = case_index % 3 == 0 ? 0 : 5, y_pad = case_index % 2 == 0 ? 0 : 3;
            const bool accumulate = case_index % 4 >= 2, with_bias = case_index % 3 != 1;
            const int64_t xs = s.k + x_pad, ys = s.n + y_pad;
            std::vector<float> x = random_floats(static_cast<size_t>(s.m * xs), cs);
            for (int64_t i = 0; i < s.m; ++i)  // padding must never be read: NaN would show
                for (int64_t q = s.k; q < xs; ++q) x[i * xs + q] = NAN;
            const Weights w = make_weights(dtype, static_cast<size_t>(s.n * s.k), cs + 1);
            const std::vector<float> bias = random_floats(static_cast<size_t>(s.n), cs + 2);
            std::vector<float> y0 = random_floats(static_cast<size_t>(s.m * ys), cs + 3);

            ember_matmul_params p{};
            p.x = x.data();
            p.x_stride = xs;
            p.w = w.data(dtype);
            p.w_dtype = dtype;
            p.bias = with_bias ? bias.data() : nullptr;
            p.y_stride = ys;
            p.m = s.m;
            p.n = s.n;
            p.k = s.k;
            p.accumulate = accumulate;

            std::vector<float> ref = y0;
            p.y = ref.data();
            cpu::matmul_ref(p);
            std::vector<float> terms(y0.size());
            {
                std::vector<float> ax = x, ab = bias;
                for (float& v : ax) v = std::fabs(v);
                for (float& v : ab) v = std::fabs(v);
                for (size_t i = 0; i < y0.size(); ++i) terms[i] = std::fabs(y0[i]);
                const Weights aw = w.abs();
                ember_matmul_params pa = p;
                pa.x = ax.data();
                pa.w = aw.data(dtype);
                pa.bias = with_bias ? ab.data() : nullptr;
                pa.y = terms.data();
                cpu::matmul_ref(pa);
            }

            for (const auto& variant : variants) {
                for (ThreadPool* pool : {&pool1, &pool3}) {
                    std::vector<float> y = y0;
                    p.y = y.data();
                    variant.run(p, *pool);
                    INFO("seed=" << seed << " m=" << s.m << " k=" << s.k << " n=" << s.n << " dtype="
                                 << std::string(dtype_name(dtype)) << " kernels=" << variant.name << " threads="
                                 << pool->size() << " accumulate=" << accumulate << " bias=" << with_bias);
                    CHECK(matmul_error(y, ref, terms) <= matmul_tolerance(s.k));
                    bool padding_kept = true;
                    for (int64_t i = 0; i < s.m; ++i)
                        for (int64_t j = s.n; j < ys; ++j)
                            padding_kept &= std::memcmp(&y[i * ys + j], &y0[i * ys + j], 4) == 0;
                    CHECK(padding_kept);
                }
            }
        }
    }
}

TEST_CASE("matmul: NaN in the input reaches the output") {
    ThreadPool pool(2);
    for (int64_t m : {4, 9}) {  // gemv and gemm
        const int64_t k = 40, n = 20;
        std::vector<float> x = random_floats(m * k, test_seed()), w = random_floats(n * k, test_seed() + 1);
        x[3 * k + 5] = NAN;
        std::vector<float> y(m * n, 0.0f);
        ember_matmul_params p{x.data(), k, w.data(), EMBER_DTYPE_F32, nullptr, y.data(), n, m, n, k, 0};
        for (const auto& variant : fast_variants<ember_matmul_params, cpu::MatmulKernels>(
                 &cpu::matmul, &cpu::matmul_with, test::kMatmulWide)) {
            INFO("m=" << m << " kernels=" << variant.name);
            variant.run(p, pool);
            bool row_nan = true;
            for (int64_t j = 0; j < n; ++j) row_nan &= std::isnan(y[3 * n + j]);
            CHECK(row_nan);
            CHECK(std::isfinite(y[0]));
        }
    }
}

TEST_CASE("matmul: vector weight conversions are exact for every 16-bit pattern") {
    std::vector<uint16_t> bits(65536);
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<uint16_t>(i);
    std::vector<std::pair<std::string, const cpu::MatmulKernels*>> tables;
    for (Isa isa : runnable_isas())
        tables.push_back({isa_name(isa), &cpu::kernels_for(isa, cpu::kMatmulSse, cpu::kMatmulAvx2, cpu::kMatmulAvx512)});
    if (cpu_features().avx2) tables.push_back({"avx2x2", &test::kMatmulWide});
    for (const auto& [name, table] : tables) {
        const cpu::MatmulKernels& kern = *table;
        for (int32_t dtype : {EMBER_DTYPE_BF16, EMBER_DTYPE_F16}) {
            std::vector<float> out(bits.size() + 3, 0.0f);
            kern.convert(dtype, bits.data() + 3, out.data(), static_cast<int64_t>(bits.size() - 3));
            int mismatches = 0;
            for (size_t i = 3; i < bits.size(); ++i) {
                const float want = dtype == EMBER_DTYPE_BF16 ? bf16_to_f32(bits[i]) : f16_to_f32(bits[i]);
                // Bit-exact, except that F16C quiets signalling NaNs (any NaN is fine as a weight).
                const bool same = std::memcmp(&want, &out[i - 3], 4) == 0 ||
                                  (std::isnan(want) && std::isnan(out[i - 3]));
                mismatches += !same;
            }
            INFO("kernels=" << name << " dtype=" << std::string(dtype_name(dtype)));
            CHECK(mismatches == 0);
        }
    }
}

TEST_CASE("matmul: AVX-512 kernels are used only where the CPU has AVX-512") {
    if (!cpu_features().avx512) {
        CHECK(active_isa() != Isa::Avx512);
        ThreadPool pool(1);
        float x = 1, w = 1, y = 0;
        ember_matmul_params p{&x, 1, &w, EMBER_DTYPE_F32, nullptr, &y, 1, 1, 1, 1, 0};
        CHECK_THROWS_AS(cpu::matmul(p, pool, Isa::Avx512), Error);
    }
    if (!cpu_features().avx2) CHECK(active_isa() == Isa::Scalar);
    const char* env = std::getenv("EMBER_ISA");
    if (env == nullptr && cpu_features().avx512) CHECK(active_isa() == Isa::Avx512);
    if (env == nullptr && cpu_features().avx2 && !cpu_features().avx512) CHECK(active_isa() == Isa::Avx2);
}

TEST_CASE("matmul: invalid parameters are rejected") {
    ThreadPool pool(1);
    std::vector<float> x(64, 1.0f), w(64, 1.0f), y(64, 0.0f);
    const ember_matmul_params good{x.data(), 4, w.data(), EMBER_DTYPE_F32, nullptr, y.data(), 4, 4, 4, 4, 0};
    auto with = validation_probe(good, [](const ember_matmul_params& p) { cpu::matmul_ref(p); },
                                 [&](const ember_matmul_params& p) { cpu::matmul(p, pool); });
    CHECK(with([](auto&) {}) == EMBER_OK);
    CHECK(with([](auto& p) { p.x = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.w = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.y = nullptr; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.m = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.n = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.k = -1; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.k = 0; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.x_stride = 3; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.y_stride = 3; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.x_stride = INT64_MAX / 2; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.w_dtype = 99; }) == EMBER_ERR_INVALID_ARGUMENT);
    // Quantized types go to ops/qmatmul, which needs k in whole blocks.
    CHECK(with([](auto& p) { p.w_dtype = EMBER_DTYPE_Q8_0; p.k = 7; p.x_stride = 7; }) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(with([](auto& p) { p.w_dtype = EMBER_DTYPE_Q4_K; p.k = 32; p.x_stride = 32; }) == EMBER_ERR_INVALID_ARGUMENT);
    // Empty outputs need no pointers at all.
    CHECK(with([](auto& p) { p.m = 0; p.x = nullptr; p.y = nullptr; }) == EMBER_OK);
    CHECK(with([](auto& p) { p.n = 0; p.w = nullptr; p.k = 0; }) == EMBER_OK);
}
