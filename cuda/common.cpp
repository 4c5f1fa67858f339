// Host helpers of common.cuh.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "common.cuh"

namespace ember::cuda {

const char* env_once(const char* name) {
    static std::mutex mu;
    static std::map<std::string, std::string>* values = new std::map<std::string, std::string>();  // never freed
    static std::map<std::string, bool>* present = new std::map<std::string, bool>();
    std::lock_guard<std::mutex> lock(mu);
    auto it = present->find(name);
    if (it == present->end()) {
        const char* v = std::getenv(name);
        it = present->emplace(name, v != nullptr).first;
        if (v) (*values)[name] = v;
    }
    return it->second ? (*values)[name].c_str() : nullptr;
}

bool env_equals(const char* name, const char* value) {
    const char* v = env_once(name);
    return v != nullptr && std::strcmp(v, value) == 0;
}

ember_status allow_smem(const void* kernel, size_t bytes, const char* op, std::string* error) {
    if (bytes <= 48 * 1024) return EMBER_OK;
    int dev = 0;
    EMBER_CU_TRY(cuda_status(cudaGetDevice(&dev), op, error));
    static std::mutex mu;
    static std::map<std::pair<const void*, int>, size_t>* done = new std::map<std::pair<const void*, int>, size_t>();
    {
        std::lock_guard<std::mutex> lock(mu);
        auto it = done->find({kernel, dev});
        if (it != done->end() && it->second >= bytes) return EMBER_OK;
    }
    EMBER_CU_TRY(cuda_status(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
                             (std::string(op) + ": raising the shared memory limit").c_str(), error));
    std::lock_guard<std::mutex> lock(mu);
    size_t& b = (*done)[{kernel, dev}];
    b = std::max(b, bytes);
    return EMBER_OK;
}

namespace {

// A device attribute of the current device, cached per device (stored plus one, so that 0 is a
// value like any other); `fallback` when it cannot be read or is below `min_valid`.
int cached_attribute(std::atomic<int> (&cache)[64], cudaDeviceAttr attr, int fallback, int min_valid = 1) {
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) {
        (void)cudaGetLastError();
        return fallback;
    }
    if (dev >= 0 && dev < 64) {
        const int c = cache[dev].load(std::memory_order_relaxed);
        if (c > 0) return c - 1;
    }
    int v = 0;
    if (cudaDeviceGetAttribute(&v, attr, dev) != cudaSuccess || v < min_valid) {
        (void)cudaGetLastError();
        return fallback;
    }
    if (dev >= 0 && dev < 64) cache[dev].store(v + 1, std::memory_order_relaxed);
    return v;
}

}  // namespace

int sm_count() {
    static std::atomic<int> cache[64];
    return cached_attribute(cache, cudaDevAttrMultiProcessorCount, 132);
}

int compute_capability() {
    static std::atomic<int> major[64], minor[64];
    const int mj = cached_attribute(major, cudaDevAttrComputeCapabilityMajor, 0);
    return mj == 0 ? 0 : 10 * mj + cached_attribute(minor, cudaDevAttrComputeCapabilityMinor, 0, /*min_valid=*/0);
}

size_t smem_optin_limit() {
    static std::atomic<int> cache[64];
    return static_cast<size_t>(cached_attribute(cache, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
}

}  // namespace ember::cuda
