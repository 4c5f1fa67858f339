#include "copy_rows.cuh"

#include <algorithm>

namespace ember::cuda {
namespace {

constexpr int kThreads = 256;

struct CopyParams {
    const void* src;
    int64_t src_stride, src_rows_count;
    const int32_t* src_rows;
    void* dst;
    int64_t dst_stride, dst_rows_count;
    const int32_t* dst_rows;
    int64_t n, cols;
};

template <class TS, class TD>
__global__ void __launch_bounds__(kThreads) copy_rows_kernel(const CopyParams p) {
    for (int64_t i = blockIdx.x; i < p.n; i += gridDim.x) {
        const int64_t s = p.src_rows ? p.src_rows[i] : i, d = p.dst_rows ? p.dst_rows[i] : i;
        if (s < 0 || s >= p.src_rows_count || d < 0 || d >= p.dst_rows_count) continue;
        const TS* src = static_cast<const TS*>(p.src) + s * p.src_stride;
        TD* dst = static_cast<TD*>(p.dst) + d * p.dst_stride;
        for (int64_t c = threadIdx.x; c < p.cols; c += kThreads) dst[c] = from_f<TD>(to_f(src[c]));
    }
}

template <class TS, class TD>
__global__ void __launch_bounds__(kThreads) convert_kernel(TD* dst, const TS* src, int64_t n) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * kThreads)
        dst[i] = from_f<TD>(to_f(src[i]));
}

}  // namespace

ember_status copy_rows(const Tensor& dst, const int32_t* dst_rows, const Tensor& src, const int32_t* src_rows, int64_t n,
                       cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(n >= 0 && dst.cols == src.cols, "copy_rows: %lld columns into %lld", (long long)src.cols,
                     (long long)dst.cols);
    EMBER_CU_REQUIRE(src_rows || n <= src.rows, "copy_rows: %lld rows requested from %lld", (long long)n, (long long)src.rows);
    EMBER_CU_REQUIRE(dst_rows || n <= dst.rows, "copy_rows: %lld rows written into %lld", (long long)n, (long long)dst.rows);
    if (n == 0 || dst.cols == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(dst.data && src.data && dst.stride >= dst.cols && src.stride >= src.cols,
                     "copy_rows: null tensor or stride below its width");
    CopyParams p{src.data, src.stride, src.rows, src_rows, dst.data, dst.stride, dst.rows, dst_rows, n, dst.cols};
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(n, int64_t(1) << 20));
    return with_act_type(src.dtype, "copy_rows", error, [&](auto ts) -> ember_status {
        return with_act_type(dst.dtype, "copy_rows", error, [&](auto td) -> ember_status {
            using TS = typename decltype(ts)::type;
            using TD = typename decltype(td)::type;
            copy_rows_kernel<TS, TD><<<blocks, kThreads, 0, stream>>>(p);
            return launched("copy_rows", error);
        });
    });
}

ember_status convert(void* dst, int32_t dst_dtype, const void* src, int32_t src_dtype, int64_t n, cudaStream_t stream,
                     std::string* error) {
    EMBER_CU_REQUIRE(n >= 0, "convert: negative count");
    if (n == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(dst && src, "convert: null pointer");
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(ceil_div(n, kThreads), int64_t(1) << 16));
    auto run = [&](auto ts) -> ember_status {
        using TS = typename decltype(ts)::type;
        return with_act_type(dst_dtype, "convert", error, [&](auto td) -> ember_status {
            using TD = typename decltype(td)::type;
            convert_kernel<TS, TD><<<blocks, kThreads, 0, stream>>>(static_cast<TD*>(dst), static_cast<const TS*>(src), n);
            return launched("convert", error);
        });
    };
    if (src_dtype == EMBER_DTYPE_F16) return run(TypeTag<__half>{});
    return with_act_type(src_dtype, "convert", error, run);
}

}  // namespace ember::cuda
