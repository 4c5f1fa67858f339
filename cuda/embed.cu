#include "embed.cuh"

#include <algorithm>

#include "core/dtype.h"
#include "quant.cuh"

namespace ember::cuda {
namespace {

constexpr int kThreads = 256;

template <class T, int WT>
__global__ void __launch_bounds__(kThreads)
    embed_rows_kernel(T* out, int64_t out_stride, int64_t rows, int64_t dim, const uint8_t* table, int64_t table_rows,
                      int64_t row_bytes, const int32_t* ids) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const int32_t id = ids[r];
        const bool ok = id >= 0 && id < table_rows;
        const uint8_t* src = table + (ok ? id : 0) * row_bytes;
        T* dst = out + r * out_stride;
        for (int64_t c = threadIdx.x; c < dim; c += kThreads) dst[c] = from_f<T>(ok ? decode_one<WT>(src, c) : 0.0f);
    }
}

struct AbsParams {
    void* out;
    int64_t out_stride;
    const int32_t* ids;
    const int32_t* cu_seqlens;
    int n_seqs;
    int64_t rows;
    int dim;
    const void* word;
    int64_t word_rows;
    const void* position;
    int64_t position_rows;
    const void* token_type;
};

template <int WT>
__device__ __forceinline__ float table_value(const void* t, int64_t row, int dim, int c) {
    return decode_one<WT>(static_cast<const uint8_t*>(t) + row * dim * WeightTraits<WT>::block_bytes, c);
}

template <class T, int WT>
__global__ void __launch_bounds__(kThreads) embed_abs_kernel(const AbsParams p) {
    for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const int s = seq_of(p.cu_seqlens, p.n_seqs, r);
        const int64_t pos = r - p.cu_seqlens[s];
        const int32_t id = p.ids[r];
        const bool ok = id >= 0 && id < p.word_rows && pos < p.position_rows;
        T* dst = static_cast<T*>(p.out) + r * p.out_stride;
        for (int c = threadIdx.x; c < p.dim; c += kThreads) {
            // As transformers' BertEmbeddings: (word + token type) + position, in float.
            const float v = ok ? (table_value<WT>(p.word, id, p.dim, c) + table_value<WT>(p.token_type, 0, p.dim, c)) +
                                     table_value<WT>(p.position, pos, p.dim, c)
                               : 0.0f;
            dst[c] = from_f<T>(v);
        }
    }
}

bool plain_table(int32_t dt) { return dt == EMBER_DTYPE_F32 || dt == EMBER_DTYPE_F16 || dt == EMBER_DTYPE_BF16; }

template <class F>
ember_status with_plain(int32_t dt, F&& f) {
    switch (dt) {
        case EMBER_DTYPE_F32: return f(WeightTag<EMBER_DTYPE_F32>{});
        case EMBER_DTYPE_F16: return f(WeightTag<EMBER_DTYPE_F16>{});
        default: return f(WeightTag<EMBER_DTYPE_BF16>{});
    }
}

}  // namespace

ember_status embed_rows(const Tensor& out, const Weight& table, const int32_t* ids, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(out.rows >= 0 && out.cols == table.k && out.stride >= out.cols,
                     "embed_rows: output of %lld columns for a table of %lld", (long long)out.cols, (long long)table.k);
    if (out.rows == 0 || out.cols == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(out.data && table.data && ids, "embed_rows: null pointer");
    const int64_t row_bytes = dtype_row_bytes(table.dtype, table.k);
    EMBER_CU_REQUIRE(row_bytes > 0, "embed_rows: table dtype %d with %lld columns", table.dtype, (long long)table.k);
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(out.rows, int64_t(1) << 20));
    return with_act_type(out.dtype, "embed_rows", error, [&](auto tag) -> ember_status {
        using T = typename decltype(tag)::type;
        return with_weight_type(table.dtype, [&](auto wt) -> ember_status {
            constexpr int WT = decltype(wt)::value;
            if constexpr (WT < 0) {
                return fail(EMBER_ERR_MODEL_UNSUPPORTED, format("embed_rows: table dtype %d", table.dtype), error);
            } else {
                embed_rows_kernel<T, WT><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(out.data), out.stride, out.rows,
                                                                         out.cols, static_cast<const uint8_t*>(table.data),
                                                                         table.n, row_bytes, ids);
                return launched("embed_rows", error);
            }
        });
    });
}

ember_status embed_abs(const Tensor& out, const AbsEmbedTables& t, const int32_t* ids, const Seqs& seqs,
                       cudaStream_t stream, std::string* error) {
    const int64_t dim = out.cols;
    EMBER_CU_REQUIRE(dim > 0 && dim <= 0x7fffffff && t.word.k == dim && t.position.k == dim && t.token_type.k == dim,
                     "embed_abs: tables of width %lld / %lld / %lld for %lld columns", (long long)t.word.k,
                     (long long)t.position.k, (long long)t.token_type.k, (long long)dim);
    EMBER_CU_REQUIRE(plain_table(t.word.dtype) && plain_table(t.position.dtype) && plain_table(t.token_type.dtype),
                     "embed_abs: tables must be f32, f16 or bf16");
    EMBER_CU_REQUIRE(t.position.dtype == t.word.dtype && t.token_type.dtype == t.word.dtype,
                     "embed_abs: the three tables must share one dtype");
    EMBER_CU_REQUIRE(t.word.n > 0 && t.position.n > 0 && t.token_type.n > 0, "embed_abs: every table needs a row");
    if (seqs.n_seqs == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(seqs.cu_seqlens_host && seqs.cu_seqlens_host[0] == 0, "embed_abs: cu_seqlens[0] must be 0");
    const int64_t rows = seqs.cu_seqlens_host[seqs.n_seqs];
    EMBER_CU_REQUIRE(out.rows >= rows && out.stride >= dim, "embed_abs: output holds %lld rows, the batch %lld",
                     (long long)out.rows, (long long)rows);
    EMBER_CU_REQUIRE(seqs.max_len <= t.position.n, "embed_abs: a sequence of %lld tokens, more than the %lld positions",
                     (long long)seqs.max_len, (long long)t.position.n);
    if (rows == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(out.data && ids && seqs.cu_seqlens && t.word.data && t.position.data && t.token_type.data,
                     "embed_abs: null pointer");
    AbsParams p{out.data, out.stride, ids, seqs.cu_seqlens, seqs.n_seqs, rows, static_cast<int>(dim), t.word.data,
                t.word.n, t.position.data, t.position.n, t.token_type.data};
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(rows, int64_t(1) << 20));
    return with_act_type(out.dtype, "embed_abs", error, [&](auto tag) -> ember_status {
        using T = typename decltype(tag)::type;
        return with_plain(t.word.dtype, [&](auto wt) -> ember_status {
            embed_abs_kernel<T, decltype(wt)::value><<<blocks, kThreads, 0, stream>>>(p);
            return launched("embed_abs", error);
        });
    });
}

}  // namespace ember::cuda
