#include "model/causal2vec_model.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "model/bert_encoder.h"
#include "model/decoder.h"
#include "model/decoder_model.h"

namespace ember {

namespace {

const Json& required_object(const Json& config, const char* key) {
    const Json* j = json_find(config, key);
    if (j == nullptr || !j->is_object())
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "config.json: Causal2Vec needs a \"%s\" object", key);
    return *j;
}

// A setting the Causal2Vec paper leaves open: config.json must state it.
std::string required_choice(const Json& config, const char* key) {
    if (json_find(config, key) == nullptr)
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED,
                   "config.json: Causal2Vec needs \"%s\" (the paper does not fix it, and Ember does not guess)", key);
    return json_string(config, key, "config.json");
}

class Causal2VecModel final : public Model {
  public:
    Causal2VecModel(const Json& config, const Family& family, const ember_load_options& opts,
                    std::unique_ptr<Backend> backend, std::unique_ptr<WeightSource> weights)
        : weights_(std::move(weights)) {
        enc_cfg_ = parse_bert_config(required_object(config, "encoder_config"), "config.json encoder_config");
        llm_cfg_ = parse_decoder_config(required_object(config, "llm_config"), "config.json llm_config");
        llm_cfg_.causal = true;  // the LLM keeps its causal mask (family default)
        apply_long_context_options(llm_cfg_, opts);

        const std::string pooling = required_choice(config, "encoder_pooling");
        if (pooling == "mean") {
            enc_pooling_ = EMBER_POOLING_MEAN;
        } else if (pooling == "cls") {
            enc_pooling_ = EMBER_POOLING_CLS;
        } else if (pooling == "last") {
            enc_pooling_ = EMBER_POOLING_LAST;
        } else {
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "config.json: encoder_pooling \"%s\" is not supported (mean, cls, last)",
                       pooling.c_str());
        }
        projector_ = required_choice(config, "projector");
        if (projector_ != "linear-gelu-linear")
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "config.json: projector \"%s\" is not supported (linear-gelu-linear)",
                       projector_.c_str());
        if (json_find(config, "contextual_position") == nullptr)
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED,
                       "config.json: Causal2Vec needs \"contextual_position\" (the paper does not fix it, and Ember does "
                       "not guess)");
        position_ = static_cast<int32_t>(json_int(config, "contextual_position", "config.json", 0, 1 << 20));
        const std::string output = json_string_or(config, "output", "concat(contextual,last)", "config.json");
        if (output != "concat(contextual,last)")
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "config.json: output \"%s\" is not supported (concat(contextual,last))",
                       output.c_str());

        // The projector's hidden width is not in config.json: it is the first linear's row count.
        const WeightSource& src = *weights_;
        const int64_t He = enc_cfg_.hidden_size, H = llm_cfg_.hidden_size;
        const WeightRef* p0 = src.find("projector.mlp.0.weight");
        if (p0 == nullptr || p0->shape.size() != 2 || p0->shape[1] != He || p0->shape[0] < 1 || p0->shape[0] > (1 << 20))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "tensor \"projector.mlp.0.weight\" must be [width, %lld] in %s",
                       (long long)He, src.describe().c_str());
        proj_width_ = p0->shape[0];
        src.get("projector.mlp.2.weight", {H, proj_width_});

        backend_ = std::move(backend);
        encoder_ = std::make_unique<BertEncoder>(enc_cfg_, *backend_, src, "encoder.");
        decoder_ = std::make_unique<Decoder>(llm_cfg_, *backend_, src, "llm.");
        WeightLoader projector(*backend_, src, "projector.mlp.");
        p0_ = projector.matrix("0.weight", proj_width_, He, p0_storage_);
        p2_ = projector.matrix("2.weight", H, proj_width_, p2_storage_);
        p0_b_ = projector.vector_f32("0.bias", proj_width_);
        p2_b_ = projector.vector_f32("2.bias", H);

        info_ = decoder_model_info(llm_cfg_, *decoder_, *backend_, family.pooling, family.name);
        info_.embedding_size = 2 * llm_cfg_.hidden_size;  // [contextual token | last token]
        info_.causal = 1;
        info_.weight_bytes += encoder_->weight_bytes() + projector.bytes();
    }

    // The decoder sees one more token per sequence (the contextual one).
    int64_t hidden_rows(const HostBatch& batch) const override { return batch.total_tokens + batch.n_seqs; }

    void check_inputs(const HostBatch& b) const override {
        EMBER_CHECK_ARG(b.encoder_ids != nullptr && b.encoder_cu_seqlens != nullptr,
                        "Causal2Vec needs the encoder's token ids too (encoder_token_ids, encoder_cu_seqlens)");
        const int32_t* cu = b.encoder_cu_seqlens;
        EMBER_CHECK_ARG(cu[0] == 0, "encoder_cu_seqlens[0] must be 0 (got %d)", cu[0]);
        for (int32_t s = 0; s < b.n_seqs; ++s) {
            const int64_t len = int64_t(cu[s + 1]) - cu[s];
            EMBER_CHECK_ARG(len > 0, "sequence %d has no encoder tokens: the encoder needs at least one", s);
            EMBER_CHECK_ARG(len <= enc_cfg_.max_positions,
                            "sequence %d has %lld encoder tokens, more than the encoder's %d positions", s, (long long)len,
                            enc_cfg_.max_positions);
            const int64_t dec_len = int64_t(b.cu_seqlens[s + 1]) - b.cu_seqlens[s];
            EMBER_CHECK_ARG(dec_len >= position_,
                            "sequence %d has %lld tokens; the contextual token goes in at position %d, so it needs at "
                            "least that many",
                            s, (long long)dec_len, position_);
            for (int64_t t = cu[s]; t < cu[s + 1]; ++t)
                EMBER_CHECK_ARG(b.encoder_ids[t] >= 0 && b.encoder_ids[t] < enc_cfg_.vocab_size,
                                "encoder token id %d in sequence %d is outside the encoder vocabulary [0, %d)",
                                b.encoder_ids[t], s, enc_cfg_.vocab_size);
        }
    }

    void forward_hidden(const HostBatch& batch, float* out) override {
        Run r = run(batch, Stage::Decoder);
        download_f32(*backend_, r.hidden.data(), backend_->activation_dtype(), hidden_rows(batch) * info_.hidden_size, out);
    }

    void forward_pooled(const HostBatch& batch, float* out) override {
        Run r = run(batch, Stage::Decoder);
        const int64_t H = info_.hidden_size, n = batch.n_seqs;
        Buffer pooled = backend_->alloc(static_cast<size_t>(n * 2 * H) * sizeof(float));
        const Tensor p{pooled.data(), EMBER_DTYPE_F32, n, 2 * H, 2 * H};
        const Tensor h{r.hidden.data(), backend_->activation_dtype(), hidden_rows(batch), H, H};
        backend_->copy_rows(p.cols_view(0, H), nullptr, h, r.contextual_rows, n);
        backend_->copy_rows(p.cols_view(H, H), nullptr, h, r.last_rows, n);
        download_f32(*backend_, pooled.data(), EMBER_DTYPE_F32, n * 2 * H, out);
    }

    std::pair<int64_t, int64_t> intermediate_shape(const HostBatch& batch, int32_t which) const override {
        if (which == EMBER_INTERMEDIATE_CONTEXTUAL_TOKEN) return {batch.n_seqs, info_.hidden_size};
        if (which == EMBER_INTERMEDIATE_ENCODER_HIDDEN)
            return {batch.encoder_cu_seqlens[batch.n_seqs], enc_cfg_.hidden_size};
        return Model::intermediate_shape(batch, which);
    }

    void forward_intermediate(const HostBatch& batch, int32_t which, float* out) override {
        const auto [rows, cols] = intermediate_shape(batch, which);
        Run r = run(batch, which == EMBER_INTERMEDIATE_ENCODER_HIDDEN ? Stage::Encoder : Stage::Contextual);
        download_f32(*backend_, (which == EMBER_INTERMEDIATE_ENCODER_HIDDEN ? r.encoder : r.contextual).data(), backend_->activation_dtype(),
                     rows * cols, out);
    }

    Json describe() const override {
        Json d = Json::object();
        d["backbone"] = describe_decoder(llm_cfg_);
        d["encoder"] = describe_bert(enc_cfg_);
        d["encoder_pooling"] = enc_pooling_ == EMBER_POOLING_MEAN ? "mean" : enc_pooling_ == EMBER_POOLING_CLS ? "cls" : "last";
        Json p = Json::object();
        p["type"] = projector_;
        p["width"] = proj_width_;
        d["projector"] = p;
        d["contextual_position"] = position_;
        return d;
    }
    Json runtime() const override { return decoder_runtime(*decoder_, *backend_); }

    int64_t activation_bytes_per_token() const override {
        return std::max(decoder_activation_bytes(llm_cfg_), encoder_->activation_bytes_per_token());
    }

  private:
    enum class Stage { Encoder, Contextual, Decoder };

    // What a forward pass leaves: the encoder's states, the contextual tokens, the decoder's
    // states, and the expanded decoder batch (host arrays, and the row indices in backend memory).
    struct Run {
        Buffer encoder, contextual, hidden;
        std::vector<int32_t> ids, cu, ctx_host, last_host;
        Buffer ids_buf, cu_buf, ctx_buf, last_buf;
        const int32_t* contextual_rows = nullptr;  // row of each sequence's contextual token
        const int32_t* last_rows = nullptr;        // row of each sequence's last token
    };

    Run run(const HostBatch& b, Stage stop) {
        Backend& be = *backend_;
        Run r;
        const int32_t dt = be.activation_dtype();
        const size_t es = static_cast<size_t>(dtype_info(dt)->block_bytes);
        const int32_t n = b.n_seqs;
        const int64_t He = enc_cfg_.hidden_size, H = llm_cfg_.hidden_size;

        // 1. Encoder over its own ragged batch.
        HostBatch eb;
        eb.ids = b.encoder_ids;
        eb.cu_seqlens = b.encoder_cu_seqlens;
        eb.n_seqs = n;
        eb.total_tokens = b.encoder_cu_seqlens[n];
        for (int32_t s = 0; s < n; ++s) eb.max_len = std::max<int64_t>(eb.max_len, eb.cu_seqlens[s + 1] - eb.cu_seqlens[s]);
        BackendBatch ebb = to_backend(be, eb);
        r.encoder = be.alloc(static_cast<size_t>(eb.total_tokens * He) * es);
        const Tensor enc{r.encoder.data(), dt, eb.total_tokens, He, He};
        encoder_->forward(ebb.ids, ebb.seqs, enc);
        if (stop == Stage::Encoder) return r;

        // 2. Pool, project: the contextual token of each sequence.
        Buffer pooled = be.alloc(static_cast<size_t>(n * He) * sizeof(float)),
               mid = be.alloc(static_cast<size_t>(n * proj_width_) * es);
        r.contextual = be.alloc(static_cast<size_t>(n * H) * es);
        const Tensor pe{pooled.data(), EMBER_DTYPE_F32, n, He, He}, m{mid.data(), dt, n, proj_width_, proj_width_},
            ctx{r.contextual.data(), dt, n, H, H};
        be.pool(pe, enc, ebb.seqs, nullptr, enc_pooling_);
        be.matmul(m, pe, p0_, p0_b_.as<float>(), false);
        be.gelu(m, m, nullptr);
        be.matmul(ctx, m, p2_, p2_b_.as<float>(), false);
        if (stop == Stage::Contextual) return r;

        // 3. The decoder batch with one more row per sequence: ids with a placeholder (id 0, its
        // embedding overwritten) at contextual_position, then the contextual rows scattered in.
        const int64_t T2 = b.total_tokens + n;
        r.ids.resize(static_cast<size_t>(T2));
        r.cu.assign(static_cast<size_t>(n + 1), 0);
        r.ctx_host.resize(n);
        r.last_host.resize(n);
        int64_t max_len = 0;
        for (int32_t s = 0; s < n; ++s) {
            const int32_t start = b.cu_seqlens[s], len = b.cu_seqlens[s + 1] - start, out0 = start + s;
            r.cu[s] = out0;
            std::copy(b.ids + start, b.ids + start + position_, r.ids.begin() + out0);
            r.ids[out0 + position_] = 0;
            std::copy(b.ids + start + position_, b.ids + start + len, r.ids.begin() + out0 + position_ + 1);
            r.ctx_host[s] = out0 + position_;
            r.last_host[s] = out0 + len;
            max_len = std::max<int64_t>(max_len, len + 1);
        }
        r.cu[n] = static_cast<int32_t>(T2);
        BackendBatch dbb;
        dbb.ids = to_backend(be, r.ids.data(), T2, r.ids_buf);
        dbb.seqs.cu_seqlens = to_backend(be, r.cu.data(), n + 1, r.cu_buf);
        dbb.seqs.cu_seqlens_host = r.cu.data();
        dbb.seqs.n_seqs = n;
        dbb.seqs.total_tokens = T2;
        dbb.seqs.max_len = max_len;
        r.contextual_rows = to_backend(be, r.ctx_host.data(), n, r.ctx_buf);
        r.last_rows = to_backend(be, r.last_host.data(), n, r.last_buf);

        r.hidden = be.alloc(static_cast<size_t>(T2 * H) * es);
        const Tensor x{r.hidden.data(), dt, T2, H, H};
        decoder_->embed(x, dbb.ids);
        be.copy_rows(x, r.contextual_rows, ctx, nullptr, n);
        decoder_->forward(x, dbb.seqs, x);
        return r;
    }

    std::unique_ptr<WeightSource> weights_;
    BertConfig enc_cfg_;
    DecoderConfig llm_cfg_;
    int32_t enc_pooling_ = EMBER_POOLING_MEAN;
    std::string projector_;
    int32_t position_ = 1;
    int64_t proj_width_ = 0;
    std::unique_ptr<BertEncoder> encoder_;
    std::unique_ptr<Decoder> decoder_;
    Weight p0_, p2_;
    Buffer p0_storage_, p2_storage_, p0_b_, p2_b_;
};

}  // namespace

std::unique_ptr<Model> make_causal2vec_model(const Json& config, const Family& family, const ember_load_options& opts,
                                             std::unique_ptr<Backend> backend, std::unique_ptr<WeightSource> weights) {
    return std::make_unique<Causal2VecModel>(config, family, opts, std::move(backend), std::move(weights));
}

}  // namespace ember
