#include "model/decoder_model.h"

#include <cstring>

#include "core/dtype.h"
#include "core/error.h"

namespace ember {

BackendBatch to_backend(Backend& backend, const HostBatch& b) {
    BackendBatch out;
    out.seqs.cu_seqlens_host = b.cu_seqlens;
    out.seqs.n_seqs = b.n_seqs;
    out.seqs.total_tokens = b.total_tokens;
    out.seqs.max_len = b.max_len;
    if (backend.kind() == BackendKind::Cpu) {
        out.ids = b.ids;
        out.seqs.cu_seqlens = b.cu_seqlens;
        out.pool_start = b.pool_start;
        return out;
    }
    auto copy = [&](Buffer& buf, const int32_t* src, int64_t n) {
        buf = backend.alloc(static_cast<size_t>(n) * sizeof(int32_t));
        backend.upload(buf.data(), src, static_cast<size_t>(n) * sizeof(int32_t));
        return buf.as<const int32_t>();
    };
    out.ids = copy(out.ids_buf, b.ids, b.total_tokens);
    out.seqs.cu_seqlens = copy(out.cu_buf, b.cu_seqlens, b.n_seqs + 1);
    if (b.pool_start != nullptr) out.pool_start = copy(out.pool_start_buf, b.pool_start, b.n_seqs);
    return out;
}

namespace {

class DecoderModel final : public Model {
  public:
    DecoderModel(const DecoderModelSpec& spec, std::unique_ptr<Backend> backend, std::unique_ptr<WeightSource> weights)
        : spec_(spec), weights_(std::move(weights)) {
        backend_ = std::move(backend);
        decoder_ = std::make_unique<Decoder>(spec.decoder, *backend_, *weights_, "");
        const DecoderConfig& c = spec.decoder;
        info_.hidden_size = c.hidden_size;
        info_.embedding_size = c.hidden_size;
        info_.vocab_size = c.vocab_size;
        info_.num_layers = c.num_layers;
        info_.num_heads = c.num_heads;
        info_.num_kv_heads = c.num_kv_heads;
        info_.head_dim = c.head_dim;
        info_.intermediate_size = c.intermediate_size;
        info_.max_positions = c.max_positions;
        info_.causal = c.causal ? 1 : 0;
        info_.pooling = spec.pooling;
        info_.backend = backend_->kind() == BackendKind::Cuda ? EMBER_BACKEND_CUDA : EMBER_BACKEND_CPU;
        info_.weight_dtype = decoder_->weight_dtype();
        info_.threads = backend_->threads();
        info_.weight_bytes = decoder_->weight_bytes();
        std::snprintf(info_.architecture, sizeof(info_.architecture), "%s", c.model_type.c_str());
        std::snprintf(info_.family, sizeof(info_.family), "%s", spec.family.c_str());
    }

    void forward_hidden(const HostBatch& batch, float* out) override {
        Buffer hidden = run(batch);
        download_f32(hidden, batch.total_tokens * info_.hidden_size, out);
    }

    void forward_pooled(const HostBatch& batch, float* out) override {
        BackendBatch bb = to_backend(*backend_, batch);
        Buffer hidden = run(batch, &bb);
        const int64_t H = info_.hidden_size;
        Buffer pooled = backend_->alloc(static_cast<size_t>(batch.n_seqs * H) * sizeof(float));
        const Tensor x{hidden.data(), backend_->activation_dtype(), batch.total_tokens, H, H};
        const Tensor p{pooled.data(), EMBER_DTYPE_F32, batch.n_seqs, H, H};
        backend_->pool(p, x, bb.seqs, bb.pool_start, spec_.pooling);
        backend_->synchronize();
        backend_->download(out, pooled.data(), static_cast<size_t>(batch.n_seqs * H) * sizeof(float));
    }

  private:
    Buffer run(const HostBatch& batch, const BackendBatch* given = nullptr) {
        BackendBatch local;
        if (given == nullptr) local = to_backend(*backend_, batch);
        const BackendBatch& bb = given ? *given : local;
        const int64_t H = info_.hidden_size;
        const int32_t dt = backend_->activation_dtype();
        Buffer x_buf = backend_->alloc(static_cast<size_t>(batch.total_tokens * H) * dtype_info(dt)->block_bytes);
        const Tensor x{x_buf.data(), dt, batch.total_tokens, H, H};
        decoder_->embed(x, bb.ids);
        decoder_->forward(x, bb.seqs, x);
        return x_buf;
    }

    void download_f32(const Buffer& b, int64_t n, float* out) {
        backend_->synchronize();
        if (backend_->activation_dtype() != EMBER_DTYPE_F32)
            EMBER_FAIL(EMBER_ERR_INTERNAL, "hidden-state download from non-f32 activations is not implemented");
        backend_->download(out, b.data(), static_cast<size_t>(n) * sizeof(float));
    }

    DecoderModelSpec spec_;
    std::unique_ptr<WeightSource> weights_;
    std::unique_ptr<Decoder> decoder_;
};

}  // namespace

std::unique_ptr<Model> make_decoder_model(const DecoderModelSpec& spec, std::unique_ptr<Backend> backend,
                                          std::unique_ptr<WeightSource> weights) {
    return std::make_unique<DecoderModel>(spec, std::move(backend), std::move(weights));
}

}  // namespace ember
