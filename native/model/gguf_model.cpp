#include "model/gguf_model.h"

#include <cstring>
#include <map>

#include "core/error.h"
#include "ember/ember.h"
#include "model/config.h"

namespace ember {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Hugging Face module path -> GGUF name, for the parts after "layers.N.".
const std::map<std::string, std::string>& layer_names() {
    static const std::map<std::string, std::string> m = {
        {"input_layernorm.weight", "attn_norm.weight"},
        {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"self_attn.q_proj.weight", "attn_q.weight"},
        {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"},
        {"self_attn.o_proj.weight", "attn_output.weight"},
        {"self_attn.q_norm.weight", "attn_q_norm.weight"},
        {"self_attn.k_norm.weight", "attn_k_norm.weight"},
        {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"},
        {"mlp.down_proj.weight", "ffn_down.weight"},
    };
    return m;
}

class GgufSource final : public WeightSource {
  public:
    explicit GgufSource(std::unique_ptr<GgufFile> file) : file_(std::move(file)) {
        arch_ = file_->get_string_or("general.architecture", "");
        for (const GgufTensor& t : file_->tensors()) {
            WeightRef r;
            r.name = t.name;
            r.data = t.data;
            r.dtype = t.dtype;
            r.dtype_name = t.type_name;
            r.shape = t.shape();
            refs_.emplace(t.name, std::move(r));
        }
    }
    std::string describe() const override { return file_->path(); }
    const WeightRef* find(const std::string& name) const override {
        const std::string g = gguf_tensor_name(name);
        if (g.empty()) return nullptr;
        auto it = refs_.find(g);
        return it == refs_.end() ? nullptr : &it->second;
    }
    bool rope_interleaved() const override { return arch_ == "llama"; }

  private:
    std::unique_ptr<GgufFile> file_;
    std::string arch_;
    std::map<std::string, WeightRef> refs_;
};

}  // namespace

std::string gguf_tensor_name(const std::string& hf) {
    std::string n = starts_with(hf, "model.") ? hf.substr(6) : hf;
    if (n == "embed_tokens.weight") return "token_embd.weight";
    if (n == "norm.weight") return "output_norm.weight";
    if (n == "lm_head.weight") return "output.weight";
    if (!starts_with(n, "layers.")) return "";
    const size_t dot = n.find('.', 7);
    if (dot == std::string::npos || dot == 7) return "";
    const std::string idx = n.substr(7, dot - 7);
    for (char ch : idx)
        if (ch < '0' || ch > '9') return "";
    auto it = layer_names().find(n.substr(dot + 1));
    if (it == layer_names().end()) return "";
    return "blk." + idx + "." + it->second;
}

DecoderModelSpec gguf_decoder_spec(const GgufFile& f) {
    const std::string arch = f.get_string("general.architecture");
    if (arch != "qwen3" && arch != "llama")
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: architecture \"%s\" is not supported (qwen3 and llama are)",
                   f.path().c_str(), arch.c_str());
    const std::string a = arch + ".";
    DecoderModelSpec spec;
    DecoderConfig& c = spec.decoder;
    c.hidden_size = static_cast<int32_t>(f.get_int(a + "embedding_length", 1, 1 << 16));
    c.num_layers = static_cast<int32_t>(f.get_int(a + "block_count", 1, 1024));
    c.num_heads = static_cast<int32_t>(f.get_int(a + "attention.head_count", 1, 1024));
    c.num_kv_heads = static_cast<int32_t>(f.get_int_or(a + "attention.head_count_kv", c.num_heads, 1, 1024));
    if (c.hidden_size % c.num_heads != 0 && f.find(a + "attention.key_length") == nullptr)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: embedding_length %d is not divisible by %d heads", f.path().c_str(),
                   c.hidden_size, c.num_heads);
    c.head_dim = static_cast<int32_t>(f.get_int_or(a + "attention.key_length", c.hidden_size / c.num_heads, 2, 1024));
    const int64_t vlen = f.get_int_or(a + "attention.value_length", c.head_dim, 1, 1024);
    if (vlen != c.head_dim)
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: value_length %lld differs from key_length %d", f.path().c_str(),
                   (long long)vlen, c.head_dim);
    const int64_t rot = f.get_int_or(a + "rope.dimension_count", c.head_dim, 1, 1024);
    if (rot != c.head_dim)
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: partial RoPE (%lld of %d dims) is not supported", f.path().c_str(),
                   (long long)rot, c.head_dim);
    c.intermediate_size = static_cast<int32_t>(f.get_int(a + "feed_forward_length", 1, 1 << 20));
    c.max_positions = static_cast<int32_t>(f.get_int_or(a + "context_length", 32768, 1, 1 << 24));
    c.rms_eps = f.get_float_or(a + "attention.layer_norm_rms_epsilon", 1e-6);
    c.rope.theta = f.get_float_or(a + "rope.freq_base", 10000.0);
    const std::string scaling = f.get_string_or(a + "rope.scaling.type", "none");
    if (scaling == "linear" || scaling == "yarn") {
        c.rope.type = scaling;
        c.rope.factor = f.get_float_or(a + "rope.scaling.factor", 1.0);
        c.rope.original_max_positions = f.get_int_or(a + "rope.scaling.original_context_length", 0, 0, 1 << 24);
    } else if (scaling != "none") {
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: rope scaling \"%s\" is not supported", f.path().c_str(), scaling.c_str());
    }
    // llama.cpp's converter stores Llama 3 scaling as per-pair frequency divisors in a tensor.
    if (const GgufTensor* t = f.tensor("rope_freqs.weight")) {
        const int64_t pairs = c.head_dim / 2;
        if (t->dtype != EMBER_DTYPE_F32 || t->n_dims != 1 || t->dims[0] != pairs ||
            t->bytes != static_cast<uint64_t>(pairs) * 4 || t->data == nullptr)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: rope_freqs.weight must be %lld f32 values (one per frequency pair), "
                       "found %s with %lld values", f.path().c_str(), (long long)pairs, t->type_name.c_str(),
                       (long long)(t->n_dims == 1 ? t->dims[0] : -1));
        c.rope.freq_factors.resize(static_cast<size_t>(pairs));
        std::memcpy(c.rope.freq_factors.data(), t->data, static_cast<size_t>(pairs) * 4);  // values checked with the RoPE
    }
    const GgufTensor* embd = f.tensor("token_embd.weight");
    if (embd == nullptr) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: missing tensor token_embd.weight", f.path().c_str());
    if (embd->n_dims != 2 || embd->dims[1] < 1 || embd->dims[1] > (1 << 24))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: token_embd.weight must be a matrix of at most 2^24 rows", f.path().c_str());
    c.vocab_size = static_cast<int32_t>(embd->dims[1]);
    c.tie_embeddings = f.tensor("output.weight") == nullptr;
    c.causal = f.get_bool_or(a + "attention.causal", true);
    c.qk_norm = arch == "qwen3";
    c.model_type = arch;
    // The same checks as config.json's (head_dim within the kernels, eps a usable float, RoPE
    // computable), so a file that loads also embeds.
    validate_decoder_config(c, f.path());

    const int64_t pooling = f.get_int_or(a + "pooling_type", -1, -1, 1 << 30);
    switch (pooling) {
        case -1:  // absent: what the safetensors path defaults to
        case 0:   // "none" (per-token output): Ember still needs one vector per sequence
            spec.pooling = c.causal ? EMBER_POOLING_LAST : EMBER_POOLING_MEAN;
            break;
        case 1: spec.pooling = EMBER_POOLING_MEAN; break;
        case 2: spec.pooling = EMBER_POOLING_CLS; break;
        case 3: spec.pooling = EMBER_POOLING_LAST; break;
        default:
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: pooling_type %lld is not supported (mean, cls and last are)",
                       f.path().c_str(), (long long)pooling);
    }
    if (arch == "qwen3") spec.family = "qwen3-embedding";
    else spec.family = c.causal ? "decoder" : "bidirectional-decoder";
    return spec;
}

std::unique_ptr<WeightSource> make_gguf_source(std::unique_ptr<GgufFile> file) {
    return std::make_unique<GgufSource>(std::move(file));
}

}  // namespace ember
