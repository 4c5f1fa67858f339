// Helpers shared by the CUDA ops: status reporting (never abort: every launcher returns an
// ember_status and a message), element types and conversions, warp / block reductions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <utility>

#include "backend/backend.h"
#include "core/error.h"
#include "ember/kernels.h"

namespace ember::cuda {

using bf16 = __nv_bfloat16;

// ---------------------------------------------------------------------------------------------
// Status

inline ember_status fail(ember_status status, std::string message, std::string* error) {
    if (error) *error = std::move(message);
    return status;
}

// Returns INVALID_ARGUMENT with a formatted message from the enclosing launcher (which must have
// a `std::string* error` parameter) when `cond` is false.
#define EMBER_CU_REQUIRE(cond, ...)                                                                 \
    do {                                                                                            \
        if (!(cond)) return ::ember::cuda::fail(EMBER_ERR_INVALID_ARGUMENT, ::ember::format(__VA_ARGS__), error); \
    } while (0)

// Propagates a non-OK status from a nested launcher.
#define EMBER_CU_TRY(expr)                                   \
    do {                                                     \
        const ember_status ember_cu_status_ = (expr);        \
        if (ember_cu_status_ != EMBER_OK) return ember_cu_status_; \
    } while (0)

// The status of the launch just made on this thread: launch configuration errors are reported
// here, faults inside the kernel at the next synchronization.
inline ember_status launched(const char* op, std::string* error) {
    const cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) return EMBER_OK;
    return fail(EMBER_ERR_INTERNAL,
                format("%s: kernel launch failed: %s (%s)", op, cudaGetErrorString(err), cudaGetErrorName(err)), error);
}

// A CUDA runtime call's error as a status (OUT_OF_MEMORY for allocation failures).
inline ember_status cuda_status(cudaError_t err, const char* what, std::string* error) {
    if (err == cudaSuccess) return EMBER_OK;
    const ember_status s = err == cudaErrorMemoryAllocation ? EMBER_ERR_OUT_OF_MEMORY : EMBER_ERR_INTERNAL;
    return fail(s, format("%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err)), error);
}

// Throws ember::Error for a failed status: the bridge from launchers to the Backend interface.
inline void throw_if(ember_status status, const std::string& error) {
    if (status != EMBER_OK) throw Error(status, error);
}

// ---------------------------------------------------------------------------------------------
// Element types

template <class T>
struct TypeTag {
    using type = T;
};

inline const char* act_name(int32_t dtype) {
    switch (dtype) {
        case EMBER_DTYPE_F32: return "f32";
        case EMBER_DTYPE_BF16: return "bf16";
        case EMBER_DTYPE_F16: return "f16";
        default: return "?";
    }
}

// Calls f(TypeTag<T>{}) with T the activation element type of `dtype` (f32 or bf16).
template <class F>
ember_status with_act_type(int32_t dtype, const char* op, std::string* error, F&& f) {
    switch (dtype) {
        case EMBER_DTYPE_F32: return f(TypeTag<float>{});
        case EMBER_DTYPE_BF16: return f(TypeTag<bf16>{});
        default:
            return fail(EMBER_ERR_INVALID_ARGUMENT,
                        format("%s: activations of dtype %d (only f32 and bf16)", op, dtype), error);
    }
}

#ifdef __CUDACC__  // device helpers: only for nvcc (the .cuh headers are also read by host-only tests)

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(bf16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }

template <class T>
__device__ __forceinline__ T from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) { return v; }
template <>
__device__ __forceinline__ bf16 from_f<bf16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }

// ---------------------------------------------------------------------------------------------
// Reductions

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block; every thread gets the result. `scratch` holds 32 floats; blockDim.x is a
// multiple of 32. Contains two barriers, so every thread of the block must call it.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float s = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(s);
}

// The sequence holding row t of a ragged batch: the largest s < n_seqs with cu[s] <= t (binary
// search over the device copy of cu_seqlens; t must lie in [cu[0], cu[n_seqs])).
__device__ __forceinline__ int seq_of(const int32_t* cu, int n_seqs, int64_t t) {
    int lo = 0, hi = n_seqs - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (cu[mid] <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// Vectors of V elements of T (16 bytes: 4 floats or 8 bf16) as floats, for the elementwise ops.
template <class T, int V>
__device__ __forceinline__ void load_vec(const T* p, float (&out)[V]) {
    if constexpr (V == 1) {
        out[0] = to_f(p[0]);
    } else if constexpr (sizeof(T) == 4) {
        static_assert(V == 4, "4 floats per 16 bytes");
        const float4 v = *reinterpret_cast<const float4*>(p);
        out[0] = v.x; out[1] = v.y; out[2] = v.z; out[3] = v.w;
    } else {
        static_assert(V == 8, "8 bf16 per 16 bytes");
        const uint4 u = *reinterpret_cast<const uint4*>(p);
        const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            out[2 * i] = __uint_as_float(w[i] << 16);
            out[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
        }
    }
}

template <class T, int V>
__device__ __forceinline__ void store_vec(T* p, const float (&in)[V]) {
    if constexpr (V == 1) {
        p[0] = from_f<T>(in[0]);
    } else if constexpr (sizeof(T) == 4) {
        static_assert(V == 4, "4 floats per 16 bytes");
        *reinterpret_cast<float4*>(p) = make_float4(in[0], in[1], in[2], in[3]);
    } else {
        static_assert(V == 8, "8 bf16 per 16 bytes");
        uint32_t w[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const __nv_bfloat162 h = __floats2bfloat162_rn(in[2 * i], in[2 * i + 1]);
            w[i] = *reinterpret_cast<const uint32_t*>(&h);
        }
        *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
    }
}

// Elements per 16-byte vector of T.
template <class T>
constexpr int kVec16 = 16 / static_cast<int>(sizeof(T));

#endif  // __CUDACC__

// ---------------------------------------------------------------------------------------------
// Small host helpers

__host__ __device__ constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline bool aligned_to(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// An environment variable read once per process (the hot paths consult these per launch).
const char* env_once(const char* name);
bool env_equals(const char* name, const char* value);

// Raises a kernel's dynamic shared memory limit once per device (cudaFuncSetAttribute costs a
// driver call; kernels launched many times per forward pass skip it after the first).
ember_status allow_smem(const void* kernel, size_t bytes, const char* op, std::string* error);

// Multiprocessors of the current device (cached per device).
int sm_count();

// Compute capability of the current device as 10 major + minor (cached per device; 0 when there
// is no device to ask).
int compute_capability();

// The most dynamic shared memory one block of the current device may opt in to (cached per
// device; 0 when there is no device to ask).
size_t smem_optin_limit();

// Grid-y limit: launchers that put rows on grid.y stride over the rest inside the kernel.
constexpr unsigned kMaxGridY = 65535;

}  // namespace ember::cuda
