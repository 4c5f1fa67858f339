/* Ember: the plain C ABI over the native core.
 *
 * Every function returns an ember_status; on failure a message describing the problem is kept
 * per thread and read with ember_last_error(). No function aborts, exits or lets a C++ exception
 * escape. Handles are opaque; a model handle is immutable after load and may be used by many
 * threads at once for ember_embed / ember_forward.
 */
#ifndef EMBER_EMBER_H
#define EMBER_EMBER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EMBER_API __declspec(dllexport)
#else
#define EMBER_API __attribute__((visibility("default")))
#endif

/* Status codes. The Java bindings map each to an EmberException subclass. */
typedef enum ember_status {
    EMBER_OK = 0,
    EMBER_ERR_INVALID_ARGUMENT = 1,    /* caller input: token id out of range, empty sequence, bad sizes */
    EMBER_ERR_MODEL_NOT_FOUND = 2,     /* path missing, required file absent */
    EMBER_ERR_MODEL_MALFORMED = 3,     /* file present but inconsistent: truncated, bad offsets, wrong shapes */
    EMBER_ERR_MODEL_UNSUPPORTED = 4,   /* well-formed but not something Ember runs (architecture, dtype, option) */
    EMBER_ERR_BACKEND_UNAVAILABLE = 5, /* CUDA asked for but not built, no device or no driver */
    EMBER_ERR_OUT_OF_MEMORY = 6,       /* host or device allocation failed; the handle stays usable */
    EMBER_ERR_INTERNAL = 7             /* a bug in Ember: please report */
} ember_status;

/* Message of the last failure on the calling thread ("" if none). Valid until the next Ember call
 * on this thread. */
EMBER_API const char* ember_last_error(void);

/* Library version string, e.g. "0.1.0". */
EMBER_API const char* ember_version(void);

/* ---------------------------------------------------------------- backends */

typedef enum ember_backend {
    EMBER_BACKEND_AUTO = 0, /* CUDA when built and a device is present, else CPU */
    EMBER_BACKEND_CPU = 1,
    EMBER_BACKEND_CUDA = 2
} ember_backend;

/* Whether this build of the library contains the CUDA backend. */
EMBER_API int32_t ember_cuda_built(void);

/* Number of CUDA devices usable by this build (0 when not built, no driver or no device).
 * `reason` (may be NULL) receives why there are none, NUL-terminated, truncated to reason_len. */
EMBER_API ember_status ember_cuda_device_count(int32_t* count, char* reason, size_t reason_len);

/* Facts about CUDA device `index` (0 <= index < the device count): its name (NUL-terminated,
 * truncated to name_len), total memory in bytes, compute capability major.minor and number of
 * multiprocessors. Every out pointer may be NULL. EMBER_ERR_BACKEND_UNAVAILABLE when there is no
 * CUDA build, driver or device (ember_last_error says which), EMBER_ERR_INVALID_ARGUMENT for an
 * index out of range. Creates no CUDA context on the device. */
EMBER_API ember_status ember_cuda_device_info(int32_t index, char* name, size_t name_len, int64_t* total_memory,
                                              int32_t* major, int32_t* minor, int32_t* multiprocessors);

/* Name of the SIMD level the CPU kernels dispatch to on this machine ("avx512", "avx2", "scalar"). */
EMBER_API const char* ember_cpu_isa(void);

/* ---------------------------------------------------------------- models */

typedef struct ember_model ember_model;

/* RoPE scaling chosen at load time, over what the model's files say (ember_load_options). The
 * factor extends the model's trained context (its original_max_position_embeddings, else
 * max_position_embeddings); inverse frequencies as Hugging Face transformers computes them. */
typedef enum ember_rope_scaling {
    EMBER_ROPE_SCALING_MODEL = 0,   /* keep the model's own (config.json / GGUF metadata) */
    EMBER_ROPE_SCALING_NONE = 1,    /* plain RoPE: inv_freq_j = base^(-2j/d) */
    EMBER_ROPE_SCALING_LINEAR = 2,  /* position interpolation: inv_freq / factor */
    EMBER_ROPE_SCALING_NTK = 3,     /* static NTK-aware: base x factor^(d/(d-2)) */
    EMBER_ROPE_SCALING_DYNAMIC = 4, /* dynamic NTK: per sequence, from its own length */
    EMBER_ROPE_SCALING_YARN = 5,    /* YaRN (beta_fast 32, beta_slow 1, cos/sin x 0.1 ln(factor) + 1) */
    EMBER_ROPE_SCALING_LLAMA3 = 6   /* Llama 3.1 (low_freq_factor 1, high_freq_factor 4) */
} ember_rope_scaling;

/* CUDA settings (ember_load_options); each *_DEFAULT defers to the environment variable named,
 * then to Ember's default. A setting has no effect on the CPU backend. */
