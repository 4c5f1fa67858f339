// CUDA swiglu against the scalar definition, computed here in double: silu(x) = x / (1 + e^-x).
// (The CPU kernel's own reference lives in native/ops; this test depends only on the math.)
// Fresh random inputs every run (EMBER_TEST_SEED pins them), odd shapes, padded strides.
//
// Without a usable device only the [host] cases run (cuda_test_main.cpp: exit 77, skipped).
#include "doctest/doctest.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "activation.cuh"
#include "tests/test_util.h"

namespace {

// Device buffer freed on scope exit; failures are reported by the caller's CHECKs.
struct DeviceFloats {
    float* ptr = nullptr;
    explicit DeviceFloats(size_t n) {
        if (cudaMalloc(&ptr, n * sizeof(float)) != cudaSuccess) ptr = nullptr;
    }
    ~DeviceFloats() { cudaFree(ptr); }
    DeviceFloats(const DeviceFloats&) = delete;
    DeviceFloats& operator=(const DeviceFloats&) = delete;
};

double silu_ref(double x) { return x / (1.0 + std::exp(-x)); }

void check_shape(int64_t rows, int64_t cols, int64_t pad, uint64_t seed) {
    const int64_t gs = cols + pad, us = cols + 2 * pad, os = cols + 3 * pad;
    // Scale 8 reaches into silu's flat negative tail and its linear positive side.
    std::vector<float> gate = ember::test::random_floats(rows * gs, seed, 8.0f);
    std::vector<float> up = ember::test::random_floats(rows * us, seed + 1, 2.0f);
    const float sentinel = 12345.0f;
    std::vector<float> out(rows * os, sentinel);

    DeviceFloats d_gate(gate.size()), d_up(up.size()), d_out(out.size());
    REQUIRE(d_gate.ptr);
    REQUIRE(d_up.ptr);
    REQUIRE(d_out.ptr);
    REQUIRE(cudaMemcpy(d_gate.ptr, gate.data(), gate.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaMemcpy(d_up.ptr, up.data(), up.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaMemcpy(d_out.ptr, out.data(), out.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess);

    ember_swiglu_params p{};
    p.gate = d_gate.ptr;
    p.gate_stride = gs;
    p.up = d_up.ptr;
    p.up_stride = us;
    p.out = d_out.ptr;
    p.out_stride = os;
    p.rows = rows;
    p.cols = cols;
    std::string error;
    REQUIRE_MESSAGE(ember::cuda::swiglu(p, nullptr, &error) == EMBER_OK, error);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    REQUIRE(cudaMemcpy(out.data(), d_out.ptr, out.size() * 4, cudaMemcpyDeviceToHost) == cudaSuccess);

    std::vector<float> got(rows * cols), want(rows * cols);
    bool padding_intact = true;
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < os; ++c) {
            const float v = out[r * os + c];
            if (c >= cols) {
                padding_intact = padding_intact && v == sentinel;
                continue;
            }
            got[r * cols + c] = v;
            want[r * cols + c] = static_cast<float>(silu_ref(gate[r * gs + c]) * up[r * us + c]);
        }
    }
    CHECK_MESSAGE(padding_intact, "swiglu wrote outside the rows (stride padding changed)");
    const double err = ember::test::rel_error(got, want);
    // Float inputs, one expf and two roundings: a few ulps relative to the largest output.
    CHECK_MESSAGE(err <= 1e-6, "rows " << rows << " cols " << cols << " pad " << pad << " seed " << seed
                                       << ": rel error " << err);
}

}  // namespace

TEST_CASE("swiglu rejects bad arguments without launching [host]") {
    float dummy = 0;
    ember_swiglu_params p{};
    p.gate = p.up = p.out = &dummy;
    p.rows = 2;
    p.cols = 4;
    p.gate_stride = p.up_stride = p.out_stride = 4;
    std::string error;

    ember_swiglu_params bad = p;
    bad.up_stride = 3;
    CHECK(ember::cuda::swiglu(bad, nullptr, &error) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(error.find("stride") != std::string::npos);

    bad = p;
    bad.out = nullptr;
    CHECK(ember::cuda::swiglu(bad, nullptr, &error) == EMBER_ERR_INVALID_ARGUMENT);

    bad = p;
    bad.rows = -1;
    CHECK(ember::cuda::swiglu(bad, nullptr, &error) == EMBER_ERR_INVALID_ARGUMENT);

    bad = p;
    bad.rows = 0;  // nothing to do: no launch, no device needed
    CHECK(ember::cuda::swiglu(bad, nullptr, &error) == EMBER_OK);
}

TEST_CASE("swiglu matches silu(gate) * up on odd shapes") {
    const uint64_t seed = ember::test::test_seed();
    INFO("seed " << seed << " (rerun with EMBER_TEST_SEED=" << seed << ")");
    uint64_t s = seed;
    for (int64_t rows : {1, 7, 97, 1025}) {
        for (int64_t cols : {1, 33, 3072}) {
            // pad 0: dense rows (the float4 path where cols allows); pad 1: unaligned strides.
            for (int64_t pad : {0, 1}) check_shape(rows, cols, pad, s += 2);
        }
    }
}

TEST_CASE("swiglu covers more rows than one grid holds") {
    check_shape(70000, 4, 0, ember::test::test_seed() + 1000);
}
