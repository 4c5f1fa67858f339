// The seam between model code and kernels. Layers are written once against Backend; the CPU and
// CUDA backends swap the kernels (and where memory lives), never the layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ember/kernels.h"

namespace ember {

enum class BackendKind { Cpu, Cuda };

// A 2-D view of activations in backend memory: `rows` rows of `cols` elements, `stride` apart.
struct Tensor {
    void* data = nullptr;
    int32_t dtype = EMBER_DTYPE_F32;
    int64_t rows = 0;
    int64_t cols = 0;
    int64_t stride = 0;

    float* f32() const { return static_cast<float*>(data); }
    // Columns [c0, c0 + n) of every row (same rows, same stride).
    Tensor cols_view(int64_t c0, int64_t n) const;
    // Rows [r0, r0 + n).
    Tensor rows_view(int64_t r0, int64_t n) const;
};

// A projection or embedding matrix in backend memory: n rows of k weights (HF Linear layout).
struct Weight {
    const void* data = nullptr;
    int32_t dtype = EMBER_DTYPE_F32;
    int64_t n = 0;
    int64_t k = 0;
};

// The ragged batch as the kernels see it: cu_seqlens in backend memory, a host copy for
// launch decisions.
struct Seqs {
    const int32_t* cu_seqlens = nullptr;       // backend memory, n_seqs + 1
    const int32_t* cu_seqlens_host = nullptr;  // host memory, n_seqs + 1
    int32_t n_seqs = 0;
    int64_t total_tokens = 0;
    int64_t max_len = 0;
};

// Cos/sin tables for RoPE (see ember_rope_params), in backend memory.
struct RopeTable {
    const float* cos = nullptr;
    const float* sin = nullptr;
    int64_t rows = 0;                         // rows the tables hold
    const int64_t* first_row = nullptr;       // backend memory, per sequence; null: all start at row 0
    const int64_t* first_row_host = nullptr;  // the same on the host (launch checks), when first_row is set
    int32_t half = 0;                         // rot_dim / 2
};

// Which position a token rotates to: index / group + offset (group 1: the ordinary positions).
struct RopePositions {
    int32_t group = 1;
    int32_t offset = 0;
};

// Attention variants beyond plain softmax(q k^T * scale) v (see ember_attention_params).
struct AttentionExtras {
    // SelfExtend, on when window > 0: q / k rotated with grouped positions; the *_future pair only
    // for bidirectional attention.
    int32_t window = 0;
    Tensor q_group, k_group, q_group_future, k_group_future;
    int32_t length_scaling_base = 0;  // > 1: LongEmbed's logits x max(log_base(L), 1)
};

// The tables of BERT-style input embeddings (see ember_embed_abs_params).
struct AbsEmbedTables {
    Weight word;        // vocab rows
    Weight position;    // max_positions rows
    Weight token_type;  // type_vocab rows
};

// NV-Embed's latent block in backend memory (see ember_latent_pool_params): the folded attention
// matrices, the feed-forward weights, the two LayerNorms.
struct LatentBlock {
    int32_t dim = 0, n_heads = 0, n_latents = 0, ffn_dim = 0;
    float scale = 1.0f, eps = 1e-5f;
    Weight score_w;  // n_heads * n_latents rows of dim
    Weight value_w;  // dim rows of n_heads * n_latents
    Weight w0;       // 2 * ffn_dim rows of dim
    Weight w2;       // dim rows of ffn_dim
    const float* b0 = nullptr;
    const float* b2 = nullptr;
    const float* norm_weight = nullptr;
    const float* norm_bias = nullptr;
    const float* ffn_norm_weight = nullptr;
    const float* ffn_norm_bias = nullptr;
};

// Owning handle to backend memory.
class Backend;
class Buffer {
  public:
    Buffer() = default;
    Buffer(Backend* owner, void* data, size_t bytes) : owner_(owner), data_(data), bytes_(bytes) {}
    Buffer(Buffer&& o) noexcept { swap(o); }
    Buffer& operator=(Buffer&& o) noexcept { Buffer tmp(std::move(o)); swap(tmp); return *this; }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer();

    void* data() const { return data_; }
    size_t bytes() const { return bytes_; }
    template <class T> T* as() const { return static_cast<T*>(data_); }

  private:
    void swap(Buffer& o) noexcept {
        std::swap(owner_, o.owner_);
        std::swap(data_, o.data_);
        std::swap(bytes_, o.bytes_);
    }
    Backend* owner_ = nullptr;
    void* data_ = nullptr;
    size_t bytes_ = 0;
};

// A sequence of backend ops recorded once (a CUDA graph) and queued again by replay() on the
// calling thread's stream: the same kernels on the same pointers, shapes and host-side launch
// decisions as when it was recorded. Only the contents of the memory it reads may change.
class Recording {
  public:
    virtual ~Recording() = default;
    virtual void replay() = 0;
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual BackendKind kind() const = 0;
    virtual std::string describe() const = 0;
    // Element type of activations between ops (F32 on CPU).
    virtual int32_t activation_dtype() const = 0;
    virtual int threads() const { return 1; }

