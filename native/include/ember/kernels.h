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
 * The angle for pair j at position p is read from the tables: cos[row * half + j], sin[...]
 * (half = rot_dim / 2), tables built by the shared inverse-frequency code. The position of the
 * token at index i within its sequence is i + pos_offset, or with pos_group G > 1 the grouped
 * position i / G + pos_offset (SelfExtend); it reads table row table_first_row[s] + position. */
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
    int64_t table_rows;       /* rows the tables hold; a position past them is an error */
    const int64_t* table_first_row; /* NULL: every sequence reads from row 0; else per sequence the row
                                       its position 0 reads (dynamic NTK gives each long sequence
                                       frequencies, and so a table, of its own) */
    int32_t pos_offset;
    int32_t interleaved;      /* 0: pairs (i, i + rot_dim/2), Hugging Face "rotate half";
                                 1: pairs (2i, 2i+1), ggml "normal" layout */
    int32_t pos_group;        /* 0 or 1: ordinary positions; G > 1: index / G (SelfExtend) */
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
    /* SelfExtend (Jin et al. 2024, "LLM Maybe LongLM"), on when self_extend_window W > 0: query i
     * scores key j with the ordinary q . k when |i - j| < W and with grouped positions otherwise:
     * q_group . k_group for keys before the query, q_group_future . k_group_future for keys after
     * it (bidirectional). The caller rotates the four with these positions (G the group size,
     * s = W - W / G):  q_group: i / G + s;  k_group: j / G;  q_group_future: i / G;
     * k_group_future: j / G + s (rows and strides as q and k). Never an L x L buffer. */
    const float* q_group;
    const float* k_group;
    const float* q_group_future; /* bidirectional only */
    const float* k_group_future; /* bidirectional only */
    int64_t q_group_stride, k_group_stride, q_group_future_stride, k_group_future_stride;
    int32_t self_extend_window;
    /* LongEmbed's attention scaling, on when > 1: the logits of a sequence of L tokens are also
     * multiplied by max(log(L) / log(length_scaling_base), 1). */
    int32_t length_scaling_base;
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

/* y = (x - mean) / sqrt(var + eps) * weight + bias per row of `dim`, with the biased variance
 * (torch.nn.LayerNorm). y may equal x. */
typedef struct ember_layernorm_params {
    const float* x;
    int64_t x_stride;
    const float* weight; /* dim floats */
    const float* bias;   /* dim floats, or NULL */
    float* y;
    int64_t y_stride;
    int64_t rows;
    int32_t dim;
    float eps;
} ember_layernorm_params;

/* out = gelu(gate), or with `up` set GEGLU's up * gelu(gate), elementwise over rows of `cols`.
 * gelu is the exact form 0.5 g (1 + erf(g / sqrt(2))) (Hugging Face "gelu", torch's default).
 * out may equal gate or up. */
typedef struct ember_gelu_params {
    const float* gate;
    int64_t gate_stride;
    const float* up;   /* NULL: plain GELU */
    int64_t up_stride;
    float* out;
    int64_t out_stride;
    int64_t rows;
    int64_t cols;
} ember_gelu_params;

/* BERT-style input embeddings with learned absolute positions:
 * out[t] = word[ids[t]] + token_type[type of t] + position[index of t within its sequence].
 * Tables are rows of `dim` in f32, f16 or bf16. */
typedef struct ember_embed_abs_params {
    const int32_t* ids;
    const int32_t* token_type_ids; /* NULL: type 0 for every token */
    const int32_t* cu_seqlens;
    int32_t n_seqs;
    const void* word;
    int32_t word_dtype;
    int64_t word_rows;
    const void* position;
    int32_t position_dtype;
    int64_t position_rows;   /* the longest sequence allowed */
    const void* token_type;
    int32_t token_type_dtype;
    int64_t token_type_rows;
    int32_t dim;
    float* out;
    int64_t out_stride;
} ember_embed_abs_params;

/* Whole-row gather / scatter: dst row (dst_rows ? dst_rows[i] : i) = src row (src_rows ? src_rows[i] : i)
 * for i < n (Causal2Vec's contextual token into and out of the decoder). Rows must not overlap. */
