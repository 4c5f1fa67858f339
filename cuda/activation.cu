#include "activation.cuh"

#include <algorithm>
#include <cstdint>

namespace ember::cuda {
namespace {

constexpr int kThreads = 256;

// silu(x) = x / (1 + e^-x). expf, not __expf: the kernel is memory bound, and the result should
// track the CPU reference to float rounding. For x -> -inf, e^-x overflows to inf and x / inf
// gives -0, the right limit.
struct Silu {
    __device__ __forceinline__ static float f(float x) { return x / (1.0f + expf(-x)); }
};
// gelu(x) = 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2): the erfc form keeps full
// relative precision for x << 0, as the CPU kernel does.
struct Gelu {
    __device__ __forceinline__ static float f(float x) { return 0.5f * x * erfcf(-x * 0.70710678118654752f); }
};

struct GatedParams {
    const void* gate;
    int64_t gate_stride;
    const void* up;  // null: no gating product
    int64_t up_stride;
    void* out;
    int64_t out_stride;
    int64_t rows, cols;
};

// One row per blockIdx.y (striding by gridDim.y past 65535 rows), V-element vectors across x.
template <class T, int V, class Op>
__global__ void gated_kernel(const GatedParams p) {
    const int64_t col = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
    if (col >= p.cols) return;
    const T* gate = static_cast<const T*>(p.gate);
    const T* up = static_cast<const T*>(p.up);
    T* out = static_cast<T*>(p.out);
    for (int64_t row = blockIdx.y; row < p.rows; row += gridDim.y) {
        float g[V], u[V], o[V];
        load_vec<T, V>(gate + row * p.gate_stride + col, g);
        if (up != nullptr) load_vec<T, V>(up + row * p.up_stride + col, u);
#pragma unroll
        for (int i = 0; i < V; ++i) o[i] = up != nullptr ? Op::f(g[i]) * u[i] : Op::f(g[i]);
        store_vec<T, V>(out + row * p.out_stride + col, o);
    }
}

template <class Op>
ember_status launch_gated(const char* op, const Tensor& out, const Tensor& gate, const Tensor* up, cudaStream_t stream,
                          std::string* error) {
    EMBER_CU_REQUIRE(out.rows >= 0 && out.cols >= 0, "%s: negative size", op);
    EMBER_CU_REQUIRE(gate.rows == out.rows && gate.cols == out.cols && (!up || (up->rows == out.rows && up->cols == out.cols)),
                     "%s: operand shapes differ (out %lld x %lld)", op, (long long)out.rows, (long long)out.cols);
    EMBER_CU_REQUIRE(gate.dtype == out.dtype && (!up || up->dtype == out.dtype), "%s: operands must share one dtype", op);
    if (out.rows == 0 || out.cols == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(gate.data && out.data && (!up || up->data), "%s: null pointer", op);
    EMBER_CU_REQUIRE(gate.stride >= out.cols && out.stride >= out.cols && (!up || up->stride >= out.cols),
                     "%s: a row stride is smaller than cols (%lld): gate %lld, out %lld", op, (long long)out.cols,
                     (long long)gate.stride, (long long)out.stride);
    GatedParams p{gate.data, gate.stride, up ? up->data : nullptr, up ? up->stride : 0, out.data, out.stride, out.rows, out.cols};
    return with_act_type(out.dtype, op, error, [&](auto tag) -> ember_status {
        using T = typename decltype(tag)::type;
        constexpr int V = kVec16<T>;
        const bool vec = p.cols % V == 0 && p.gate_stride % V == 0 && p.out_stride % V == 0 && aligned_to(p.gate, 16) &&
                         aligned_to(p.out, 16) && (!up || (p.up_stride % V == 0 && aligned_to(p.up, 16)));
        const int64_t per_thread = vec ? V : 1;
        const int64_t blocks_x = ceil_div(ceil_div(p.cols, per_thread), kThreads);
        EMBER_CU_REQUIRE(blocks_x <= 0x7fffffff, "%s: cols too large for one grid", op);
        const dim3 grid(static_cast<unsigned>(blocks_x), static_cast<unsigned>(std::min<int64_t>(p.rows, kMaxGridY)));
        if (vec)
            gated_kernel<T, V, Op><<<grid, kThreads, 0, stream>>>(p);
        else
            gated_kernel<T, 1, Op><<<grid, kThreads, 0, stream>>>(p);
        return launched(op, error);
    });
}

}  // namespace

ember_status swiglu(const Tensor& out, const Tensor& gate, const Tensor& up, cudaStream_t stream, std::string* error) {
    return launch_gated<Silu>("swiglu", out, gate, &up, stream, error);
}

ember_status gelu(const Tensor& out, const Tensor& gate, const Tensor* up, cudaStream_t stream, std::string* error) {
    return launch_gated<Gelu>("gelu", out, gate, up, stream, error);
}

ember_status swiglu(const ember_swiglu_params& p, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(p.rows >= 0 && p.cols >= 0, "swiglu: negative size (rows %lld, cols %lld)", (long long)p.rows,
                     (long long)p.cols);
    if (p.rows == 0 || p.cols == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(p.gate && p.up && p.out, "swiglu: null pointer");
    const Tensor g{const_cast<float*>(p.gate), EMBER_DTYPE_F32, p.rows, p.cols, p.gate_stride};
    const Tensor u{const_cast<float*>(p.up), EMBER_DTYPE_F32, p.rows, p.cols, p.up_stride};
    const Tensor o{p.out, EMBER_DTYPE_F32, p.rows, p.cols, p.out_stride};
    return swiglu(o, g, u, stream, error);
}

}  // namespace ember::cuda
