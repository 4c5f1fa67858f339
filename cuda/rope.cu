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
    const int64_t* first_row;  // per sequence, or null
    int group, offset;         // position = index / group + offset
};

// One token row per block (grid-stride), threads over the (head, pair) pairs of the row.
template <class T, bool kInterleaved>
__global__ void __launch_bounds__(kThreads) rope_kernel(const RopeParams p) {
    for (int64_t r = p.first + blockIdx.x; r < p.last; r += gridDim.x) {
        const int s = seq_of(p.cu_seqlens, p.n_seqs, r);
        const int64_t index = r - p.cu_seqlens[s];
        const int64_t table_row =
            (p.first_row != nullptr ? p.first_row[s] : 0) + (p.group > 1 ? index / p.group : index) + p.offset;
        const int64_t t = table_row * p.half;
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
                  bool interleaved, const RopePositions& positions, cudaStream_t stream, std::string* error) {
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
    EMBER_CU_REQUIRE(positions.group >= 1 && positions.offset >= 0, "rope: positions index / %d + %d",
                     positions.group, positions.offset);
    EMBER_CU_REQUIRE(table.first_row == nullptr || table.first_row_host != nullptr,
                     "rope: per-sequence tables without their host copy");
    // Every sequence's last position inside the table (host copies of cu_seqlens and first rows).
    for (int32_t s = 0; s < seqs.n_seqs; ++s) {
        const int64_t len = seqs.cu_seqlens_host[s + 1] - seqs.cu_seqlens_host[s];
        if (len <= 0) continue;
        const int64_t row0 = table.first_row_host != nullptr ? table.first_row_host[s] : 0;
        const int64_t row_end = row0 + (len - 1) / positions.group + positions.offset;
        EMBER_CU_REQUIRE(row0 >= 0 && row_end < table.rows, "rope: sequence %d reaches table row %lld of %lld", s,
                         (long long)row_end, (long long)table.rows);
    }
    EMBER_CU_REQUIRE(x.data && table.cos && table.sin && seqs.cu_seqlens, "rope: null pointer");
    EMBER_CU_REQUIRE(seqs.n_seqs <= 0x7fffffff, "rope: too many sequences");
    RopeParams p{x.data,    x.stride,  seqs.cu_seqlens,  seqs.n_seqs,     first,          last,
                 n_heads,   head_dim,  table.half,       table.cos,       table.sin,      table.first_row,
                 positions.group, positions.offset};
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
