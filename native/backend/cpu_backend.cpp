// The CPU backend: host memory, the kernels in native/ops on a per-model thread pool.
#include <cstdlib>
#include <cstring>
#include <memory>

#include "backend/backend.h"
#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "ops/attention.h"
#include "ops/copy_rows.h"
#include "ops/embed_abs.h"
#include "ops/gelu.h"
#include "ops/latent_pool.h"
#include "ops/layernorm.h"
#include "ops/matmul.h"
#include "ops/pool.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"
#include "quant/quants.h"

namespace ember {

namespace {

void require_f32(const Tensor& t, const char* what) {
    if (t.dtype != EMBER_DTYPE_F32) EMBER_FAIL(EMBER_ERR_INTERNAL, "CPU backend: %s must be f32", what);
}

class CpuBackend final : public Backend {
  public:
    explicit CpuBackend(int threads) : pool_(threads) {}

    BackendKind kind() const override { return BackendKind::Cpu; }
    std::string describe() const override {
        return std::string("cpu (") + isa_name(active_isa()) + ", " + std::to_string(pool_.size()) + " threads)";
    }
    int32_t activation_dtype() const override { return EMBER_DTYPE_F32; }
    int threads() const override { return pool_.size(); }

    Buffer alloc(size_t bytes) override {
        // 64-byte alignment: whole cache lines and aligned AVX-512 loads.
        void* p = std::aligned_alloc(64, ((bytes + 63) / 64) * 64 + 64);
        if (p == nullptr) EMBER_FAIL(EMBER_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of host memory", bytes);
        return Buffer(this, p, bytes);
    }
    void release(void* data) noexcept override { std::free(data); }
    void upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
    void download(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }

    Weight adopt_weight(const void* host, int32_t dtype, int64_t n, int64_t k, Buffer& storage) override {
        const DtypeInfo* info = dtype_info(dtype);
        if (info == nullptr) EMBER_FAIL(EMBER_ERR_INTERNAL, "unknown weight dtype %d", dtype);
        // Mapped file data is used in place when suitably aligned for the element type.
        const uintptr_t align = static_cast<uintptr_t>(info->block_elems == 1 ? info->block_bytes : 2);
        if (reinterpret_cast<uintptr_t>(host) % align == 0) return Weight{host, dtype, n, k};
        const int64_t bytes = n * dtype_row_bytes(dtype, k);
        storage = alloc(static_cast<size_t>(bytes));
        std::memcpy(storage.data(), host, static_cast<size_t>(bytes));
        return Weight{storage.data(), dtype, n, k};
    }

    void embed_rows(const Tensor& out, const Weight& table, const int32_t* ids) override {
        require_f32(out, "embedding output");
        const int64_t row_bytes = dtype_row_bytes(table.dtype, table.k);
        pool_.parallel_for(out.rows, 16, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const int32_t id = ids[r];
                if (id < 0 || id >= table.n) EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "token id %d out of range", id);
                const uint8_t* src = static_cast<const uint8_t*>(table.data) + id * row_bytes;
                float* dst = out.f32() + r * out.stride;
                switch (table.dtype) {
                    case EMBER_DTYPE_F32: std::memcpy(dst, src, table.k * sizeof(float)); break;
                    case EMBER_DTYPE_BF16:
                        for (int64_t i = 0; i < table.k; ++i) {
                            uint16_t h;
                            std::memcpy(&h, src + 2 * i, 2);
                            dst[i] = bf16_to_f32(h);
                        }
                        break;
                    case EMBER_DTYPE_F16:
                        for (int64_t i = 0; i < table.k; ++i) {
                            uint16_t h;
                            std::memcpy(&h, src + 2 * i, 2);
                            dst[i] = f16_to_f32(h);
                        }
                        break;
                    default:  // GGUF quantized tables: one row dequantized
                        if (!quant::dequantize_row(table.dtype, src, dst, table.k))
                            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "embedding table dtype %s",
                                       dtype_info(table.dtype)->name);
                }
            }
        });
    }

    void matmul(const Tensor& y, const Tensor& x, const Weight& w, const float* bias, bool accumulate) override {
        require_f32(y, "matmul output");
        require_f32(x, "matmul input");
        ember_matmul_params p{};
        p.x = x.f32();
        p.x_stride = x.stride;
        p.w = w.data;
        p.w_dtype = w.dtype;
        p.bias = bias;
        p.y = y.f32();
        p.y_stride = y.stride;
        p.m = x.rows;
        p.n = w.n;
        p.k = w.k;
        p.accumulate = accumulate ? 1 : 0;
        cpu::matmul(p, pool_);
    }

    void rmsnorm(const Tensor& x, const Tensor* residual, const float* weight, float eps, const Tensor& y) override {
        ember_rmsnorm_params p{};
        p.x = x.f32();
        p.x_stride = x.stride;
        p.residual = residual ? residual->f32() : nullptr;
        p.residual_stride = residual ? residual->stride : 0;
        p.weight = weight;
        p.y = y.f32();
        p.y_stride = y.stride;
        p.rows = x.rows;
        p.dim = static_cast<int32_t>(x.cols);
        p.eps = eps;
        cpu::rmsnorm(p, pool_);
    }

    void rope(const Tensor& x, int32_t n_heads, int32_t head_dim, const RopeTable& table, const Seqs& seqs,
              bool interleaved, const RopePositions& positions) override {
        ember_rope_params p{};
        p.x = x.f32();
        p.x_stride = x.stride;
        p.cu_seqlens = seqs.cu_seqlens;
        p.n_seqs = seqs.n_seqs;
        p.n_heads = n_heads;
        p.head_dim = head_dim;
        p.rot_dim = table.half * 2;
        p.cos = table.cos;
        p.sin = table.sin;
        p.table_rows = table.rows;
        p.table_first_row = table.first_row;
        p.pos_offset = positions.offset;
        p.pos_group = positions.group;
        p.interleaved = interleaved ? 1 : 0;
        cpu::rope(p, pool_);
    }

    void attention(const Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, const Seqs& seqs,
                   int32_t n_heads, int32_t n_kv_heads, int32_t head_dim, float scale, bool causal,
                   const AttentionExtras& extras) override {
        ember_attention_params p{};
        p.q = q.f32();
        p.k = k.f32();
        p.v = v.f32();
        p.out = out.f32();
        p.q_stride = q.stride;
        p.k_stride = k.stride;
        p.v_stride = v.stride;
        p.out_stride = out.stride;
        p.cu_seqlens = seqs.cu_seqlens;
        p.n_seqs = seqs.n_seqs;
        p.n_heads = n_heads;
        p.n_kv_heads = n_kv_heads;
        p.head_dim = head_dim;
        p.scale = scale;
        p.causal = causal ? 1 : 0;
        if (extras.window > 0) {
            require_f32(extras.q_group, "SelfExtend q");
            p.self_extend_window = extras.window;
            p.q_group = extras.q_group.f32();
            p.q_group_stride = extras.q_group.stride;
            p.k_group = extras.k_group.f32();
            p.k_group_stride = extras.k_group.stride;
            p.q_group_future = extras.q_group_future.f32();
            p.q_group_future_stride = extras.q_group_future.stride;
            p.k_group_future = extras.k_group_future.f32();
            p.k_group_future_stride = extras.k_group_future.stride;
        }
        p.length_scaling_base = extras.length_scaling_base;
        cpu::attention(p, pool_);
    }

    void swiglu(const Tensor& out, const Tensor& gate, const Tensor& up) override {
        ember_swiglu_params p{};
        p.gate = gate.f32();
        p.gate_stride = gate.stride;
        p.up = up.f32();
        p.up_stride = up.stride;
        p.out = out.f32();
        p.out_stride = out.stride;
        p.rows = out.rows;
        p.cols = out.cols;
        cpu::swiglu(p, pool_);
    }

    void pool(const Tensor& out, const Tensor& x, const Seqs& seqs, const int32_t* pool_start, int32_t mode) override {
        ember_pool_params p{};
        p.x = x.f32();
        p.x_stride = x.stride;
        p.cu_seqlens = seqs.cu_seqlens;
        p.n_seqs = seqs.n_seqs;
        p.pool_start = pool_start;
        p.dim = static_cast<int32_t>(x.cols);
        p.mode = mode;
        p.out = out.f32();
        cpu::pool(p, pool_);
    }

    void layernorm(const Tensor& x, const float* weight, const float* bias, float eps, const Tensor& y) override {
        require_f32(x, "layernorm input");
        require_f32(y, "layernorm output");
        ember_layernorm_params p{};
        p.x = x.f32();
        p.x_stride = x.stride;
        p.weight = weight;
        p.bias = bias;
        p.y = y.f32();
        p.y_stride = y.stride;
        p.rows = x.rows;
        p.dim = static_cast<int32_t>(x.cols);
        p.eps = eps;
        cpu::layernorm(p, pool_);
    }

    void gelu(const Tensor& out, const Tensor& gate, const Tensor* up) override {
        ember_gelu_params p{};
        p.gate = gate.f32();
        p.gate_stride = gate.stride;
        p.up = up ? up->f32() : nullptr;
        p.up_stride = up ? up->stride : 0;
        p.out = out.f32();
        p.out_stride = out.stride;
        p.rows = out.rows;
        p.cols = out.cols;
        cpu::gelu(p, pool_);
    }

    void embed_abs(const Tensor& out, const AbsEmbedTables& t, const int32_t* ids, const Seqs& seqs) override {
        require_f32(out, "embedding output");
        ember_embed_abs_params p{};
        p.ids = ids;
        p.token_type_ids = nullptr;
        p.cu_seqlens = seqs.cu_seqlens;
        p.n_seqs = seqs.n_seqs;
        p.word = t.word.data;
        p.word_dtype = t.word.dtype;
        p.word_rows = t.word.n;
        p.position = t.position.data;
        p.position_dtype = t.position.dtype;
        p.position_rows = t.position.n;
        p.token_type = t.token_type.data;
        p.token_type_dtype = t.token_type.dtype;
        p.token_type_rows = t.token_type.n;
        p.dim = static_cast<int32_t>(out.cols);
        p.out = out.f32();
        p.out_stride = out.stride;
        cpu::embed_abs(p, pool_);
    }

    void copy_rows(const Tensor& dst, const int32_t* dst_rows, const Tensor& src, const int32_t* src_rows,
                   int64_t n) override {
        require_f32(dst, "copy_rows destination");
        require_f32(src, "copy_rows source");
        if (dst.cols != src.cols) EMBER_FAIL(EMBER_ERR_INTERNAL, "copy_rows: %lld columns into %lld", (long long)src.cols, (long long)dst.cols);
        ember_copy_rows_params p{src.f32(), src.stride, src.rows, src_rows, dst.f32(), dst.stride, dst.rows, dst_rows, n, dst.cols};
        cpu::copy_rows(p, pool_);
    }

    void latent_pool(const Tensor& out, const Tensor* token_out, const Tensor& x, const Seqs& seqs,
                     const int32_t* pool_start, const LatentBlock& b) override {
        require_f32(x, "latent_pool input");
        ember_latent_pool_params p{};
        p.x = x.f32();
        p.x_stride = x.stride;
        p.cu_seqlens = seqs.cu_seqlens;
        p.n_seqs = seqs.n_seqs;
        p.pool_start = pool_start;
        p.dim = b.dim;
        p.n_heads = b.n_heads;
        p.n_latents = b.n_latents;
        p.ffn_dim = b.ffn_dim;
        p.norm_weight = b.norm_weight;
        p.norm_bias = b.norm_bias;
        p.score_w = b.score_w.data;
        p.score_w_dtype = b.score_w.dtype;
        p.value_w = b.value_w.data;
        p.value_w_dtype = b.value_w.dtype;
        p.scale = b.scale;
        p.ffn_norm_weight = b.ffn_norm_weight;
        p.ffn_norm_bias = b.ffn_norm_bias;
        p.w0 = b.w0.data;
        p.w0_dtype = b.w0.dtype;
        p.b0 = b.b0;
        p.w2 = b.w2.data;
        p.w2_dtype = b.w2.dtype;
        p.b2 = b.b2;
        p.eps = b.eps;
        p.out = out.f32();
        p.token_out = token_out ? token_out->f32() : nullptr;
        p.token_out_stride = token_out ? token_out->stride : 0;
        if (x.cols != b.dim || out.cols != b.dim || (token_out && token_out->cols != b.dim))
            EMBER_FAIL(EMBER_ERR_INTERNAL, "latent_pool: tensors of width %lld for a block of dim %d", (long long)x.cols, b.dim);
        cpu::latent_pool(p, pool_);
    }

  private:
    ThreadPool pool_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace ember