typedef enum ember_cuda_precision {
    EMBER_CUDA_PRECISION_DEFAULT = 0, /* EMBER_CUDA_PRECISION=fast|fp32, else FAST */
    EMBER_CUDA_PRECISION_FAST = 1,    /* bf16 activations between ops, f32 accumulation, tensor cores */
    EMBER_CUDA_PRECISION_FP32 = 2     /* f32 throughout on CUDA cores (within ~1e-6 of float64) */
} ember_cuda_precision;

typedef enum ember_switch {
    EMBER_SWITCH_DEFAULT = 0,
    EMBER_SWITCH_ON = 1,
    EMBER_SWITCH_OFF = 2
} ember_switch;

typedef struct ember_load_options {
    int32_t backend;      /* ember_backend */
    int32_t threads;      /* CPU worker threads; <= 0 picks the number of cores */
    int32_t device;       /* CUDA device ordinal */
    /* Long context; every field 0 keeps the model as it is. */
    int32_t rope_scaling;       /* ember_rope_scaling */
    double rope_factor;         /* its factor (>= 1; not used by MODEL and NONE) */
    double rope_theta;          /* > 1: replaces the RoPE base (rope_theta), e.g. 1e5; 0: the model's */
    int32_t self_extend_group;  /* SelfExtend group size G >= 1 (with self_extend_window); 0: off */
    int32_t self_extend_window; /* SelfExtend neighbour window W >= 1: keys closer than W to the query
                                   keep their positions, farther ones use positions / G */
    int32_t attention_scaling;  /* N >= 2: attention logits x max(log_N(L), 1) for a sequence of L
                                   tokens (LongEmbed uses N = 512); 0: off */
    int32_t cuda_precision;     /* ember_cuda_precision */
    int32_t cuda_graphs;        /* ember_switch: replay CUDA graphs for short batches of shapes seen
                                   before (EMBER_CUDA_GRAPHS=0|1, else on) */
    int32_t cuda_cublaslt;      /* ember_switch: cuBLASLt for bf16 matmuls where libcublasLt.so.13
                                   loads (EMBER_CUBLASLT=1, else off) */
    int32_t reserved[2];        /* zero */
} ember_load_options;

/* Fills `opts` with the defaults (AUTO backend, all cores, device 0, the model's RoPE, no
 * SelfExtend, CUDA settings from the environment). */
EMBER_API void ember_load_options_init(ember_load_options* opts);

/* Loads a model from a Hugging Face snapshot folder (config.json + safetensors) or a GGUF file.
 * `opts` may be NULL for defaults. On success *out receives a handle to free with
 * ember_model_free. */
EMBER_API ember_status ember_model_load(const char* path, const ember_load_options* opts,
                                        ember_model** out);

EMBER_API void ember_model_free(ember_model* model);

/* Number of model handles loaded by ember_model_load and not yet freed, process-wide. For leak
 * checks and monitoring. */
EMBER_API int64_t ember_live_models(void);

typedef enum ember_pooling {
    EMBER_POOLING_LAST = 0,   /* the last token of each sequence */
    EMBER_POOLING_MEAN = 1,   /* mean over the pool mask (all tokens, or from pool_start on) */
    EMBER_POOLING_CLS = 2,    /* the first token */
    EMBER_POOLING_LATENT = 3, /* NV-Embed latent attention, then mean over the pool mask */
    EMBER_POOLING_CONCAT_CONTEXTUAL_LAST = 4 /* Causal2Vec */
} ember_pooling;

typedef struct ember_model_info {
    int32_t hidden_size;    /* width of last_hidden_state rows */
    int32_t embedding_size; /* width of the pooled embedding (2x hidden for Causal2Vec) */
    int32_t vocab_size;
    int32_t num_layers;
    int32_t num_heads;
    int32_t num_kv_heads;
    int32_t head_dim;
    int32_t intermediate_size;
    int32_t max_positions;  /* the model's trained context length */
    int32_t causal;         /* 1 causal, 0 bidirectional */
    int32_t pooling;        /* ember_pooling */
    int32_t backend;        /* the backend actually in use (CPU or CUDA) */
    int32_t weight_dtype;   /* ember_dtype of the projection weights */
    int32_t threads;
    int64_t weight_bytes;   /* bytes of weights held by the backend */
    char architecture[64];  /* e.g. "qwen3", "llama", "mistral" */
    char family[64];        /* e.g. "qwen3-embedding", "llama-embed-nemotron" */
} ember_model_info;

EMBER_API ember_status ember_model_get_info(const ember_model* model, ember_model_info* out);

/* A ragged batch: the token ids of all sequences back to back, and cumulative lengths.
 * Sequence s occupies token_ids[cu_seqlens[s] .. cu_seqlens[s+1]). */
typedef struct ember_batch {
    const int32_t* token_ids;
    const int32_t* cu_seqlens; /* n_seqs + 1 entries, cu_seqlens[0] == 0, non-decreasing */
    int32_t n_seqs;
    /* Optional (NULL = 0 for all): per sequence, the number of leading tokens left out of mean /
     * latent pooling (they are still attended to). NV-Embed's instruction masking. */
    const int32_t* pool_start;
    /* Optional, Causal2Vec: the encoder's token ids, ragged the same way (NULL otherwise). */
    const int32_t* encoder_token_ids;
    const int32_t* encoder_cu_seqlens;
} ember_batch;

