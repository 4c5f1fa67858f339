// CUDA matmul, every path that applies (tensor cores, small m, SIMT, and cuBLASLt where it loads)
// for every weight type (f32, f16, bf16, Q8_0, Q4_K, Q6_K) and activation pair, against a float64
// product of exactly the values the GPU sees (inputs rounded to their device type, weights decoded
// by the same decoders the host test pins to ggml's): what is left is accumulation order and the
// output rounding.
// Odd m (1, 7, 97, 1025), n not a multiple of any tile, bias and accumulate, padded strides.
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "cuda_test_util.h"
#include "matmul.cuh"
#include "quant.cuh"

using namespace ember;
using namespace ember::cuda;
using namespace ember::cudatest;

namespace {

// Random weights of `dtype`: n rows of k, as raw bytes, and their decoded values.
struct HostWeights {
    std::vector<uint8_t> raw;
    std::vector<float> values;  // n x k
};

HostWeights make_weights(int32_t dtype, int64_t n, int64_t k, uint64_t seed) {
    HostWeights w;
    const int64_t row_bytes = dtype_row_bytes(dtype, k);
    REQUIRE(row_bytes > 0);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f), scale(0.002f, 0.05f);
    w.raw.resize(static_cast<size_t>(n * row_bytes));
    if (dtype == EMBER_DTYPE_F32 || dtype == EMBER_DTYPE_F16 || dtype == EMBER_DTYPE_BF16) {
        std::vector<float> v(static_cast<size_t>(n * k));
        for (float& x : v) x = u(rng) * 0.1f;
        w.raw = encode(dtype, v);
    } else {
        for (auto& b : w.raw) b = static_cast<uint8_t>(rng());
        const int bb = dtype_info(dtype)->block_bytes;
        auto put = [&](uint8_t* p, float f) {
            const uint16_t h = f32_to_f16(f);
            std::memcpy(p, &h, 2);
        };
        for (size_t off = 0; off < w.raw.size(); off += bb) {
            uint8_t* blk = w.raw.data() + off;
            if (dtype == EMBER_DTYPE_Q8_0) put(blk, scale(rng) * 0.1f);
            if (dtype == EMBER_DTYPE_Q4_K) {
                put(blk, scale(rng) * 0.1f);
                put(blk + 2, scale(rng) * 0.1f);
            }
            if (dtype == EMBER_DTYPE_Q6_K) put(blk + 208, scale(rng) * 0.05f);
        }
    }
    w.values.resize(static_cast<size_t>(n * k));
    for (int64_t j = 0; j < n; ++j) {
        const uint8_t* row = w.raw.data() + j * row_bytes;
        for (int64_t c = 0; c < k; ++c) {
            w.values[j * k + c] = decode_weight(dtype, row, c);
        }
    }
    return w;
}

struct Case {
    int64_t m, n, k;
    int32_t wt, xt, yt;
    bool bias, accumulate;
};

std::string describe(const Case& c, MatmulPath path) {
    return format("m %lld n %lld k %lld w %s x %s y %s bias %d acc %d path %s", (long long)c.m, (long long)c.n,
                  (long long)c.k, dtype_info(c.wt)->name, dtype_info(c.xt)->name, dtype_info(c.yt)->name, c.bias,
                  c.accumulate, matmul_path_name(path));
}