    // Memory. alloc throws Error(EMBER_ERR_OUT_OF_MEMORY) on failure.
    virtual Buffer alloc(size_t bytes) = 0;
    virtual void release(void* data) noexcept = 0;
    virtual void upload(void* dst, const void* src, size_t bytes) = 0;
    virtual void download(void* dst, const void* src, size_t bytes) = 0;
    // Makes a host weight usable by kernels. The CPU backend may return the host pointer as is
    // (then `host` must outlive the backend's use of it); others copy into `storage`.
    virtual Weight adopt_weight(const void* host, int32_t dtype, int64_t n, int64_t k, Buffer& storage) = 0;
    // Waits for queued work (no-op on CPU).
    virtual void synchronize() {}

    // Whether record() can return a recording (a backend where launching costs more than the
    // bookkeeping of a replay; off unless the backend was asked to record).
    virtual bool records() const { return false; }
    // Records the ops `ops` issues on the calling thread instead of running them: nothing runs
    // until replay(). `ops` must neither allocate, free, upload nor download, and everything it
    // touches must outlive the recording. Returns nullptr with `why` set when the backend cannot
    // record or the recording failed; the caller then runs the ops directly.
    virtual std::unique_ptr<Recording> record(const std::function<void()>& ops, std::string* why) {
        (void)ops;
        if (why) *why = "this backend does not record op sequences";
        return nullptr;
    }

    // Ops. Tensors and pointers are backend memory.
    // out row t = table row ids[t] (converted to the activation dtype).
    virtual void embed_rows(const Tensor& out, const Weight& table, const int32_t* ids) = 0;
    // y (+)= x W^T (+ bias)
    virtual void matmul(const Tensor& y, const Tensor& x, const Weight& w, const float* bias,
                        bool accumulate) = 0;
    // If residual: x += residual first. y = rmsnorm(x) * weight.
    virtual void rmsnorm(const Tensor& x, const Tensor* residual, const float* weight, float eps,
                         const Tensor& y) = 0;
    // In place on heads of head_dim within each row of x.
    virtual void rope(const Tensor& x, int32_t n_heads, int32_t head_dim, const RopeTable& table,
                      const Seqs& seqs, bool interleaved, const RopePositions& positions) = 0;
    virtual void attention(const Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v,
                           const Seqs& seqs, int32_t n_heads, int32_t n_kv_heads, int32_t head_dim,
                           float scale, bool causal, const AttentionExtras& extras) = 0;
    virtual void swiglu(const Tensor& out, const Tensor& gate, const Tensor& up) = 0;
    // out: n_seqs rows of x.cols floats (F32), pool_start in backend memory or null.
    virtual void pool(const Tensor& out, const Tensor& x, const Seqs& seqs, const int32_t* pool_start,
                      int32_t mode) = 0;
    // y = layernorm(x) * weight (+ bias); y may be x.
    virtual void layernorm(const Tensor& x, const float* weight, const float* bias, float eps, const Tensor& y) = 0;
    // out = gelu(gate), or GEGLU's up * gelu(gate) when up is given (exact erf form).
    virtual void gelu(const Tensor& out, const Tensor& gate, const Tensor* up) = 0;
    // out row t = word[ids[t]] + token_type[0] + position[t - start of its sequence].
    virtual void embed_abs(const Tensor& out, const AbsEmbedTables& tables, const int32_t* ids, const Seqs& seqs) = 0;
    // dst row (dst_rows ? dst_rows[i] : i) = src row (src_rows ? src_rows[i] : i) for i < n (index
    // arrays in backend memory).
    virtual void copy_rows(const Tensor& dst, const int32_t* dst_rows, const Tensor& src, const int32_t* src_rows,
                           int64_t n) = 0;
    // NV-Embed latent-attention pooling of x: out (n_seqs rows of dim, F32) is the masked mean;
    // token_out, when given, receives every token's row after the block.
    virtual void latent_pool(const Tensor& out, const Tensor* token_out, const Tensor& x, const Seqs& seqs,
                             const int32_t* pool_start, const LatentBlock& block) = 0;
};

std::unique_ptr<Backend> make_cpu_backend(int threads);

// Defined by the CUDA build (cuda/) or by backend/no_cuda.cpp.
bool cuda_built();
// Usable devices; 0 with `reason` set when none.
int cuda_device_count(std::string* reason);
struct CudaDeviceInfo {
    std::string name;
    int64_t total_memory = 0;
    int32_t major = 0, minor = 0, multiprocessors = 0;
};
// Device `index` as the driver reports it; throws BACKEND_UNAVAILABLE / INVALID_ARGUMENT.
CudaDeviceInfo cuda_device_info(int index);
// ember_load_options' CUDA settings as the caller gave them (ember_cuda_precision and ember_switch
// values, checked by the loader); the CUDA build resolves the defaults from the environment.
struct CudaSettings {
    int32_t precision = EMBER_CUDA_PRECISION_DEFAULT;
    int32_t graphs = EMBER_SWITCH_DEFAULT;
    int32_t cublaslt = EMBER_SWITCH_DEFAULT;
};
std::unique_ptr<Backend> make_cuda_backend(int device, const CudaSettings& settings);

}  // namespace ember
