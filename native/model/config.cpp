#include "model/config.h"

#include <cmath>

#include "core/error.h"
#include "ember/ember.h"
#include "ember/kernels.h"
#include "io/mapped_file.h"
#include "model/rope_freqs.h"

namespace ember {

RopeConfig parse_rope_config(const Json& j, const std::string& what) {
    RopeConfig r;
    const Json* params = json_find(j, "rope_parameters");
    const Json* scaling = json_find(j, "rope_scaling");
    if (params != nullptr && !params->is_object())
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"rope_parameters\" must be an object", what.c_str());
    if (scaling != nullptr && !scaling->is_object())
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"rope_scaling\" must be an object", what.c_str());
    r.theta = json_number_or(j, "rope_theta", r.theta, what);
    // rope_parameters (newer transformers) wins over the flat keys when both are present.
    const Json* s = params != nullptr ? params : scaling;
    if (s != nullptr) {
        const std::string ctx = what + (params != nullptr ? " rope_parameters" : " rope_scaling");
        r.theta = json_number_or(*s, "rope_theta", r.theta, ctx);
        std::string type = json_string_or(*s, "rope_type", "", ctx);
        if (type.empty()) type = json_string_or(*s, "type", "default", ctx);
        r.type = type;
        r.factor = json_number_or(*s, "factor", 1.0, ctx);
        r.original_max_positions = json_int_or(*s, "original_max_position_embeddings", 0, ctx, 0, 1 << 30);
        r.low_freq_factor = json_number_or(*s, "low_freq_factor", r.low_freq_factor, ctx);
        r.high_freq_factor = json_number_or(*s, "high_freq_factor", r.high_freq_factor, ctx);
        r.beta_fast = json_number_or(*s, "beta_fast", r.beta_fast, ctx);
        r.beta_slow = json_number_or(*s, "beta_slow", r.beta_slow, ctx);
        r.attention_factor = json_number_or(*s, "attention_factor", 0.0, ctx);
        r.truncate = json_bool_or(*s, "truncate", true, ctx);
    }
    if (!(r.theta > 1.0) || !std::isfinite(r.theta))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: rope_theta must be > 1", what.c_str());
    if (!(r.factor > 0.0)) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: rope factor must be > 0", what.c_str());
    return r;
}

DecoderConfig parse_decoder_config(const Json& j, const std::string& what) {
    if (!j.is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s is not a JSON object", what.c_str());
    DecoderConfig c;
    c.model_type = json_string_or(j, "model_type", "", what);
    // Generous upper bounds: they exist to stop hostile values from overflowing size arithmetic.
    c.hidden_size = static_cast<int32_t>(json_int(j, "hidden_size", what, 1, 1 << 16));
    c.num_layers = static_cast<int32_t>(json_int(j, "num_hidden_layers", what, 1, 1024));
    c.num_heads = static_cast<int32_t>(json_int(j, "num_attention_heads", what, 1, 1024));
    c.num_kv_heads = static_cast<int32_t>(json_int_or(j, "num_key_value_heads", c.num_heads, what, 1, 1024));
    c.head_dim = static_cast<int32_t>(json_int_or(j, "head_dim", 0, what, 0, 1024));
    if (c.head_dim == 0) {
        if (c.hidden_size % c.num_heads != 0)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: hidden_size %d is not divisible by %d heads", what.c_str(),
                       c.hidden_size, c.num_heads);
        c.head_dim = c.hidden_size / c.num_heads;
    }
    c.intermediate_size = static_cast<int32_t>(json_int(j, "intermediate_size", what, 1, 1 << 20));
    c.vocab_size = static_cast<int32_t>(json_int(j, "vocab_size", what, 1, 1 << 24));
    c.max_positions = static_cast<int32_t>(json_int_or(j, "max_position_embeddings", 32768, what, 1, 1 << 24));
    c.rms_eps = json_number_or(j, "rms_norm_eps", 1e-6, what);
    c.tie_embeddings = json_bool_or(j, "tie_word_embeddings", false, what);
    if (json_bool_or(j, "attention_bias", false, what))
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: attention_bias = true is not supported", what.c_str());
    if (json_bool_or(j, "mlp_bias", false, what))
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: mlp_bias = true is not supported", what.c_str());
    const std::string act = json_string_or(j, "hidden_act", "silu", what);
    if (act != "silu")
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (silu only)", what.c_str(), act.c_str());
    if (json_bool_or(j, "use_sliding_window", false, what))
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: sliding-window attention is not supported", what.c_str());

    const std::string& t = c.model_type;
    if (t == "qwen3") {
        c.qk_norm = true;
        c.causal = true;
    } else if (t == "llama" || t == "mistral") {
        c.causal = true;
    } else if (t == "llama_bidirec" || t == "bidirectional_mistral" || t == "bidirectional_llama") {
        c.causal = false;
    } else {
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED,
                   "%s: model_type \"%s\" is not supported (supported decoders: qwen3, llama, llama_bidirec, "
                   "mistral, bidirectional_mistral)",
                   what.c_str(), t.c_str());
    }
    // Some bidirectional checkpoints say so with a flag instead of a model_type.
    if (const Json* causal = json_find(j, "is_causal"); causal != nullptr && causal->is_boolean())
        c.causal = causal->get<bool>();
    c.rope = parse_rope_config(j, what);
    validate_decoder_config(c, what);
    return c;
}

