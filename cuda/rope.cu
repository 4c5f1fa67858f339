#include "rope.cuh"

#include <algorithm>

namespace ember::cuda {
namespace {

constexpr int kThreads = 256;

struct RopeParams {
    void* x;
    int64_t x_stride;
    const int32_t* cu_seqlens;
    int n_seqs;
    int64_t first, last;  // rows [first, last)
    int n_heads, head_dim, half;
    const float* cos;
    const float* sin;
    int64_t seq_stride;
};

// One token row per block (grid-stride), threads over the (head, pair) pairs of the row.
template <class T, bool kInterleaved>
__global__ void __launch_bounds__(kThreads) rope_kernel(const RopeParams p) {
    for (int64_t r = p.first + blockIdx.x; r < p.last; r += gridDim.x) {
        const int s = seq_of(p.cu_seqlens, p.n_seqs, r);
        const int64_t t = s * p.seq_stride + (r - p.cu_seqlens[s]) * p.half;
        const float* cs = p.cos + t;
        const float* sn = p.sin + t;
        T* row = static_cast<T*>(p.x) + r * p.x_stride;
        for (int e = threadIdx.x; e < p.n_heads * p.half; e += kThreads) {
            const int h = e / p.half, j = e % p.half;
            T* x = row + static_cast<int64_t>(h) * p.head_dim;
            const int ia = kInterleaved ? 2 * j : j, ib = kInterleaved ? 2 * j + 1 : j + p.half;
            const float a = to_f(x[ia]), b = to_f(x[ib]), c = cs[j], sv = sn[j];
            x[ia] = from_f<T>(a * c - b * sv);
            x[ib] = from_f<T>(b * c + a * sv);
        }
    }
}

}  // namespace

ember_status rope(const Tensor& x, int32_t n_heads, int32_t head_dim, const RopeTable& table, const Seqs& seqs,
                  bool interleaved, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(n_heads > 0 && head_dim > 0, "rope: n_heads (%d) and head_dim (%d) must be positive", n_heads, head_dim);
    EMBER_CU_REQUIRE(table.half > 0 && 2 * table.half <= head_dim, "rope: rot_dim %d must be in 2..head_dim (%d)",
                     2 * table.half, head_dim);
    EMBER_CU_REQUIRE(x.cols >= int64_t(n_heads) * head_dim && x.stride >= x.cols, "rope: rows of %lld hold fewer than %d heads of %d",
                     (long long)x.cols, n_heads, head_dim);
    EMBER_CU_REQUIRE(seqs.n_seqs >= 0 && seqs.cu_seqlens_host != nullptr, "rope: no cu_seqlens");
    if (seqs.n_seqs == 0) return EMBER_OK;
    const int64_t first = seqs.cu_seqlens_host[0], last = seqs.cu_seqlens_host[seqs.n_seqs];
    if (last <= first) return EMBER_OK;
    EMBER_CU_REQUIRE(first >= 0 && last <= x.rows, "rope: the batch spans rows %lld..%lld of %lld", (long long)first,
                     (long long)last, (long long)x.rows);
    EMBER_CU_REQUIRE(seqs.max_len <= table.rows, "rope: a sequence of %lld tokens, but the table covers %lld positions",
                     (long long)seqs.max_len, (long long)table.rows);
    EMBER_CU_REQUIRE(table.seq_stride == 0 || table.seq_stride >= table.rows * table.half,
                     "rope: per-sequence tables overlap");
    EMBER_CU_REQUIRE(x.data && table.cos && table.sin && seqs.cu_seqlens, "rope: null pointer");
    EMBER_CU_REQUIRE(seqs.n_seqs <= 0x7fffffff, "rope: too many sequences");
    RopeParams p{x.data, x.stride, seqs.cu_seqlens, seqs.n_seqs, first, last, n_heads, head_dim, table.half,
                 table.cos, table.sin, table.seq_stride};
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(last - first, int64_t(1) << 20));
    return with_act_type(x.dtype, "rope", error, [&](auto tag) -> ember_status {
        using T = typename decltype(tag)::type;
        if (interleaved)
            rope_kernel<T, true><<<blocks, kThreads, 0, stream>>>(p);
        else
            rope_kernel<T, false><<<blocks, kThreads, 0, stream>>>(p);
        return launched("rope", error);
    });
}

}  // namespace ember::cuda
