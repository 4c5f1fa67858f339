// Quantize / dequantize round trips for the GGUF block types, against hand-made blocks and
// relative error bounds on random data.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "doctest/doctest.h"
#include "quant/quants.h"
#include "test_util.h"

using namespace ember;
using namespace ember::quant;

namespace {

// Gaussian-ish weights with a few outliers, like trained projections.
std::vector<float> weights_like(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng);
    for (size_t i = 0; i < n; i += 97) v[i] *= 6.0f;
    return v;
}

double rms_rel_error(const std::vector<float>& a, const std::vector<float>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i])) return INFINITY;
        num += (double(a[i]) - ref[i]) * (double(a[i]) - ref[i]);
        den += double(ref[i]) * ref[i];
    }
    return std::sqrt(num / den);
}

std::vector<float> round_trip(int32_t dtype, const std::vector<float>& x) {
    const int64_t bytes = dtype_row_bytes(dtype, static_cast<int64_t>(x.size()));
    REQUIRE(bytes > 0);
    std::vector<uint8_t> q(static_cast<size_t>(bytes));
    REQUIRE(quantize_row(dtype, x.data(), q.data(), static_cast<int64_t>(x.size())));
    std::vector<float> y(x.size());
    REQUIRE(dequantize_row(dtype, q.data(), y.data(), static_cast<int64_t>(x.size())));
    return y;
}

}  // namespace

TEST_CASE("dequantize hand-made blocks") {
    SUBCASE("q8_0") {
        BlockQ8_0 b{};
        b.d = f32_to_f16(0.5f);
        for (int i = 0; i < 32; ++i) b.qs[i] = static_cast<int8_t>(i - 16);
        float y[32];
        REQUIRE(dequantize_row(EMBER_DTYPE_Q8_0, &b, y, 32));
        for (int i = 0; i < 32; ++i) CHECK(y[i] == 0.5f * (i - 16));
    }
    SUBCASE("q4_0") {
        BlockQ4_0 b{};
        b.d = f32_to_f16(2.0f);
        for (int i = 0; i < 16; ++i) b.qs[i] = static_cast<uint8_t>(i | ((15 - i) << 4));
        float y[32];
        REQUIRE(dequantize_row(EMBER_DTYPE_Q4_0, &b, y, 32));
        for (int i = 0; i < 16; ++i) {
            CHECK(y[i] == 2.0f * (i - 8));
            CHECK(y[i + 16] == 2.0f * (15 - i - 8));
        }
    }
    SUBCASE("q4_k") {
        BlockQ4_K b{};
        b.d = f32_to_f16(0.25f);
        b.dmin = f32_to_f16(0.125f);
        // sub-block j: scale j + 1 (sub-blocks 4..7 use the high bits: scale 33 + j), min 2j
        const int scales[8] = {1, 2, 3, 4, 37, 38, 39, 40}, mins[8] = {0, 2, 4, 6, 8, 50, 12, 63};
        for (int j = 0; j < 8; ++j) {
            if (j < 4) {
                b.scales[j] = static_cast<uint8_t>(scales[j]);
                b.scales[j + 4] = static_cast<uint8_t>(mins[j]);
            } else {
                b.scales[j + 4] = static_cast<uint8_t>((scales[j] & 0xF) | ((mins[j] & 0xF) << 4));
                b.scales[j - 4] |= static_cast<uint8_t>((scales[j] >> 4) << 6);
                b.scales[j] |= static_cast<uint8_t>((mins[j] >> 4) << 6);
            }
        }
        for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i * 7) & 0xFF);
        float y[256];
        REQUIRE(dequantize_row(EMBER_DTYPE_Q4_K, &b, y, 256));
        for (int e = 0; e < 256; ++e) {
            const int span = e / 64, r = e % 64;
            const uint8_t byte = b.qs[span * 32 + r % 32];
            const int q = r < 32 ? (byte & 0xF) : (byte >> 4);
            const int j = e / 32;
            INFO("element ", e);
            CHECK(y[e] == doctest::Approx(0.25f * scales[j] * q - 0.125f * mins[j]));
        }
    }
    SUBCASE("q6_k") {
        BlockQ6_K b{};
        b.d = f32_to_f16(0.5f);
        for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(s - 8);
        // Element e gets quant (e * 5) % 64, written bit by bit per the layout of gguf.md.
        for (int e = 0; e < 256; ++e) {
            const int q = (e * 5) % 64;
            const int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
            uint8_t& lo = b.ql[64 * half + (quarter & 1) * 32 + l];
            lo = static_cast<uint8_t>(quarter < 2 ? ((lo & 0xF0) | (q & 0xF)) : ((lo & 0x0F) | ((q & 0xF) << 4)));
            b.qh[32 * half + l] |= static_cast<uint8_t>((q >> 4) << (2 * quarter));
        }
        float y[256];
        REQUIRE(dequantize_row(EMBER_DTYPE_Q6_K, &b, y, 256));
        for (int e = 0; e < 256; ++e) {
            INFO("element ", e);
            CHECK(y[e] == 0.5f * (e / 16 - 8) * ((e * 5) % 64 - 32));
        }
    }
    SUBCASE("f16 / bf16 / f32") {
        const float v[4] = {1.0f, -2.5f, 0.0f, 65504.0f};
        uint16_t h[4], bf[4];
        for (int i = 0; i < 4; ++i) {
            h[i] = f32_to_f16(v[i]);
            bf[i] = f32_to_bf16(v[i]);
        }
        float y[4];
        REQUIRE(dequantize_row(EMBER_DTYPE_F16, h, y, 4));
        for (int i = 0; i < 4; ++i) CHECK(y[i] == v[i]);
        REQUIRE(dequantize_row(EMBER_DTYPE_BF16, bf, y, 2));
        CHECK(y[0] == 1.0f);
        CHECK(y[1] == -2.5f);
        REQUIRE(dequantize_row(EMBER_DTYPE_F32, v, y, 4));
        CHECK(std::memcmp(y, v, sizeof(v)) == 0);
    }
}

