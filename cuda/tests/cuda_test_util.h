// Helpers for the CUDA tests: device buffers, f32 / bf16 conversions, poisoned outputs, and the
// main() that skips (exit 77, ctest "skipped") without a usable device.
//
// Without a device the [host] test cases still run, then the program prints
// "SKIPPED: no CUDA device (reason)" and exits 77. EMBER_REQUIRE_CUDA=1 (set by ci/gpu-check.sh)
// turns a missing device into a failure.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/half.h"
#include "doctest/doctest.h"
#include "quant.cuh"
#include "tests/test_util.h"

namespace ember::cudatest {

using ember::test::cosine;

// Device memory freed on scope exit.
struct DeviceBuffer {
    void* ptr = nullptr;
    size_t bytes = 0;
    explicit DeviceBuffer(size_t n) : bytes(n) {
        if (n > 0 && cudaMalloc(&ptr, n) != cudaSuccess) {
            (void)cudaGetLastError();
            ptr = nullptr;
        }
    }
    ~DeviceBuffer() {
        if (ptr) cudaFree(ptr);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    template <class T>
    T* as() const { return static_cast<T*>(ptr); }
};

// Weight k of a stored row of `dtype` (f32, f16, bf16, Q8_0, Q4_K, Q6_K), decoded on the host by
// the kernels' own decoder (itself checked against ggml's loops in test_cuda_host.cpp).
inline float decode_weight(int32_t dtype, const uint8_t* row, int64_t k) {
    switch (dtype) {
        case EMBER_DTYPE_F32: return cuda::decode_one<EMBER_DTYPE_F32>(row, k);
        case EMBER_DTYPE_F16: return cuda::decode_one<EMBER_DTYPE_F16>(row, k);
        case EMBER_DTYPE_BF16: return cuda::decode_one<EMBER_DTYPE_BF16>(row, k);
        case EMBER_DTYPE_Q8_0: return cuda::decode_one<EMBER_DTYPE_Q8_0>(row, k);
        case EMBER_DTYPE_Q4_K: return cuda::decode_one<EMBER_DTYPE_Q4_K>(row, k);
        case EMBER_DTYPE_Q6_K: return cuda::decode_one<EMBER_DTYPE_Q6_K>(row, k);
        default: FAIL("decode_weight: dtype " << dtype); return NAN;
    }
}

inline size_t elem_bytes(int32_t dtype) { return dtype == EMBER_DTYPE_F32 ? 4 : 2; }

// x rounded to the activation type and back (what the GPU sees of a host float).
inline float round_to(int32_t dtype, float x) {
    if (dtype == EMBER_DTYPE_BF16) return bf16_to_f32(f32_to_bf16(x));
    if (dtype == EMBER_DTYPE_F16) return f16_to_f32(f32_to_f16(x));
    return x;
}
inline std::vector<float> rounded(int32_t dtype, std::vector<float> v) {
    for (float& x : v) x = round_to(dtype, x);
    return v;
}

// Host floats in the device representation of `dtype` (f32, bf16 or f16).
inline std::vector<uint8_t> encode(int32_t dtype, const std::vector<float>& v) {
    std::vector<uint8_t> out(v.size() * elem_bytes(dtype));
    for (size_t i = 0; i < v.size(); ++i) {
        if (dtype == EMBER_DTYPE_F32) {
            std::memcpy(&out[4 * i], &v[i], 4);
        } else {
            const uint16_t h = dtype == EMBER_DTYPE_BF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
            std::memcpy(&out[2 * i], &h, 2);
        }
    }
    return out;
}
inline std::vector<float> decode(int32_t dtype, const std::vector<uint8_t>& raw) {
    const size_t n = raw.size() / elem_bytes(dtype);
    std::vector<float> out(n);
    for (size_t i = 0; i < n; ++i) {
        if (dtype == EMBER_DTYPE_F32) {
            std::memcpy(&out[i], &raw[4 * i], 4);
        } else {
            uint16_t h;
            std::memcpy(&h, &raw[2 * i], 2);
            out[i] = dtype == EMBER_DTYPE_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
        }
    }
    return out;
}

// A device copy of host floats stored as `dtype`.
struct DeviceArray {
    int32_t dtype;
    size_t count;
    DeviceBuffer buf;
    DeviceArray(int32_t dt, const std::vector<float>& host) : dtype(dt), count(host.size()), buf(host.size() * elem_bytes(dt)) {
        REQUIRE(buf.ptr != nullptr);
        const std::vector<uint8_t> raw = encode(dt, host);
        REQUIRE(cudaMemcpy(buf.ptr, raw.data(), raw.size(), cudaMemcpyHostToDevice) == cudaSuccess);
    }
    // `count` elements, every byte 0xff: NaN in f32 and bf16, so an element the kernel fails to
    // write never passes a comparison.
    DeviceArray(int32_t dt, size_t n) : dtype(dt), count(n), buf(n * elem_bytes(dt)) {
        REQUIRE(buf.ptr != nullptr);
        REQUIRE(cudaMemset(buf.ptr, 0xff, buf.bytes) == cudaSuccess);
        // cudaMemset is asynchronous: finish it before work on other (non-blocking) streams.
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    }
    std::vector<float> get() const {
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
        std::vector<uint8_t> raw(buf.bytes);
        REQUIRE(cudaMemcpy(raw.data(), buf.ptr, raw.size(), cudaMemcpyDeviceToHost) == cudaSuccess);
        return decode(dtype, raw);
    }
    Tensor tensor(int64_t rows, int64_t cols, int64_t stride) const { return Tensor{buf.ptr, dtype, rows, cols, stride}; }
    void* data() const { return buf.ptr; }
};

template <class T>
struct DeviceVec {
    DeviceBuffer buf;
    explicit DeviceVec(const std::vector<T>& host) : buf(host.size() * sizeof(T)) {
        if (!host.empty()) {
            REQUIRE(buf.ptr != nullptr);
            REQUIRE(cudaMemcpy(buf.ptr, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
        }
    }
    T* data() const { return static_cast<T*>(buf.ptr); }
};

// Rows x cols floats of a strided host matrix, gathered dense.
inline std::vector<float> dense(const std::vector<float>& m, int64_t rows, int64_t cols, int64_t stride) {
    std::vector<float> out(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = m[r * stride + c];
    return out;
}

// Runs doctest; without a device only the [host] cases, then exit 77 (or 1 under
// EMBER_REQUIRE_CUDA=1).
int run_or_skip(int argc, char** argv);

}  // namespace ember::cudatest

// One translation unit per executable defines the main (cuda_test_main.cpp).
