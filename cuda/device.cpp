// CUDA device discovery and the CUDA backend factory (the CUDA twin of backend/no_cuda.cpp).
// Nothing here may abort: a machine without a driver or a device gets a count of 0 and a reason.
#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "core/error.h"
#include "cuda_backend.cuh"

namespace ember {

bool cuda_built() { return true; }

int cuda_device_count(std::string* reason) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        // cudaErrorInsufficientDriver (35) when there is no driver at all (no libcuda.so.1),
        // cudaErrorNoDevice (100) when the driver sees no GPU. Neither error is sticky, but clear
        // it so later runtime calls do not report it again.
        (void)cudaGetLastError();
        if (reason) {
            *reason = format("CUDA unavailable: %s (%s, CUDA error %d)", cudaGetErrorString(err),
                             cudaGetErrorName(err), static_cast<int>(err));
        }
        return 0;
    }
    if (count == 0 && reason) *reason = "CUDA unavailable: the driver reports no devices";
    return count;
}

CudaDeviceInfo cuda_device_info(int index) {
    std::string reason;
    const int count = cuda_device_count(&reason);
    if (count == 0) EMBER_FAIL(EMBER_ERR_BACKEND_UNAVAILABLE, "%s", reason.c_str());
    if (index < 0 || index >= count)
        EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "CUDA device %d requested, but there are %d device(s)", index, count);
    cudaDeviceProp prop{};
    const cudaError_t err = cudaGetDeviceProperties(&prop, index);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        EMBER_FAIL(EMBER_ERR_BACKEND_UNAVAILABLE, "CUDA device %d: %s (%s)", index, cudaGetErrorString(err),
                   cudaGetErrorName(err));
    }
    CudaDeviceInfo info;
    info.name = prop.name;
    info.total_memory = static_cast<int64_t>(prop.totalGlobalMem);
    info.major = prop.major;
    info.minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    return info;
}

std::unique_ptr<Backend> make_cuda_backend(int device, const CudaSettings& settings) {
    std::string reason;
    int count = cuda_device_count(&reason);
    if (count == 0) {
        EMBER_FAIL(EMBER_ERR_BACKEND_UNAVAILABLE, "CUDA backend requested, but %s", reason.c_str());
    }
    if (device < 0 || device >= count) {
        EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "CUDA device %d requested, but there are %d device(s)",
                   device, count);
    }
    return cuda::make_backend(device, cuda::resolve_settings(settings));
}

}  // namespace ember
