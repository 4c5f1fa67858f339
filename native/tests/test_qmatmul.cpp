// The quantized matmul against its scalar twin, on every kernel path this CPU has (and the
// AVX-512 VNNI panel layout through the scalar kernel everywhere), over odd shapes. Two references:
//  - exact: qmatmul_ref on the float activations; the fast path differs by the int8 activation
//    quantization, at most sum_e |w_e| * max|x_block(e)| / 254 per output (checked per output,
//    with 1% slack for float rounding);
//  - same-quantization: qmatmul_ref on activations put through the same int8 quantization
//    (quantize_act_row_ref then d * q); the fast path must then agree to float rounding.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ops/qmatmul.h"
#include "ops/qmatmul_impl.h"
#include "quant/quants.h"
#include "test_util.h"

using namespace ember;

namespace {

std::vector<uint8_t> random_weights(int32_t dtype, int64_t n, int64_t k, uint64_t seed) {
    auto f = test::random_floats(static_cast<size_t>(n * k), seed, 0.05f);
    const int64_t rb = dtype_row_bytes(dtype, k);
    std::vector<uint8_t> w(static_cast<size_t>(n * rb));
    for (int64_t j = 0; j < n; ++j) REQUIRE(quant::quantize_row(dtype, f.data() + j * k, w.data() + j * rb, k));
    return w;
}

// Every kernel path this CPU can run, plus the AVX-512 VNNI layout run by the scalar kernel.
std::vector<cpu::qmm::Path> paths() {
    using cpu::qmm::Path;
    std::vector<Path> v{Path::Scalar, Path::EmulatedVnni};
    if (active_isa() >= Isa::Avx2) v.push_back(Path::Avx2);
    if (active_isa() >= Isa::Avx512 && cpu_features().avx512_vnni) v.push_back(Path::Avx512Vnni);
    return v;
}

const char* path_name(cpu::qmm::Path p) {
    switch (p) {
        case cpu::qmm::Path::Scalar: return "scalar";
        case cpu::qmm::Path::Avx2: return "avx2";
        case cpu::qmm::Path::Avx512Vnni: return "avx512-vnni";
        default: return "emulated-vnni";
    }
}

void check_shape(int32_t dtype, int64_t m, int64_t n, int64_t k, uint64_t seed, ThreadPool& pool, bool accumulate,
                 bool bias) {
    INFO(std::string(dtype_info(dtype)->name), " m ", m, " n ", n, " k ", k, " seed ", seed, " accumulate ", accumulate,
         " bias ", bias);
    const int64_t xs = k + 3, ys = n + 5;  // strides wider than the rows
    auto x = test::random_floats(static_cast<size_t>(m * xs), seed + 1, 2.0f);
    const auto w = random_weights(dtype, n, k, seed + 2);
    const auto bvec = test::random_floats(static_cast<size_t>(n), seed + 3, 1.0f);
    const auto y0 = test::random_floats(static_cast<size_t>(m * ys), seed + 4, 1.0f);

    // Activations through the kernel's int8 quantization, back to float.
    std::vector<float> xq_f(x.size(), 0.0f);
    std::vector<float> half_step(static_cast<size_t>(m * k));  // max |x_block| / 254 per element
    {
        std::vector<int8_t> q(static_cast<size_t>(k));
        std::vector<float> meta(static_cast<size_t>(quant::kActMeta * (k / 32)));
        for (int64_t i = 0; i < m; ++i) {
            quant::quantize_act_row_ref(x.data() + i * xs, k, q.data(), meta.data());
            for (int64_t e = 0; e < k; ++e) {
                xq_f[i * xs + e] = meta[quant::kActMeta * (e / 32)] * q[e];
                half_step[i * k + e] = meta[quant::kActMeta * (e / 32)] * 0.5f;
            }
        }
    }
    // Per output, the bound on the activation-quantization error.
    std::vector<double> bound(static_cast<size_t>(m * n), 0.0), absdot(static_cast<size_t>(m * n), 0.0);
    {
        const int64_t rb = dtype_row_bytes(dtype, k);
        std::vector<float> wr(static_cast<size_t>(k));
        for (int64_t j = 0; j < n; ++j) {
            REQUIRE(quant::dequantize_row(dtype, w.data() + j * rb, wr.data(), k));
            for (int64_t i = 0; i < m; ++i) {
                double b = 0, a = 0;
                for (int64_t e = 0; e < k; ++e) {
                    b += std::fabs(double(wr[e])) * half_step[i * k + e];
                    a += std::fabs(double(wr[e]) * xq_f[i * xs + e]);
                }
                bound[i * n + j] = b;
                absdot[i * n + j] = a;
            }
        }
    }
    ember_matmul_params p{};
    p.x = x.data();
    p.x_stride = xs;
    p.w = w.data();
    p.w_dtype = dtype;
    p.bias = bias ? bvec.data() : nullptr;
    p.y_stride = ys;
    p.m = m;
    p.n = n;
    p.k = k;
    p.accumulate = accumulate ? 1 : 0;

    std::vector<float> exact = y0, sameq = y0;
    p.y = exact.data();
    cpu::qmatmul_ref(p);
    p.y = sameq.data();
    p.x = xq_f.data();
    cpu::qmatmul_ref(p);
    p.x = x.data();

    auto rows = [&](const std::vector<float>& v) {  // the m x n outputs, strides dropped
        std::vector<float> r(static_cast<size_t>(m * n));
        for (int64_t i = 0; i < m; ++i) std::memcpy(&r[i * n], &v[i * ys], static_cast<size_t>(n) * 4);
        return r;
    };
    for (cpu::qmm::Path path : paths()) {
        INFO("path ", std::string(path_name(path)));
        std::vector<float> y = y0;
        p.y = y.data();
        cpu::qmm::qmatmul_path(p, pool, path);
        // Same quantization: float rounding only, relative to sum |w * xq| (immune to cancellation).
        double e_same = 0;
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j)
                e_same = std::max(e_same, std::fabs(double(y[i * ys + j]) - sameq[i * ys + j]) /
                                              (absdot[i * n + j] + 1e-6 * (1 + std::fabs(sameq[i * ys + j]))));
        double worst = 0;  // |y - exact| / bound, worst output
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                const double diff = std::fabs(double(y[i * ys + j]) - exact[i * ys + j]);
                worst = std::max(worst, diff / (1.01 * bound[i * n + j] + 1e-6 * (1 + std::fabs(exact[i * ys + j]))));
            }
        INFO("error vs same-quantization ref ", e_same, ", vs exact ref (fraction of the bound) ", worst);
        CHECK(e_same <= 1e-5);
        CHECK(worst <= 1.0);
        // Padding between rows is untouched.
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = n; j < ys; ++j) REQUIRE(y[i * ys + j] == y0[i * ys + j]);
    }
}

}  // namespace

