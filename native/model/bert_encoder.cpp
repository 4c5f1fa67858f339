#include "model/bert_encoder.h"

#include <cmath>

#include "core/dtype.h"
#include "core/error.h"

namespace ember {

BertConfig parse_bert_config(const Json& j, const std::string& what) {
    if (!j.is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s is not a JSON object", what.c_str());
    BertConfig c;
    c.hidden_size = static_cast<int32_t>(json_int(j, "hidden_size", what, 1, 1 << 16));
    c.num_layers = static_cast<int32_t>(json_int(j, "num_hidden_layers", what, 1, 1024));
    c.num_heads = static_cast<int32_t>(json_int(j, "num_attention_heads", what, 1, 1024));
    if (c.hidden_size % c.num_heads != 0)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: hidden_size %d is not divisible by %d heads", what.c_str(), c.hidden_size,
                   c.num_heads);
    c.head_dim = c.hidden_size / c.num_heads;
    c.intermediate_size = static_cast<int32_t>(json_int(j, "intermediate_size", what, 1, 1 << 20));
    c.vocab_size = static_cast<int32_t>(json_int(j, "vocab_size", what, 1, 1 << 24));
    c.max_positions = static_cast<int32_t>(json_int_or(j, "max_position_embeddings", 512, what, 1, 1 << 20));
    c.type_vocab_size = static_cast<int32_t>(json_int_or(j, "type_vocab_size", 2, what, 1, 1 << 16));
    c.eps = json_number_or(j, "layer_norm_eps", 1e-12, what);
    if (!(c.eps > 0.0) || !std::isfinite(c.eps)) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: layer_norm_eps must be > 0", what.c_str());
    const std::string act = json_string_or(j, "hidden_act", "gelu", what);
    if (act != "gelu")
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (the exact \"gelu\" only)",
                   what.c_str(), act.c_str());
    const std::string pos = json_string_or(j, "position_embedding_type", "absolute", what);
    if (pos != "absolute")
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: position_embedding_type \"%s\" is not supported (absolute only)",
                   what.c_str(), pos.c_str());
    if (json_bool_or(j, "is_decoder", false, what))
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: a BERT decoder (is_decoder) is not supported", what.c_str());
    return c;
}

Json describe_bert(const BertConfig& c) {
    Json d = Json::object();
    d["model_type"] = "bert";
    d["hidden_size"] = c.hidden_size;
    d["layers"] = c.num_layers;
    d["heads"] = c.num_heads;
    d["head_dim"] = c.head_dim;
    d["intermediate_size"] = c.intermediate_size;
    d["vocab_size"] = c.vocab_size;
    d["max_positions"] = c.max_positions;
    d["attention"] = "bidirectional";
    d["layer_norm_eps"] = c.eps;
    return d;
}