// Runs every applicable path; returns how many ran.
int check_case(const Case& c, uint64_t seed, bool all_paths = true, bool only_wgmma = false) {
    // Padded rows: x's a multiple of 8 when k is, y's even (the tensor-core paths store bf16 pairs
    // and take only even strides; n + 8 alone would be odd for odd n and leave them out).
    const int64_t xs = c.k + 8, ys = c.n + 8 + (c.n & 1);
    const HostWeights w = make_weights(c.wt, c.n, c.k, seed);
    const std::vector<float> x = rounded(c.xt, test::random_floats(static_cast<size_t>(c.m * xs), seed + 1, 1.0f));
    const std::vector<float> y0 = rounded(c.yt, test::random_floats(static_cast<size_t>(c.m * ys), seed + 2, 0.5f));
    const std::vector<float> bias = test::random_floats(static_cast<size_t>(c.n), seed + 3, 0.5f);

    // float64 reference on the device-visible values.
    std::vector<float> want(static_cast<size_t>(c.m * c.n));
    for (int64_t i = 0; i < c.m; ++i)
        for (int64_t j = 0; j < c.n; ++j) {
            double s = 0;
            for (int64_t q = 0; q < c.k; ++q) s += double(x[i * xs + q]) * w.values[j * c.k + q];
            if (c.bias) s += bias[j];
            if (c.accumulate) s += y0[i * ys + j];
            want[i * c.n + j] = static_cast<float>(s);
        }

    DeviceVec<uint8_t> dw(w.raw);
    DeviceArray dx(c.xt, x);
    DeviceVec<float> db(bias);
    int ran = 0;
    // cuBLASLt applies only where the library loads (EMBER_CUBLASLT_LIB or libcublasLt.so.13).
    // wgmma has a test case of its own (a fault there would be sticky for the rest of the process,
    // and ci/gpu-check.sh runs it in a process of its own).
    const std::vector<MatmulPath> paths = only_wgmma ? std::vector<MatmulPath>{MatmulPath::Wgmma}
                                                     : std::vector<MatmulPath>{MatmulPath::TensorCore, MatmulPath::SmallM,
                                                                               MatmulPath::Simt, MatmulPath::CublasLt};
    for (MatmulPath path : paths) {
        DeviceArray dy(c.yt, y0);
        if (!c.accumulate) REQUIRE(cudaMemset(dy.data(), 0xff, dy.buf.bytes) == cudaSuccess);  // poison
        MatmulArgs a{dy.tensor(c.m, c.n, ys), dx.tensor(c.m, c.k, xs), Weight{dw.data(), c.wt, c.n, c.k},
                     c.bias ? db.data() : nullptr, c.accumulate};
        if (!matmul_path_applies(a, path)) continue;
        if (!all_paths && path != choose_matmul(a)) continue;
        std::string err;
        INFO(describe(c, path));
        REQUIRE_MESSAGE(matmul_with(a, path, nullptr, &err) == EMBER_OK, err);
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
        const std::vector<float> got = dense(dy.get(), c.m, c.n, ys);
        const double e = test::rel_error(got, want);
        // f32 out: accumulation order only. bf16 out: one rounding (2^-9 relative per element),
        // measured against the largest output.
        const double tol = c.yt == EMBER_DTYPE_F32 ? 2e-5 : 8e-3;
        CHECK_MESSAGE(e <= tol, describe(c, path) << ": rel error " << e);
        ++ran;
    }
    return ran;
}

}  // namespace

TEST_CASE("matmul: every path, weight type and activation pair on odd shapes") {
    const uint64_t seed0 = test::test_seed();
    INFO("seed " << seed0);
    uint64_t seed = seed0;
    const int32_t wts[] = {EMBER_DTYPE_F32, EMBER_DTYPE_F16, EMBER_DTYPE_BF16, EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_K,
                           EMBER_DTYPE_Q6_K};
    const int32_t acts[][2] = {{EMBER_DTYPE_F32, EMBER_DTYPE_F32}, {EMBER_DTYPE_BF16, EMBER_DTYPE_BF16},
                               {EMBER_DTYPE_F32, EMBER_DTYPE_BF16}};
    int runs = 0;
    for (int32_t wt : wts) {
        const bool kquant = wt == EMBER_DTYPE_Q4_K || wt == EMBER_DTYPE_Q6_K;
        for (const auto& act : acts) {
            for (int64_t m : {1, 7, 97, 1025}) {
                const int64_t n = m == 1025 ? 72 : 130;
                const int64_t k = kquant ? 512 : (m == 7 ? 96 : 256);
                for (int flags = 0; flags < 4; ++flags) {
                    if (m == 1025 && flags != 3) continue;  // the big one once, with bias and accumulate
                    runs += check_case({m, n, k, wt, act[0], act[1], (flags & 1) != 0, (flags & 2) != 0}, seed += 7);
                }
            }
        }
    }
    MESSAGE("matmul: " << runs << " path runs compared");
}

TEST_CASE("matmul: k not a multiple of 8 takes the SIMT path") {
    uint64_t seed = test::test_seed() + 100;
    for (int32_t wt : {EMBER_DTYPE_F32, EMBER_DTYPE_BF16, EMBER_DTYPE_F16})
        for (int64_t k : {1, 35})
            check_case({33, 17, k, wt, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, true, false}, seed += 3);
}