TEST_CASE("quantize round trips stay within each type's error") {
    const uint64_t seed = test::test_seed();
    INFO("seed ", seed);
    const std::vector<float> x = weights_like(4096 * 4, seed);
    struct Case { int32_t dtype; double max_rel_rms; };
    // Bounds a little above what ggml's reference quantizers reach on the same kind of data.
    // Measured on this data: q8_0 0.0078, q6_k 0.024, q4_k 0.085, q4_0 0.127.
    const Case cases[] = {{EMBER_DTYPE_F32, 0.0},     {EMBER_DTYPE_F16, 1e-3},    {EMBER_DTYPE_BF16, 5e-3},
                          {EMBER_DTYPE_Q8_0, 1e-2},   {EMBER_DTYPE_Q6_K, 3.2e-2}, {EMBER_DTYPE_Q4_K, 0.11},
                          {EMBER_DTYPE_Q4_0, 0.16}};
    for (const Case& c : cases) {
        const double e = rms_rel_error(round_trip(c.dtype, x), x);
        INFO(std::string(dtype_info(c.dtype)->name), " relative rms error ", e);
        CHECK(e <= c.max_rel_rms);
    }
}

TEST_CASE("K-quant scale search beats plain absmax rounding") {
    // Q4_K quantized with the least-squares search must be at least as good as Q4_0 on data whose
    // blocks are one-signed (where the min term helps), and Q6_K better than Q8_0 / 4.
    const uint64_t seed = test::test_seed() + 1;
    INFO("seed ", seed);
    std::vector<float> x = weights_like(2048, seed);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::fabs(x[i]) + 0.01f;
    const double e4k = rms_rel_error(round_trip(EMBER_DTYPE_Q4_K, x), x);
    const double e40 = rms_rel_error(round_trip(EMBER_DTYPE_Q4_0, x), x);
    INFO("q4_k ", e4k, " q4_0 ", e40);
    CHECK(e4k < e40);
}

TEST_CASE("quantize zeros, exact values and non-finite input") {
    std::vector<float> zeros(256, 0.0f);
    for (int32_t dt : {EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_0, EMBER_DTYPE_Q4_K, EMBER_DTYPE_Q6_K}) {
        const auto y = round_trip(dt, zeros);
        for (float v : y) CHECK(v == 0.0f);
    }
    // Values on the Q8_0 grid with an f16-exact scale come back exactly.
    std::vector<float> grid(64);
    for (int i = 0; i < 64; ++i) grid[i] = 0.125f * ((i * 37) % 255 - 127);
    grid[0] = 0.125f * 127;
    grid[32] = -0.125f * 127;
    const auto y = round_trip(EMBER_DTYPE_Q8_0, grid);
    for (int i = 0; i < 64; ++i) CHECK(y[i] == grid[i]);
    // NaN / Inf input must not crash (the output is unspecified but the call returns).
    std::vector<float> bad(256, 1.0f);
    bad[3] = NAN;
    bad[100] = INFINITY;
    for (int32_t dt : {EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_0, EMBER_DTYPE_Q4_K, EMBER_DTYPE_Q6_K}) {
        std::vector<uint8_t> q(static_cast<size_t>(dtype_row_bytes(dt, 256)));
        CHECK(quantize_row(dt, bad.data(), q.data(), 256));
    }
}

TEST_CASE("partial blocks and unknown types are refused") {
    float x[64] = {};
    uint8_t q[256];
    CHECK_FALSE(quantize_row(EMBER_DTYPE_Q8_0, x, q, 33));
    CHECK_FALSE(quantize_row(EMBER_DTYPE_Q4_K, x, q, 64));
    CHECK_FALSE(dequantize_row(EMBER_DTYPE_Q6_K, q, x, 32));
    CHECK_FALSE(dequantize_row(99, q, x, 32));
    CHECK_FALSE(quantize_row(7, x, q, 32));
}

TEST_CASE("activation quantization") {
    const uint64_t seed = test::test_seed() + 2;
    INFO("seed ", seed);
    auto x = test::random_floats(256, seed, 3.0f);
    for (int i = 64; i < 96; ++i) x[i] = 0.0f;  // a zero block
    std::vector<int8_t> q(256);
    std::vector<float> meta(kActMeta * 8);
    quantize_act_row_ref(x.data(), 256, q.data(), meta.data());
    for (int b = 0; b < 8; ++b) {
        const float d = meta[kActMeta * b];
        int lo = 0, hi = 0, amax = 0;
        for (int j = 0; j < 32; ++j) {
            const int v = q[32 * b + j];
            CHECK(v >= -127);
            CHECK(v <= 127);
            amax = std::max(amax, std::abs(v));
            (j < 16 ? lo : hi) += v;
            CHECK(std::fabs(d * v - x[32 * b + j]) <= 0.5001f * d);
        }
        if (b == 2) {
            CHECK(d == 0.0f);
        } else {
            CHECK(amax == 127);
        }
        CHECK(meta[kActMeta * b + 1] == doctest::Approx(d * lo));
        CHECK(meta[kActMeta * b + 2] == doctest::Approx(d * hi));
        CHECK(meta[kActMeta * b + 3] == meta[kActMeta * b + 1] + meta[kActMeta * b + 2]);
    }
}
