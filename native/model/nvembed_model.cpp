#include "model/nvembed_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"
#include "model/decoder.h"
#include "model/decoder_model.h"

namespace ember {

namespace {

// latent_attention_config; the defaults are NV-Embed-v2's (LatentAttentionConfig in its modeling
// code), which its published config.json leaves implicit.
struct LatentConfig {
    int32_t n_latents = 512;   // num_latents_value
    int32_t n_heads = 8;       // num_cross_heads
    int32_t head_dim = 4096;   // cross_dim_head
    int32_t hidden_dim = 4096; // context width (the latents are the context)
    int32_t latent_dim = 4096; // query width (the token states)
    bool output_normalize = true;
};

LatentConfig parse_latent_config(const Json& config) {
    LatentConfig c;
    const Json* j = json_find(config, "latent_attention_config");
    if (j == nullptr) return c;
    const std::string what = "config.json latent_attention_config";
    if (!j->is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s is not a JSON object", what.c_str());
    c.n_latents = static_cast<int32_t>(json_int_or(*j, "num_latents_value", c.n_latents, what, 1, 1 << 16));
    c.n_heads = static_cast<int32_t>(json_int_or(*j, "num_cross_heads", c.n_heads, what, 1, 1024));
    c.head_dim = static_cast<int32_t>(json_int_or(*j, "cross_dim_head", c.head_dim, what, 1, 1 << 16));
    c.hidden_dim = static_cast<int32_t>(json_int_or(*j, "hidden_dim", c.hidden_dim, what, 1, 1 << 16));
    c.latent_dim = static_cast<int32_t>(json_int_or(*j, "latent_dim", c.latent_dim, what, 1, 1 << 16));
    c.output_normalize = json_bool_or(*j, "output_normalize", c.output_normalize, what);
    return c;
}

// Element i of a host array of `dtype`, as float.
float host_value(const void* data, int32_t dtype, int64_t i, const char* name) {
    switch (dtype) {
        case EMBER_DTYPE_F32: return static_cast<const float*>(data)[i];
        case EMBER_DTYPE_F16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
        case EMBER_DTYPE_BF16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
        default:
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: %s weights are not supported in the latent block", name,
                       dtype_info(dtype) ? dtype_info(dtype)->name : "?");
    }
}

std::vector<float> host_f32(const WeightRef& r) {
    int64_t n = 1;
    for (int64_t s : r.shape) n *= s;
    std::vector<float> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[i] = host_value(r.data, r.dtype, i, r.name.c_str());
    return out;
}

Buffer upload_f32(Backend& backend, const float* host, int64_t n) {
    Buffer b = backend.alloc(static_cast<size_t>(n) * sizeof(float));
    backend.upload(b.data(), host, static_cast<size_t>(n) * sizeof(float));
    return b;
}

const char* kLatentPrefix = "latent_attention_model.";

class NvEmbedModel final : public Model {
  public:
    NvEmbedModel(const Json& config, const Family& family, const ember_load_options& opts,
                 std::unique_ptr<Backend> backend, std::unique_ptr<WeightSource> weights)
        : weights_(std::move(weights)) {
        const Json* text = json_find(config, "text_config");
        if (text == nullptr)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "config.json: NV-Embed needs a \"text_config\" (the Mistral backbone)");
        text_ = parse_decoder_config(*text, "config.json text_config");
        text_.causal = false;  // NV-Embed removes the causal mask (family default, whatever text_config says)
        apply_long_context_options(text_, opts);
        latent_ = parse_latent_config(config);
        const int64_t d = text_.hidden_size;
        if (latent_.latent_dim != d || latent_.hidden_dim != d)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED,
                       "config.json: latent_attention_config latent_dim %d / hidden_dim %d must equal the backbone's "
                       "hidden_size %lld",
                       latent_.latent_dim, latent_.hidden_dim, (long long)d);
        if (int64_t(latent_.n_heads) * latent_.head_dim > (int64_t(1) << 20))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "config.json: latent attention width %d x %d is implausible",
                       latent_.n_heads, latent_.head_dim);

