#include "pool.cuh"

#include <algorithm>

namespace ember::cuda {
namespace {

constexpr int kThreads = 256;

struct PoolParams {
    const void* x;
    int64_t x_stride;
    const int32_t* cu_seqlens;
    const int32_t* pool_start;
    int n_seqs;
    int64_t dim;
    int mode;
    float* out;
    int64_t out_stride;
};

// Columns across blockIdx.x * 256 + threadIdx.x, sequences across blockIdx.y (grid-stride):
// consecutive threads read consecutive columns of the same row.
template <class T>
__global__ void __launch_bounds__(kThreads) pool_kernel(const PoolParams p) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
    if (c >= p.dim) return;
    const T* x = static_cast<const T*>(p.x);
    for (int s = blockIdx.y; s < p.n_seqs; s += gridDim.y) {
        const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
        int64_t first, last;
        if (p.mode == EMBER_POOLING_LAST) {
            first = end - 1;
            last = end;
        } else if (p.mode == EMBER_POOLING_CLS) {
            first = start;
            last = start + 1;
        } else {
            first = start + (p.pool_start ? p.pool_start[s] : 0);
            last = end;
        }
        double acc = 0.0;
        for (int64_t r = first; r < last; ++r) acc += to_f(x[r * p.x_stride + c]);
        const int64_t n = last - first;
        p.out[static_cast<int64_t>(s) * p.out_stride + c] = n > 0 ? static_cast<float>(acc / static_cast<double>(n)) : 0.0f;
    }
}

}  // namespace

ember_status pool(const Tensor& out, const Tensor& x, const Seqs& seqs, const int32_t* pool_start, int32_t mode,
                  cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(mode == EMBER_POOLING_LAST || mode == EMBER_POOLING_MEAN || mode == EMBER_POOLING_CLS,
                     "pool: mode %d is not LAST, MEAN or CLS", mode);
    EMBER_CU_REQUIRE(out.dtype == EMBER_DTYPE_F32, "pool: the output is f32");
    EMBER_CU_REQUIRE(x.cols > 0 && out.cols == x.cols && out.stride >= out.cols, "pool: widths x %lld, out %lld",
                     (long long)x.cols, (long long)out.cols);
    EMBER_CU_REQUIRE(seqs.n_seqs >= 0 && out.rows >= seqs.n_seqs, "pool: %d sequences into %lld rows", seqs.n_seqs,
                     (long long)out.rows);
    if (seqs.n_seqs == 0) return EMBER_OK;
    const int32_t* cu = seqs.cu_seqlens_host;
    EMBER_CU_REQUIRE(cu != nullptr && cu[0] >= 0, "pool: no cu_seqlens");
    for (int32_t s = 0; s < seqs.n_seqs; ++s)
        EMBER_CU_REQUIRE(cu[s + 1] > cu[s], "pool: sequence %d is empty", s);
    EMBER_CU_REQUIRE(x.rows >= cu[seqs.n_seqs] && x.stride >= x.cols, "pool: x holds %lld rows, the batch %d",
                     (long long)x.rows, cu[seqs.n_seqs]);
    EMBER_CU_REQUIRE(out.data && x.data && seqs.cu_seqlens, "pool: null pointer");
    PoolParams p{x.data, x.stride, seqs.cu_seqlens, mode == EMBER_POOLING_MEAN ? pool_start : nullptr, seqs.n_seqs,
                 x.cols, mode, out.f32(), out.stride};
    const dim3 grid(static_cast<unsigned>(ceil_div(x.cols, kThreads)),
                    static_cast<unsigned>(std::min<int64_t>(seqs.n_seqs, kMaxGridY)));
    return with_act_type(x.dtype, "pool", error, [&](auto tag) -> ember_status {
        using T = typename decltype(tag)::type;
        pool_kernel<T><<<grid, kThreads, 0, stream>>>(p);
        return launched("pool", error);
    });
}

}  // namespace ember::cuda
