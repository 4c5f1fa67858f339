/* Ember kernels: one typed parameter struct per op, shared by the CPU and CUDA implementations.
 *
 * Layouts: activations are row-major, one row per token, rows `*_stride` elements apart. A ragged
 * batch is described by cu_seqlens (n_seqs + 1 cumulative token counts). Weights follow the
 * Hugging Face Linear layout: n rows (outputs) of k elements (inputs), stored in `w_dtype`
 * (quantized types in their GGUF block layout, blocks along k).
 *
 * The entry points here run one op on the CPU (pointers are host memory), either the optimized
 * kernel or its scalar reference twin; the CUDA twins take the same structs with device pointers
 * (cuda/ headers). They exist for tests, benchmarks and the Java kernel checks; the model code
 * calls the ops directly.
 */
#ifndef EMBER_KERNELS_H
#define EMBER_KERNELS_H

#include "ember.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element / block types. Values are ggml's type ids so GGUF files map directly. */
typedef enum ember_dtype {
    EMBER_DTYPE_F32 = 0,
    EMBER_DTYPE_F16 = 1,
    EMBER_DTYPE_Q4_0 = 2,
    EMBER_DTYPE_Q8_0 = 8,
    EMBER_DTYPE_Q4_K = 12,
    EMBER_DTYPE_Q6_K = 14,
    EMBER_DTYPE_BF16 = 30
} ember_dtype;

typedef enum ember_impl {
    EMBER_IMPL_FAST = 0,      /* the optimized CPU kernel (SIMD, threads) */
    EMBER_IMPL_REFERENCE = 1  /* the scalar twin: obviously correct, single-threaded */
} ember_impl;

/* y[m, n] (+)= x[m, k] * W[n, k]^T (+ bias[n]) */
typedef struct ember_matmul_params {
    const float* x;
    int64_t x_stride;   /* elements between rows of x (>= k) */
    const void* w;      /* n rows of k weights in w_dtype */
    int32_t w_dtype;    /* ember_dtype */
    const float* bias;  /* n floats, or NULL */
    float* y;
    int64_t y_stride;   /* elements between rows of y (>= n) */
    int64_t m, n, k;
    int32_t accumulate; /* 1: y += result (residual fused into the projection) */
} ember_matmul_params;

/* y = x / sqrt(mean(x^2) + eps) * weight, per row of `dim`. When `residual` is set, it is first
 * added into x in place (x += residual) and the sum is normalised: the pre-norm residual stream. */
typedef struct ember_rmsnorm_params {
    float* x;
    int64_t x_stride;
    const float* residual; /* NULL, or rows added into x before normalising */
    int64_t residual_stride;
    const float* weight;   /* dim floats */
    float* y;              /* may equal x */
    int64_t y_stride;
    int64_t rows;
    int32_t dim;
    float eps;
} ember_rmsnorm_params;

/* Rotary position embedding applied in place to heads of head_dim within each row.
 * The angle for pair j at position p is read from the tables: cos[p * half + j], sin[...]
 * (half = rot_dim / 2), tables built by the shared inverse-frequency code. Position p of a token
 * is its index within its sequence plus pos_offset. */
typedef struct ember_rope_params {
    float* x;
    int64_t x_stride;
    const int32_t* cu_seqlens;
    int32_t n_seqs;
    int32_t n_heads;
    int32_t head_dim;
    int32_t rot_dim;          /* rotated dims per head (== head_dim for all supported models) */
    const float* cos;         /* table rows of rot_dim/2 */
    const float* sin;
    int64_t table_rows;       /* positions the table covers; a longer sequence is an error */
    int64_t table_seq_stride; /* 0: one table for all sequences; else elements between per-sequence
                                 tables (dynamic NTK gives each sequence its own frequencies) */
    int32_t pos_offset;
    int32_t interleaved;      /* 0: pairs (i, i + rot_dim/2), Hugging Face "rotate half";
                                 1: pairs (2i, 2i+1), ggml "normal" layout */
} ember_rope_params;

/* Fused attention over a ragged batch: out = softmax(q k^T * scale [+ mask]) v per head, never
 * materializing the L x L score matrix. GQA: query head h reads kv head h / (n_heads/n_kv_heads).
 * head_dim is at most EMBER_MAX_HEAD_DIM (models with larger heads are refused at load). */
#define EMBER_MAX_HEAD_DIM 256
typedef struct ember_attention_params {
    const float* q;   /* rows of n_heads * head_dim */
    const float* k;   /* rows of n_kv_heads * head_dim */
    const float* v;
    float* out;       /* rows of n_heads * head_dim */
    int64_t q_stride, k_stride, v_stride, out_stride;
    const int32_t* cu_seqlens;
    int32_t n_seqs;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;
    float scale;      /* usually 1/sqrt(head_dim) */
    int32_t causal;   /* 1: key j visible to query i only when j <= i */
} ember_attention_params;

/* out = silu(gate) * up, elementwise over rows of `cols`. */
typedef struct ember_swiglu_params {
    const float* gate;
    int64_t gate_stride;
    const float* up;
    int64_t up_stride;
    float* out;
    int64_t out_stride;
    int64_t rows;
    int64_t cols;
} ember_swiglu_params;

/* Pools each sequence's rows into one vector.
 * LAST: row cu[s+1]-1; CLS: row cu[s]; MEAN: mean over rows cu[s]+pool_start[s] .. cu[s+1]-1. */
typedef struct ember_pool_params {
    const float* x;
    int64_t x_stride;
    const int32_t* cu_seqlens;
    int32_t n_seqs;
    const int32_t* pool_start; /* NULL: 0 for every sequence */
    int32_t dim;
    int32_t mode;              /* ember_pooling: LAST, MEAN or CLS */
    float* out;                /* n_seqs rows of dim */
} ember_pool_params;

/* Kernel entry points (CPU). `threads` <= 0 uses all cores; REFERENCE ignores it. */
EMBER_API ember_status ember_kernel_matmul(int32_t impl, const ember_matmul_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_rmsnorm(int32_t impl, const ember_rmsnorm_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_rope(int32_t impl, const ember_rope_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_attention(int32_t impl, const ember_attention_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_swiglu(int32_t impl, const ember_swiglu_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_pool(int32_t impl, const ember_pool_params* p, int32_t threads);

/* Bytes that `n` elements of `dtype` occupy (n must be a multiple of the block size), or -1. */
EMBER_API int64_t ember_dtype_row_bytes(int32_t dtype, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_KERNELS_H */