        // Everything from files is checked before the backend allocates anything.
        const WeightSource& src = *weights_;
        const std::string p = std::string(kLatentPrefix) + "cross_attend_blocks.";
        const int64_t r = latent_.n_latents, inner = int64_t(latent_.n_heads) * latent_.head_dim;
        const WeightRef& latents = src.get(std::string(kLatentPrefix) + "latents", {r, d});
        const WeightRef& wq = src.get(p + "0.fn.to_q.weight", {inner, d});
        const WeightRef& wkv = src.get(p + "0.fn.to_kv.weight", {2 * inner, d});
        const WeightRef& wout = src.get(p + "0.fn.to_out.weight", {d, inner});
        const WeightRef* w0ref = src.find(p + "1.fn.net.0.weight");
        if (w0ref == nullptr || w0ref->shape.size() != 2 || w0ref->shape[1] != d || w0ref->shape[0] % 2 != 0 ||
            w0ref->shape[0] < 2)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "tensor \"%s1.fn.net.0.weight\" must be [2 * ffn, %lld] in %s", p.c_str(),
                       (long long)d, src.describe().c_str());
        ffn_ = w0ref->shape[0] / 2;
        src.get(p + "1.fn.net.2.weight", {d, ffn_});

        backend_ = std::move(backend);
        decoder_ = std::make_unique<Decoder>(text_, *backend_, src, "embedding_model.");
        WeightLoader load(*backend_, src, p);
        norm_w_ = load.vector_f32("0.norm.weight", d);
        norm_b_ = load.vector_f32("0.norm.bias", d);
        ffn_norm_w_ = load.vector_f32("1.norm.weight", d);
        ffn_norm_b_ = load.vector_f32("1.norm.bias", d);
        b0_ = load.vector_f32("1.fn.net.0.bias", 2 * ffn_);
        b2_ = load.vector_f32("1.fn.net.2.bias", d);
        block_.w0 = load.matrix("1.fn.net.0.weight", 2 * ffn_, d, w0_storage_);
        block_.w2 = load.matrix("1.fn.net.2.weight", d, ffn_, w2_storage_);
        int64_t latent_bytes = load.bytes();

        // The fold (K and V of the latents, computed once).
        const std::vector<float> lat = host_f32(latents);
        const std::vector<float> ctx_w = host_f32(src.get(p + "0.norm_context.weight", {d}));
        const std::vector<float> ctx_b = host_f32(src.get(p + "0.norm_context.bias", {d}));
        LatentRaw raw;
        raw.n_latents = latent_.n_latents;
        raw.dim = static_cast<int32_t>(d);
        raw.n_heads = latent_.n_heads;
        raw.head_dim = latent_.head_dim;
        raw.eps = kLayerNormEps;
        raw.latents = lat.data();
        raw.ctx_norm_weight = ctx_w.data();
        raw.ctx_norm_bias = ctx_b.data();
        raw.wq = wq.data;
        raw.wq_dtype = wq.dtype;
        raw.wkv = wkv.data;
        raw.wkv_dtype = wkv.dtype;
        raw.wout = wout.data;
        raw.wout_dtype = wout.dtype;
        fold_ = fold_latent_attention(*backend_, raw);
        latent_bytes += 2 * 4 * r * latent_.n_heads * d;

        block_.dim = static_cast<int32_t>(d);
        block_.n_heads = latent_.n_heads;
        block_.n_latents = latent_.n_latents;
        block_.ffn_dim = static_cast<int32_t>(ffn_);
        block_.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(latent_.head_dim)));
        block_.eps = kLayerNormEps;
        block_.score_w = Weight{fold_.score_w.data(), EMBER_DTYPE_F32, latent_.n_heads * r, d};
        block_.value_w = Weight{fold_.value_w.data(), EMBER_DTYPE_F32, d, latent_.n_heads * r};
        block_.b0 = b0_.as<float>();
        block_.b2 = b2_.as<float>();
        block_.norm_weight = norm_w_.as<float>();
        block_.norm_bias = norm_b_.as<float>();
        block_.ffn_norm_weight = ffn_norm_w_.as<float>();
        block_.ffn_norm_bias = ffn_norm_b_.as<float>();

        info_ = decoder_model_info(text_, *decoder_, *backend_, family.pooling, family.name);
        info_.weight_bytes += latent_bytes;
    }

    void forward_hidden(const HostBatch& batch, float* out) override {
        BackendBatch bb = to_backend(*backend_, batch);
        Buffer hidden = run_decoder(*backend_, *decoder_, bb);
        download_f32(*backend_, hidden.data(), backend_->activation_dtype(), batch.total_tokens * info_.hidden_size, out);
    }

    void forward_pooled(const HostBatch& batch, float* out) override { run_latent(batch, out, nullptr); }

    std::pair<int64_t, int64_t> intermediate_shape(const HostBatch& batch, int32_t which) const override {
        if (which == EMBER_INTERMEDIATE_LATENT_OUTPUT) return {batch.total_tokens, info_.hidden_size};
        return Model::intermediate_shape(batch, which);
    }

    void forward_intermediate(const HostBatch& batch, int32_t which, float* out) override {
        intermediate_shape(batch, which);
        std::vector<float> pooled(static_cast<size_t>(batch.n_seqs) * info_.hidden_size);
        run_latent(batch, pooled.data(), out);
    }

    Json describe() const override {
        Json d = Json::object();
        d["backbone"] = describe_decoder(text_);
        Json l = Json::object();
        l["latents"] = latent_.n_latents;
        l["heads"] = latent_.n_heads;
        l["head_dim"] = latent_.head_dim;
        l["ffn_dim"] = ffn_;
        l["output_normalize"] = latent_.output_normalize;
        l["folded"] = "score and value matrices of " + std::to_string(int64_t(latent_.n_heads) * latent_.n_latents) +
                      " x " + std::to_string(text_.hidden_size) + " computed at load";
        d["latent_attention"] = l;
        return d;
    }
    Json runtime() const override { return decoder_runtime(*decoder_, *backend_); }

    int64_t activation_bytes_per_token() const override {
        const int64_t latent = 4 * (2 * int64_t(text_.hidden_size) + int64_t(latent_.n_heads) * latent_.n_latents + 2 * ffn_);
        return std::max(decoder_activation_bytes(text_), latent + 4 * int64_t(text_.hidden_size));
    }

  private:
    static constexpr float kLayerNormEps = 1e-5f;  // torch.nn.LayerNorm's default, as NV-Embed's code uses

    // Pooled vectors to `pooled` (host), and every token's row after the latent block to
    // `tokens` (host) when given.
    void run_latent(const HostBatch& batch, float* pooled, float* tokens) {
        BackendBatch bb = to_backend(*backend_, batch);
        Buffer hidden = run_decoder(*backend_, *decoder_, bb);
        const int64_t H = info_.hidden_size, T = batch.total_tokens;
        Buffer out = backend_->alloc(static_cast<size_t>(batch.n_seqs * H) * sizeof(float));
        Buffer tok;
        if (tokens != nullptr) tok = backend_->alloc(static_cast<size_t>(T * H) * sizeof(float));
        const Tensor x{hidden.data(), backend_->activation_dtype(), T, H, H};
        const Tensor o{out.data(), EMBER_DTYPE_F32, batch.n_seqs, H, H};
        const Tensor t{tok.data(), EMBER_DTYPE_F32, T, H, H};
        backend_->latent_pool(o, tokens ? &t : nullptr, x, bb.seqs, bb.pool_start, block_);
        download_f32(*backend_, out.data(), EMBER_DTYPE_F32, batch.n_seqs * H, pooled);
        if (tokens != nullptr) download_f32(*backend_, tok.data(), EMBER_DTYPE_F32, T * H, tokens);
    }

    std::unique_ptr<WeightSource> weights_;
    DecoderConfig text_;
    LatentConfig latent_;
    int64_t ffn_ = 0;
    std::unique_ptr<Decoder> decoder_;
    Buffer norm_w_, norm_b_, ffn_norm_w_, ffn_norm_b_, b0_, b2_, w0_storage_, w2_storage_;
    LatentFold fold_;
    LatentBlock block_;
};

}  // namespace

