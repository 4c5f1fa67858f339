#include "swiglu.cuh"

#include <algorithm>
#include <cstdint>

#include "core/error.h"

namespace ember::cuda {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxGridY = 65535;

// silu(x) = x * sigmoid(x) = x / (1 + e^-x). expf, not __expf: the kernel is memory bound, and
// the result should track the CPU reference to float rounding. For x -> -inf, e^-x overflows to
// inf and x / inf gives -0, the right limit.
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

// One row per blockIdx.y (striding by gridDim.y for batches with more rows than the grid allows),
// columns across blockIdx.x. Vec4: rows are read and written as float4, which the launcher allows
// only when cols and all strides are multiples of 4 and the pointers are 16-byte aligned.
template <bool Vec4>
__global__ void swiglu_kernel(const float* __restrict__ gate, int64_t gate_stride,
                              const float* __restrict__ up, int64_t up_stride,
                              float* __restrict__ out, int64_t out_stride, int64_t rows,
                              int64_t cols) {
    const int64_t col = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * (Vec4 ? 4 : 1);
    if (col >= cols) return;
    for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
        const float* g = gate + row * gate_stride + col;
        const float* u = up + row * up_stride + col;
        float* o = out + row * out_stride + col;
        if constexpr (Vec4) {
            const float4 gv = *reinterpret_cast<const float4*>(g);
            const float4 uv = *reinterpret_cast<const float4*>(u);
            *reinterpret_cast<float4*>(o) =
                make_float4(silu(gv.x) * uv.x, silu(gv.y) * uv.y, silu(gv.z) * uv.z, silu(gv.w) * uv.w);
        } else {
            *o = silu(*g) * *u;
        }
    }
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

ember_status fail(ember_status status, std::string message, std::string* error) {
    if (error) *error = std::move(message);
    return status;
}

}  // namespace

ember_status swiglu(const ember_swiglu_params& p, cudaStream_t stream, std::string* error) {
    if (p.rows < 0 || p.cols < 0) {
        return fail(EMBER_ERR_INVALID_ARGUMENT,
                    format("swiglu: negative size (rows %lld, cols %lld)", static_cast<long long>(p.rows),
                           static_cast<long long>(p.cols)),
                    error);
    }
    if (p.rows == 0 || p.cols == 0) return EMBER_OK;
    if (!p.gate || !p.up || !p.out) return fail(EMBER_ERR_INVALID_ARGUMENT, "swiglu: null pointer", error);
    if (p.gate_stride < p.cols || p.up_stride < p.cols || p.out_stride < p.cols) {
        return fail(EMBER_ERR_INVALID_ARGUMENT,
                    format("swiglu: a row stride is smaller than cols (%lld): gate %lld, up %lld, out %lld",
                           static_cast<long long>(p.cols), static_cast<long long>(p.gate_stride),
                           static_cast<long long>(p.up_stride), static_cast<long long>(p.out_stride)),
                    error);
    }

    const bool vec4 = p.cols % 4 == 0 && p.gate_stride % 4 == 0 && p.up_stride % 4 == 0 &&
                      p.out_stride % 4 == 0 && aligned16(p.gate) && aligned16(p.up) && aligned16(p.out);
    const int64_t per_thread = vec4 ? 4 : 1;
    const int64_t blocks_x = (p.cols / per_thread + kThreads - 1) / kThreads;
    if (blocks_x > 0x7fffffff) {
        return fail(EMBER_ERR_INVALID_ARGUMENT, "swiglu: cols too large for one grid", error);
    }
    const dim3 grid(static_cast<unsigned>(blocks_x),
                    static_cast<unsigned>(std::min<int64_t>(p.rows, kMaxGridY)));
    if (vec4) {
        swiglu_kernel<true><<<grid, kThreads, 0, stream>>>(p.gate, p.gate_stride, p.up, p.up_stride,
                                                          p.out, p.out_stride, p.rows, p.cols);
    } else {
        swiglu_kernel<false><<<grid, kThreads, 0, stream>>>(p.gate, p.gate_stride, p.up, p.up_stride,
                                                           p.out, p.out_stride, p.rows, p.cols);
    }
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) {
        return fail(EMBER_ERR_INTERNAL,
                    format("swiglu: kernel launch failed: %s (%s)", cudaGetErrorString(err), cudaGetErrorName(err)),
                    error);
    }
    return EMBER_OK;
}

}  // namespace ember::cuda
