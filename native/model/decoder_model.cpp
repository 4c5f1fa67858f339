#include "model/decoder_model.h"

#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"
#include "model/families.h"

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

const int32_t* to_backend(Backend& backend, const int32_t* host, int64_t n, Buffer& storage) {
    if (backend.kind() == BackendKind::Cpu) return host;
    storage = backend.alloc(static_cast<size_t>(n) * sizeof(int32_t));
    backend.upload(storage.data(), host, static_cast<size_t>(n) * sizeof(int32_t));
    return storage.as<const int32_t>();
}

Buffer run_decoder(Backend& backend, const Decoder& decoder, const BackendBatch& bb) {
    const int64_t H = decoder.config().hidden_size, T = bb.seqs.total_tokens;
    const int32_t dt = backend.activation_dtype();
    Buffer x_buf = backend.alloc(static_cast<size_t>(T * H) * dtype_info(dt)->block_bytes);
    const Tensor x{x_buf.data(), dt, T, H, H};
    decoder.embed(x, bb.ids);
    decoder.forward(x, bb.seqs, x);
    return x_buf;
}

void download_f32(Backend& backend, const void* src, int32_t dtype, int64_t n, float* out) {
    backend.synchronize();
    if (dtype == EMBER_DTYPE_F32) {
        backend.download(out, src, static_cast<size_t>(n) * sizeof(float));
        return;
    }
    if (dtype != EMBER_DTYPE_BF16 && dtype != EMBER_DTYPE_F16)
        EMBER_FAIL(EMBER_ERR_INTERNAL, "download of dtype %d activations is not implemented", dtype);
    std::vector<uint16_t> half(static_cast<size_t>(n));
    backend.download(half.data(), src, half.size() * sizeof(uint16_t));
    for (int64_t i = 0; i < n; ++i) out[i] = dtype == EMBER_DTYPE_BF16 ? bf16_to_f32(half[i]) : f16_to_f32(half[i]);
}

int64_t decoder_activation_bytes(const DecoderConfig& c) {
    const int64_t H = c.hidden_size, Q = int64_t(c.num_heads) * c.head_dim, KV = int64_t(c.num_kv_heads) * c.head_dim;
    // x, xn, q, k, v, attention output, gate, up (Decoder::forward's buffers), f32.
    return 4 * (2 * H + 2 * Q + 2 * KV + 2 * int64_t(c.intermediate_size));
}

Json decoder_runtime(const Decoder& decoder, const Backend& backend) {
    const Decoder::ReplayStats st = decoder.replay_stats();
    Json g = Json::object();
    g["enabled"] = backend.records();
    g["recorded"] = st.recorded;
    g["replayed"] = st.replayed;
    g["failed"] = st.failed;
    g["evicted"] = st.evicted;
    g["live"] = st.live;
    g["last_failure"] = st.last_failure;
    Json r = Json::object();
    r["graphs"] = std::move(g);
    return r;
}

ember_model_info decoder_model_info(const DecoderConfig& c, const Decoder& decoder, const Backend& backend,
                                    int32_t pooling, const std::string& family) {
    ember_model_info info{};
    info.hidden_size = c.hidden_size;
    info.embedding_size = c.hidden_size;
    info.vocab_size = c.vocab_size;
    info.num_layers = c.num_layers;
    info.num_heads = c.num_heads;
    info.num_kv_heads = c.num_kv_heads;
    info.head_dim = c.head_dim;
    info.intermediate_size = c.intermediate_size;
    info.max_positions = c.max_positions;
    info.causal = c.causal ? 1 : 0;
    info.pooling = pooling;
    info.backend = backend.kind() == BackendKind::Cuda ? EMBER_BACKEND_CUDA : EMBER_BACKEND_CPU;
    info.weight_dtype = decoder.weight_dtype();
    info.threads = backend.threads();
    info.weight_bytes = decoder.weight_bytes();
    std::snprintf(info.architecture, sizeof(info.architecture), "%s", c.model_type.c_str());
    std::snprintf(info.family, sizeof(info.family), "%s", family.c_str());
    return info;
}

namespace {

class DecoderModel final : public Model {
  public:
    DecoderModel(const DecoderModelSpec& spec, std::unique_ptr<Backend> backend, std::unique_ptr<WeightSource> weights)
        : spec_(spec), weights_(std::move(weights)) {
        backend_ = std::move(backend);
        decoder_ = std::make_unique<Decoder>(spec.decoder, *backend_, *weights_, "");
        info_ = decoder_model_info(spec.decoder, *decoder_, *backend_, spec.pooling, spec.family);
    }

    void forward_hidden(const HostBatch& batch, float* out) override {
        BackendBatch bb = to_backend(*backend_, batch);
        Buffer hidden = run_decoder(*backend_, *decoder_, bb);
        download_f32(*backend_, hidden.data(), backend_->activation_dtype(), batch.total_tokens * info_.hidden_size, out);
    }

    Json describe() const override {
        Json d = Json::object();
        d["backbone"] = describe_decoder(spec_.decoder);
        return d;
    }

    Json runtime() const override { return decoder_runtime(*decoder_, *backend_); }

    int64_t activation_bytes_per_token() const override { return decoder_activation_bytes(spec_.decoder); }

    void forward_pooled(const HostBatch& batch, float* out) override {
        BackendBatch bb = to_backend(*backend_, batch);
        Buffer hidden = run_decoder(*backend_, *decoder_, bb);
        const int64_t H = info_.hidden_size;
        Buffer pooled = backend_->alloc(static_cast<size_t>(batch.n_seqs * H) * sizeof(float));
        const Tensor x{hidden.data(), backend_->activation_dtype(), batch.total_tokens, H, H};
        const Tensor p{pooled.data(), EMBER_DTYPE_F32, batch.n_seqs, H, H};
        backend_->pool(p, x, bb.seqs, bb.pool_start, spec_.pooling);
        backend_->synchronize();
        backend_->download(out, pooled.data(), static_cast<size_t>(batch.n_seqs * H) * sizeof(float));
    }

  private:
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