typedef struct ember_copy_rows_params {
    const float* src;
    int64_t src_stride;
    int64_t src_row_count;   /* rows src holds (bounds the indices) */
    const int32_t* src_rows; /* n indices, or NULL */
    float* dst;
    int64_t dst_stride;
    int64_t dst_row_count;
    const int32_t* dst_rows; /* n indices, or NULL; no index twice */
    int64_t n;
    int64_t cols;
} ember_copy_rows_params;

/* NV-Embed's latent-attention pooling over a ragged batch of token states x (rows of `dim`):
 *   X  = LayerNorm(x; norm_weight, norm_bias, eps)
 *   S  = X score_w^T                               n_heads * n_latents scores per token
 *   P  = softmax(scale * S) per head, over that head's n_latents scores (no mask)
 *   H1 = P value_w^T + x
 *   [a | g] = LayerNorm(H1; ffn_norm_weight, ffn_norm_bias, eps) w0^T + b0     (a, g: ffn_dim each)
 *   H2 = (a * gelu(g)) w2^T + b2 + H1
 *   out[s] = mean of the H2 rows of sequence s from its pool_start on (L2 is the caller's).
 * score_w and value_w are the latents' keys and values folded into the query and output
 * projections at load time (model/nvembed_model.cpp): with C = LayerNorm_ctx(latents), K_h / V_h
 * the r x head_dim keys / values of head h and Wq_h, Wout_h that head's slices of the projections,
 *   score_w row    h * n_latents + j = K_h[j] Wq_h      (so S_h = Q_h K_h^T)
 *   value_w column h * n_latents + j = Wout_h V_h[j]    (so P value_w^T = concat_h(P_h V_h) Wout^T).
 * At NV-Embed-v2's size (r = 512 latents, 8 heads of 4096, dim 4096) that turns the per-token
 * Q (32768 x 4096), K/V products and output (4096 x 32768) projections into two 4096 x 4096 ones. */
typedef struct ember_latent_pool_params {
    const float* x;
    int64_t x_stride;
    const int32_t* cu_seqlens;
    int32_t n_seqs;
    const int32_t* pool_start;  /* NULL: 0 for every sequence */
    int32_t dim;
    int32_t n_heads;
    int32_t n_latents;
    int32_t ffn_dim;            /* width of a (and g): 4 * dim in NV-Embed */
    const float* norm_weight;   /* dim */
    const float* norm_bias;     /* dim */
    const void* score_w;        /* n_heads * n_latents rows of dim, in score_w_dtype */
    int32_t score_w_dtype;
    const void* value_w;        /* dim rows of n_heads * n_latents */
    int32_t value_w_dtype;
    float scale;                /* 1 / sqrt(head_dim) */
    const float* ffn_norm_weight;
    const float* ffn_norm_bias;
    const void* w0;             /* 2 * ffn_dim rows of dim */
    int32_t w0_dtype;
    const float* b0;            /* 2 * ffn_dim, or NULL */
    const void* w2;             /* dim rows of ffn_dim */
    int32_t w2_dtype;
    const float* b2;            /* dim, or NULL */
    float eps;
    float* out;                 /* n_seqs rows of dim */
    float* token_out;           /* NULL, or H2 of every token (rows of dim, token_out_stride apart) */
    int64_t token_out_stride;
} ember_latent_pool_params;

/* Kernel entry points (CPU). `threads` <= 0 uses all cores; REFERENCE ignores it. */
EMBER_API ember_status ember_kernel_matmul(int32_t impl, const ember_matmul_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_rmsnorm(int32_t impl, const ember_rmsnorm_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_rope(int32_t impl, const ember_rope_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_attention(int32_t impl, const ember_attention_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_swiglu(int32_t impl, const ember_swiglu_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_pool(int32_t impl, const ember_pool_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_layernorm(int32_t impl, const ember_layernorm_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_gelu(int32_t impl, const ember_gelu_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_embed_abs(int32_t impl, const ember_embed_abs_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_copy_rows(int32_t impl, const ember_copy_rows_params* p, int32_t threads);
EMBER_API ember_status ember_kernel_latent_pool(int32_t impl, const ember_latent_pool_params* p, int32_t threads);

/* Bytes that `n` elements of `dtype` occupy (n must be a multiple of the block size), or -1. */
EMBER_API int64_t ember_dtype_row_bytes(int32_t dtype, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_KERNELS_H */