typedef struct ember_embed_options {
    int32_t normalize;  /* 1: L2-normalise each embedding */
    int32_t dimensions; /* Matryoshka: keep the first d components (0 = all), then normalise */
    int32_t reserved[6];
} ember_embed_options;

EMBER_API void ember_embed_options_init(ember_embed_options* opts);

/* Embeds a batch. `out` receives n_seqs rows of `row_len` floats where row_len is
 * opts->dimensions if set, else info.embedding_size; out_len is the capacity of `out` in floats. */
EMBER_API ember_status ember_embed(ember_model* model, const ember_batch* batch,
                                   const ember_embed_options* opts, float* out, size_t out_len);

/* The decoder's last_hidden_state (after the final norm) for every token of the batch, flat:
 * total_tokens rows of hidden_size floats (for Causal2Vec the inserted contextual token adds one
 * row per sequence). Mostly for tests against references. */
EMBER_API ember_status ember_forward_hidden(ember_model* model, const ember_batch* batch,
                                            float* out, size_t out_len);

/* ember_embed / ember_forward_hidden with the batch and options as plain arguments, for bindings
 * that pass arrays (no structs to allocate on the caller's side). Optional arrays may be NULL. */
EMBER_API ember_status ember_embed_arrays(ember_model* model, const int32_t* token_ids, const int32_t* cu_seqlens,
                                          int32_t n_seqs, const int32_t* pool_start,
                                          const int32_t* encoder_token_ids, const int32_t* encoder_cu_seqlens,
                                          int32_t normalize, int32_t dimensions, float* out, size_t out_len);
EMBER_API ember_status ember_forward_hidden_arrays(ember_model* model, const int32_t* token_ids,
                                                   const int32_t* cu_seqlens, int32_t n_seqs,
                                                   const int32_t* encoder_token_ids,
                                                   const int32_t* encoder_cu_seqlens, float* out, size_t out_len);
EMBER_API ember_status ember_hidden_rows_arrays(const ember_model* model, const int32_t* token_ids,
                                                const int32_t* cu_seqlens, int32_t n_seqs,
                                                const int32_t* encoder_token_ids,
                                                const int32_t* encoder_cu_seqlens, int64_t* rows);

/* Number of rows ember_forward_hidden writes for this batch. */
EMBER_API ember_status ember_hidden_rows(const ember_model* model, const ember_batch* batch,
                                         int64_t* rows);

/* What Ember recognized in the model folder, as one JSON object: family, architectures,
 * model_type, the backbone (dimensions, layers, heads, attention direction, RoPE), pooling,
 * embedding size, weight dtype, end-of-sequence handling, instruction masking, prompt formats
 * (the family's, and config_sentence_transformers.json's prompts when present), the
 * architecture's own parts (NV-Embed's latent block; Causal2Vec's encoder, projector and
 * contextual position) and memory (weight bytes, activation bytes per token).
 * Writes at most buf_len bytes including the terminating NUL (truncating); *needed (may be NULL)
 * receives the full length plus one. buf may be NULL when buf_len is 0. */
EMBER_API ember_status ember_model_describe(const ember_model* model, char* buf, size_t buf_len,
                                            size_t* needed);

/* What the model has done at run time so far, as one JSON object (buffer rules as
 * ember_model_describe): "graphs": whether this model replays CUDA graphs (on unless
 * EMBER_CUDA_GRAPHS=0), and how many passes were recorded, replayed, failed to record or replay
 * (they ran directly), evicted, live now, and the last failure's message. */
EMBER_API ember_status ember_model_runtime(const ember_model* model, char* buf, size_t buf_len, size_t* needed);

/* Intermediate outputs of particular architectures, for checks against reference
 * implementations. */
typedef enum ember_intermediate {
    EMBER_INTERMEDIATE_LATENT_OUTPUT = 1,    /* NV-Embed: every token's row after the latent block
                                                (total_tokens x hidden_size), before the mean */
    EMBER_INTERMEDIATE_CONTEXTUAL_TOKEN = 2, /* Causal2Vec: the projected contextual token
                                                (n_seqs x hidden_size), as inserted */
    EMBER_INTERMEDIATE_ENCODER_HIDDEN = 3    /* Causal2Vec: the encoder's last_hidden_state
                                                (encoder tokens x encoder hidden size) */
} ember_intermediate;

/* Rows and columns ember_forward_intermediate writes for this batch; EMBER_ERR_INVALID_ARGUMENT
 * when the model has no such output. */
EMBER_API ember_status ember_intermediate_shape(const ember_model* model, const ember_batch* batch,
                                                int32_t which, int64_t* rows, int64_t* cols);

/* Runs the batch and writes the intermediate `which` (rows x cols floats, row-major) to out;
 * out_len is the capacity of out in floats. */
EMBER_API ember_status ember_forward_intermediate(ember_model* model, const ember_batch* batch,
                                                  int32_t which, float* out, size_t out_len);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_EMBER_H */