LatentFold fold_latent_attention(Backend& be, const LatentRaw& w) {
    EMBER_CHECK_ARG(w.n_latents > 0 && w.dim > 0 && w.n_heads > 0 && w.head_dim > 0, "latent fold: bad sizes");
    const int64_t r = w.n_latents, d = w.dim, dh = w.head_dim, heads = w.n_heads, hr = heads * r, inner = heads * dh;
    const int32_t f32 = EMBER_DTYPE_F32;
    LatentFold out;
    out.score_w = be.alloc(static_cast<size_t>(hr * d) * sizeof(float));
    out.value_w = be.alloc(static_cast<size_t>(d * hr) * sizeof(float));

    // C = LayerNorm_ctx(latents).
    Buffer lat = upload_f32(be, w.latents, r * d), nw = upload_f32(be, w.ctx_norm_weight, d),
           nb = upload_f32(be, w.ctx_norm_bias, d), ctx = be.alloc(static_cast<size_t>(r * d) * sizeof(float));
    const Tensor c{ctx.data(), f32, r, d, d};
    be.layernorm(Tensor{lat.data(), f32, r, d, d}, nw.as<float>(), nb.as<float>(), w.eps, c);

    Buffer wkv_storage;
    const Weight wkv = be.adopt_weight(w.wkv, w.wkv_dtype, 2 * inner, d, wkv_storage);
    const int64_t kv_row = dtype_row_bytes(wkv.dtype, d);  // as adopted (a backend may convert)
    if (kv_row <= 0) EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "latent fold: to_kv weights of an unsupported type");
    Buffer kh = be.alloc(static_cast<size_t>(r * dh) * sizeof(float)), vh = be.alloc(static_cast<size_t>(r * dh) * sizeof(float)),
           wqt = be.alloc(static_cast<size_t>(d * dh) * sizeof(float)), woh = be.alloc(static_cast<size_t>(d * dh) * sizeof(float));
    std::vector<float> host(static_cast<size_t>(d * dh));
    const Tensor k_h{kh.data(), f32, r, dh, dh}, v_h{vh.data(), f32, r, dh, dh};
    for (int64_t h = 0; h < heads; ++h) {
        // K_h, V_h: rows of to_kv (K first, then V), head-major.
        const char* kv = static_cast<const char*>(wkv.data);
        be.matmul(k_h, c, Weight{kv + h * dh * kv_row, wkv.dtype, dh, d}, nullptr, false);
        be.matmul(v_h, c, Weight{kv + (inner + h * dh) * kv_row, wkv.dtype, dh, d}, nullptr, false);
        // score_w rows [h r, (h+1) r) = K_h Wq_h, i.e. y = K_h (Wq_h^T)^T: Wq_h transposed on the
        // host (64 x 64 tiles) to a dim x head_dim f32 weight.
        constexpr int64_t B = 64;
        for (int64_t c0 = 0; c0 < dh; c0 += B)
            for (int64_t i0 = 0; i0 < d; i0 += B)
                for (int64_t cc = c0; cc < std::min(dh, c0 + B); ++cc)
                    for (int64_t i = i0; i < std::min(d, i0 + B); ++i)
                        host[i * dh + cc] = host_value(w.wq, w.wq_dtype, (h * dh + cc) * d + i, "to_q");
        be.upload(wqt.data(), host.data(), host.size() * sizeof(float));
        be.synchronize();
        be.matmul(Tensor{out.score_w.as<float>() + h * r * d, f32, r, d, d}, k_h, Weight{wqt.data(), f32, d, dh}, nullptr,
                  false);
        // value_w columns [h r, (h+1) r) = Wout_h V_h^T: y = Wout_h (as activations, its columns
        // [h dh, (h+1) dh) in f32) times V_h as the weight.
        for (int64_t i = 0; i < d; ++i)
            for (int64_t cc = 0; cc < dh; ++cc) host[i * dh + cc] = host_value(w.wout, w.wout_dtype, i * inner + h * dh + cc, "to_out");
        be.upload(woh.data(), host.data(), host.size() * sizeof(float));
        be.synchronize();
        be.matmul(Tensor{out.value_w.as<float>() + h * r, f32, d, r, hr}, Tensor{woh.data(), f32, d, dh, dh},
                  Weight{vh.data(), f32, r, dh}, nullptr, false);
        be.synchronize();  // the next head overwrites kh, vh, wqt, woh
    }
    return out;
}

std::unique_ptr<Model> make_nvembed_model(const Json& config, const Family& family, const ember_load_options& opts,
                                          std::unique_ptr<Backend> backend, std::unique_ptr<WeightSource> weights) {
    return std::make_unique<NvEmbedModel>(config, family, opts, std::move(backend), std::move(weights));
}

}  // namespace ember