void validate_decoder_config(const DecoderConfig& c, const std::string& what) {
    if (c.head_dim % 2 != 0) EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: odd head_dim %d", what.c_str(), c.head_dim);
    if (c.head_dim > EMBER_MAX_HEAD_DIM)
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: head_dim %d is larger than the %d the attention kernels support",
                   what.c_str(), c.head_dim, EMBER_MAX_HEAD_DIM);
    if (c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: %d attention heads are not a multiple of %d key/value heads",
                   what.c_str(), c.num_heads, c.num_kv_heads);
    // The kernels take eps as a float: 1e300 would become inf there and fail every call.
    if (!(c.rms_eps > 0.0 && c.rms_eps <= 1.0))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: the RMSNorm epsilon (rms_norm_eps, GGUF layer_norm_rms_epsilon) "
                   "= %g must be in (0, 1]", what.c_str(), c.rms_eps);
    if (!(c.rope.theta > 1.0) || !std::isfinite(c.rope.theta))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: the RoPE base (rope_theta, GGUF rope.freq_base) must be > 1",
                   what.c_str());
    if (!(c.rope.factor > 0.0)) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: rope factor must be > 0", what.c_str());
    // Unsupported RoPE variants fail here, at load, not at the first embed call.
    try {
        (void)compute_rope_frequencies(c.rope, c.head_dim, c.max_positions, c.max_positions);
    } catch (const Error& e) {
        EMBER_FAIL(e.status(), "%s: %s", what.c_str(), e.what());
    }
}

int32_t parse_st_pooling(const Json& j, const std::string& what) {
    if (!j.is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s is not a JSON object", what.c_str());
    const bool last = json_bool_or(j, "pooling_mode_lasttoken", false, what);
    const bool mean = json_bool_or(j, "pooling_mode_mean_tokens", false, what);
    const bool cls = json_bool_or(j, "pooling_mode_cls_token", false, what);
    const bool other = json_bool_or(j, "pooling_mode_max_tokens", false, what) ||
                       json_bool_or(j, "pooling_mode_mean_sqrt_len_tokens", false, what) ||
                       json_bool_or(j, "pooling_mode_weightedmean_tokens", false, what);
    if (other || (last + mean + cls) != 1)
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED,
                   "%s: only exactly one of lasttoken, mean_tokens or cls_token pooling is supported", what.c_str());
    return last ? EMBER_POOLING_LAST : mean ? EMBER_POOLING_MEAN : EMBER_POOLING_CLS;
}

bool parse_st_normalize(const Json& j, const std::string& what) {
    if (!j.is_array()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s must be a JSON array", what.c_str());
    for (const Json& m : j) {
        const Json* type = json_find(m, "type");
        if (type != nullptr && type->is_string() && type->get<std::string>().find("Normalize") != std::string::npos)
            return true;
    }
    return false;
}

int32_t read_st_pooling(const std::string& dir) {
    const std::string path = join_path(join_path(dir, "1_Pooling"), "config.json");
    if (!file_exists(path)) return -1;
    return parse_st_pooling(read_json_file(path), "1_Pooling/config.json");
}

bool read_st_normalize(const std::string& dir) {
    const std::string path = join_path(dir, "modules.json");
    if (!file_exists(path)) return false;
    return parse_st_normalize(read_json_file(path), "modules.json");
}

}  // namespace ember