BertEncoder::BertEncoder(const BertConfig& c, Backend& backend, const WeightSource& src, const std::string& prefix)
    : config_(c), backend_(backend) {
    const int64_t H = c.hidden_size, F = c.intermediate_size;
    // BertModel checkpoints and BertFor* ones (which nest it under "bert.") both load.
    WeightLoader load(backend, src, prefix, "bert.");
    tables_.word = load.matrix("embeddings.word_embeddings.weight", c.vocab_size, H, table_storage_[0]);
    tables_.position = load.matrix("embeddings.position_embeddings.weight", c.max_positions, H, table_storage_[1]);
    tables_.token_type = load.matrix("embeddings.token_type_embeddings.weight", c.type_vocab_size, H, table_storage_[2]);
    emb_ln_w_ = load.vector_f32("embeddings.LayerNorm.weight", H);
    emb_ln_b_ = load.vector_f32("embeddings.LayerNorm.bias", H);
    layers_.resize(c.num_layers);
    for (int32_t i = 0; i < c.num_layers; ++i) {
        Layer& L = layers_[i];
        L.storage.resize(6);
        const std::string p = "encoder.layer." + std::to_string(i) + ".";
        L.q = load.matrix(p + "attention.self.query.weight", H, H, L.storage[0]);
        L.k = load.matrix(p + "attention.self.key.weight", H, H, L.storage[1]);
        L.v = load.matrix(p + "attention.self.value.weight", H, H, L.storage[2]);
        L.o = load.matrix(p + "attention.output.dense.weight", H, H, L.storage[3]);
        L.up = load.matrix(p + "intermediate.dense.weight", F, H, L.storage[4]);
        L.down = load.matrix(p + "output.dense.weight", H, F, L.storage[5]);
        L.q_b = load.vector_f32(p + "attention.self.query.bias", H);
        L.k_b = load.vector_f32(p + "attention.self.key.bias", H);
        L.v_b = load.vector_f32(p + "attention.self.value.bias", H);
        L.o_b = load.vector_f32(p + "attention.output.dense.bias", H);
        L.up_b = load.vector_f32(p + "intermediate.dense.bias", F);
        L.down_b = load.vector_f32(p + "output.dense.bias", H);
        L.ln1_w = load.vector_f32(p + "attention.output.LayerNorm.weight", H);
        L.ln1_b = load.vector_f32(p + "attention.output.LayerNorm.bias", H);
        L.ln2_w = load.vector_f32(p + "output.LayerNorm.weight", H);
        L.ln2_b = load.vector_f32(p + "output.LayerNorm.bias", H);
    }
    weight_bytes_ = load.bytes();
}

int64_t BertEncoder::activation_bytes_per_token() const {
    // q, k, v, attention output, the intermediate, plus the output rows: f32.
    return 4 * (5 * int64_t(config_.hidden_size) + config_.intermediate_size);
}

void BertEncoder::forward(const int32_t* ids, const Seqs& seqs, const Tensor& x) const {
    const BertConfig& c = config_;
    const int64_t T = seqs.total_tokens, H = c.hidden_size, F = c.intermediate_size;
    const int32_t dt = backend_.activation_dtype();
    const size_t es = static_cast<size_t>(dtype_info(dt)->block_bytes);
    const float eps = static_cast<float>(c.eps);
    Buffer q_buf = backend_.alloc(T * H * es), k_buf = backend_.alloc(T * H * es), v_buf = backend_.alloc(T * H * es),
           a_buf = backend_.alloc(T * H * es), up_buf = backend_.alloc(T * F * es);
    const Tensor q{q_buf.data(), dt, T, H, H}, k{k_buf.data(), dt, T, H, H}, v{v_buf.data(), dt, T, H, H},
        attn{a_buf.data(), dt, T, H, H}, up{up_buf.data(), dt, T, F, F};
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));

    backend_.embed_abs(x, tables_, ids, seqs);
    backend_.layernorm(x, emb_ln_w_.as<float>(), emb_ln_b_.as<float>(), eps, x);
    for (const Layer& L : layers_) {
        // Post-LN: x = LN(x + attention(x)); x = LN(x + mlp(x)). The residual adds are fused into
        // the output projections (accumulate), biases into the matmuls.
        backend_.matmul(q, x, L.q, L.q_b.as<float>(), false);
        backend_.matmul(k, x, L.k, L.k_b.as<float>(), false);
        backend_.matmul(v, x, L.v, L.v_b.as<float>(), false);
        backend_.attention(attn, q, k, v, seqs, c.num_heads, c.num_heads, c.head_dim, scale, /*causal=*/false, {});
        backend_.matmul(x, attn, L.o, L.o_b.as<float>(), /*accumulate=*/true);
        backend_.layernorm(x, L.ln1_w.as<float>(), L.ln1_b.as<float>(), eps, x);
        backend_.matmul(up, x, L.up, L.up_b.as<float>(), false);
        backend_.gelu(up, up, nullptr);
        backend_.matmul(x, up, L.down, L.down_b.as<float>(), /*accumulate=*/true);
        backend_.layernorm(x, L.ln2_w.as<float>(), L.ln2_b.as<float>(), eps, x);
    }
}

}  // namespace ember