TEST_CASE("qmatmul matches its scalar twin over odd shapes") {
    const uint64_t seed = test::test_seed();
    ThreadPool pool(2);
    const int64_t ms[] = {1, 3, 17, 128, 515};
    const int64_t ns[] = {1, 33, 257};
    int counter = 0;
    for (int32_t dtype : {EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_0, EMBER_DTYPE_Q4_K, EMBER_DTYPE_Q6_K}) {
        const int64_t bs = dtype_info(dtype)->block_elems;
        std::vector<int64_t> ks;
        for (int64_t k = bs; k <= 4096; k *= 2) ks.push_back(k);
        if (bs == 32) ks.push_back(96);  // not a power of two
        else ks.push_back(768);
        for (int64_t m : ms)
            for (int64_t n : ns) {
                // Cycle k so every size meets several m and n; keep the scalar reference affordable.
                int64_t k = ks[static_cast<size_t>(counter++) % ks.size()];
                while (m * n * k > (int64_t(1) << 27)) k /= 2;
                k = std::max(k, bs);
                check_shape(dtype, m, n, k, seed + static_cast<uint64_t>(counter) * 101, pool, counter % 3 == 0,
                            counter % 2 == 0);
            }
    }
}

TEST_CASE("qmatmul on Qwen3-0.6B projection shapes") {
    const uint64_t seed = test::test_seed() + 7;
    ThreadPool pool(2);
    for (int32_t dtype : {EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_K, EMBER_DTYPE_Q6_K}) {
        check_shape(dtype, 7, 3072, 1024, seed, pool, false, false);  // gate / up
        check_shape(dtype, 5, 1024, 3072, seed + 1, pool, true, false);  // down, residual fused
    }
}

TEST_CASE("qmatmul rejects bad parameters") {
    ThreadPool pool(1);
    float x[64] = {}, y[64] = {};
    uint8_t w[256] = {};
    ember_matmul_params p{};
    p.x = x;
    p.x_stride = 32;
    p.w = w;
    p.w_dtype = EMBER_DTYPE_Q8_0;
    p.y = y;
    p.y_stride = 1;
    p.m = 1;
    p.n = 1;
    p.k = 32;
    CHECK_NOTHROW(cpu::qmatmul(p, pool));
    p.k = 48;
    CHECK_THROWS(cpu::qmatmul(p, pool));
    p.k = 32;
    p.w_dtype = EMBER_DTYPE_F16;
    CHECK_THROWS(cpu::qmatmul(p, pool));
    p.w_dtype = EMBER_DTYPE_Q4_K;  // k = 32 is not a whole Q4_K block
    CHECK_THROWS(cpu::qmatmul(p, pool));
    p.w_dtype = EMBER_DTYPE_Q8_0;
    p.x_stride = 16;
    CHECK_THROWS(cpu::qmatmul(p, pool));
    p.x_stride = 32;
    p.w = nullptr;
    CHECK_THROWS(cpu::qmatmul(p, pool));
    CHECK(cpu::qmatmul_supports(EMBER_DTYPE_Q6_K));
    CHECK_FALSE(cpu::qmatmul_supports(EMBER_DTYPE_BF16));
}