TEST_CASE("matmul: large tensor-core tiles (128 x 128) with ragged edges") {
    uint64_t seed = test::test_seed() + 200;
    // 9 x 17 tiles of 128 >= the SM count of an H100: the large-tile configuration.
    for (int32_t wt : {EMBER_DTYPE_BF16, EMBER_DTYPE_F16, EMBER_DTYPE_Q8_0})
        check_case({1025, 2100, 512, wt, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, false, true}, seed += 3, /*all_paths=*/false);
    check_case({300, 1000, 512, EMBER_DTYPE_Q6_K, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, true, false}, seed += 3, false);
}

TEST_CASE("matmul: the wgmma path (H100 / H200) on ragged tiles [wgmma]") {
    if (compute_capability() != 90) {
        MESSAGE("not a compute capability 9.0 device: the wgmma path does not apply");
        return;
    }
    uint64_t seed = test::test_seed() + 11;
    int runs = 0;
    // m and n off the 128 x 256 tile, k from one 64-wide tile (fewer tiles than the pipeline's
    // prefetch) to many; bias and accumulate on some; bf16 and every quantized weight type.
    const Case cases[] = {{1, 256, 64, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, false, false},
                          {129, 257, 64, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, true, false},
                          {200, 100, 128, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, false, true},
                          {1025, 2100, 512, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, true, true},
                          {300, 1000, 3072, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, false, false},
                          // Quantized W, decoded into the swizzled tiles (K-quants: k in 256 blocks).
                          {129, 257, 64, EMBER_DTYPE_Q8_0, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, true, false},
                          {1025, 2100, 512, EMBER_DTYPE_Q8_0, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, true, true},
                          {300, 1000, 512, EMBER_DTYPE_Q4_K, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, true, false},
                          {97, 300, 768, EMBER_DTYPE_Q6_K, EMBER_DTYPE_BF16, EMBER_DTYPE_BF16, false, true}};
    for (const Case& c : cases) runs += check_case(c, seed += 5, true, /*only_wgmma=*/true);
    CHECK(runs == 9);
    MESSAGE("wgmma cases: " << runs << " path runs compared");
}

// The default path on a 9.0 device: wgmma once its 128 x 256 tiles fill the GPU (H200: 132
// multiprocessors), the mma.sync kernel for fewer rows, small-m for a handful, and never wgmma for
// a weight type it has no decoder for. choose_matmul reads no memory: the pointers are only
// aligned addresses.
TEST_CASE("matmul: the default takes wgmma where its tiles fill the GPU [wgmma]") {
    if (compute_capability() != 90) {
        MESSAGE("not a compute capability 9.0 device: the wgmma path does not apply");
        return;
    }
    REQUIRE(sm_count() <= 128 * 4);  // the "fills the GPU" case below: 128 x 4 tiles
    void* const p = reinterpret_cast<void*>(uintptr_t(1) << 20);
    auto args = [&](int64_t m, int32_t wt) {
        const int64_t n = 1024, k = 1024;
        return MatmulArgs{Tensor{p, EMBER_DTYPE_BF16, m, n, n}, Tensor{p, EMBER_DTYPE_BF16, m, k, k}, Weight{p, wt, n, k},
                          nullptr, false};
    };
    CHECK(choose_matmul(args(16384, EMBER_DTYPE_BF16)) == MatmulPath::Wgmma);
    CHECK(choose_matmul(args(16384, EMBER_DTYPE_Q8_0)) == MatmulPath::Wgmma);
    CHECK(choose_matmul(args(16384, EMBER_DTYPE_F16)) == MatmulPath::TensorCore);
    CHECK(choose_matmul(args(16, EMBER_DTYPE_BF16)) == MatmulPath::TensorCore);  // 1 x 4 tiles
    CHECK(choose_matmul(args(4, EMBER_DTYPE_BF16)) == MatmulPath::SmallM);
}

// Structured inputs whose products name the element the kernel read, so that one failing GPU run
// says which part of the wgmma layout is wrong (the k order of a row, the row of W behind a
// column, the row of x behind a row) instead of only that the numbers differ. Small integers,
// exact in bf16 and in the f32 sums.
TEST_CASE("matmul: the wgmma path reads the element each output names [wgmma]") {
    if (compute_capability() != 90) {
        MESSAGE("not a compute capability 9.0 device: the wgmma path does not apply");
        return;
    }
    const int64_t m = 256, n = 512, k = 128;
    struct Probe {
        const char* what;
        std::function<float(int64_t, int64_t)> x, w, want;  // x(i, q), W(j, q), y(i, j)
    };
    const Probe probes[] = {
        // x one-hot at q = i % k: y(i, j) = W(j, i % k) = i % k, the k index read.
        {"k index read for row i", [&](int64_t i, int64_t q) { return q == i % k ? 1.0f : 0.0f; },
         [](int64_t, int64_t q) { return static_cast<float>(q); }, [&](int64_t i, int64_t) { return static_cast<float>(i % k); }},
        // x one-hot at q = 0, W(j, 0) = j % 256: the W row behind column j.
        {"W row read for column j", [](int64_t, int64_t q) { return q == 0 ? 1.0f : 0.0f; },
         [](int64_t j, int64_t q) { return q == 0 ? static_cast<float>(j % 256) : 0.5f; },
         [](int64_t, int64_t j) { return static_cast<float>(j % 256); }},
        // W one-hot at q = 0, x(i, 0) = i % 256: the x row behind row i.
        {"x row read for row i", [](int64_t i, int64_t q) { return q == 0 ? static_cast<float>(i % 256) : 0.25f; },
         [](int64_t, int64_t q) { return q == 0 ? 1.0f : 0.0f; }, [](int64_t i, int64_t) { return static_cast<float>(i % 256); }},
    };
    for (const Probe& pr : probes) {
        std::vector<float> x(static_cast<size_t>(m * k)), w(static_cast<size_t>(n * k));
        for (int64_t i = 0; i < m; ++i)
            for (int64_t q = 0; q < k; ++q) x[i * k + q] = pr.x(i, q);
        for (int64_t j = 0; j < n; ++j)
            for (int64_t q = 0; q < k; ++q) w[j * k + q] = pr.w(j, q);
        DeviceArray dx(EMBER_DTYPE_BF16, x), dw(EMBER_DTYPE_BF16, w), dy(EMBER_DTYPE_BF16, static_cast<size_t>(m * n));
        const MatmulArgs a{dy.tensor(m, n, n), dx.tensor(m, k, k), Weight{dw.data(), EMBER_DTYPE_BF16, n, k}, nullptr, false};
        std::string err;
        REQUIRE_MESSAGE(matmul_with(a, MatmulPath::Wgmma, nullptr, &err) == EMBER_OK, err);
        const std::vector<float> y = dy.get();
        int64_t bad = 0;
        std::string first;
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                const float got = y[i * n + j], want = pr.want(i, j);
                if (got == want) continue;
                if (++bad <= 12) first += format(" (%lld, %lld): %g not %g;", (long long)i, (long long)j, got, want);
            }
        CHECK_MESSAGE(bad == 0, pr.what << ": " << bad << " of " << m * n << " wrong, first:" << first);
    }
}

TEST_CASE("matmul rejects bad arguments without launching [host]") {
    float dummy[4];
    MatmulArgs a{Tensor{dummy, EMBER_DTYPE_F32, 2, 3, 3}, Tensor{dummy, EMBER_DTYPE_F32, 2, 4, 4},
                 Weight{dummy, EMBER_DTYPE_F32, 3, 4}, nullptr, false};
    std::string err;
    MatmulArgs bad = a;
    bad.y.cols = 2;
    CHECK(matmul(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    bad = a;
    bad.w.dtype = EMBER_DTYPE_Q4_0;
    CHECK(matmul(bad, nullptr, &err) == EMBER_ERR_MODEL_UNSUPPORTED);
    bad = a;
    bad.x.dtype = EMBER_DTYPE_BF16;
    bad.y.dtype = EMBER_DTYPE_F32;
    CHECK(matmul(bad, nullptr, &err) == EMBER_ERR_INVALID_ARGUMENT);
    bad = a;
    bad.x.rows = 0;
    bad.y.rows = 0;
    CHECK(matmul(bad, nullptr, &err) == EMBER_OK);  // nothing to do, no launch
}
