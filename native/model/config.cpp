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
        r.factor = json_number_or(*s, "factor", 0.0, ctx);
        r.original_max_positions = json_int_or(*s, "original_max_position_embeddings", 0, ctx, 0, 1 << 30);
        r.low_freq_factor = json_number_or(*s, "low_freq_factor", r.low_freq_factor, ctx);
        r.high_freq_factor = json_number_or(*s, "high_freq_factor", r.high_freq_factor, ctx);
        // transformers reads these as `get(...) or default`: 0 means the default too.
        r.beta_fast = json_number_or(*s, "beta_fast", 0.0, ctx);
        r.beta_slow = json_number_or(*s, "beta_slow", 0.0, ctx);
        if (r.beta_fast == 0.0) r.beta_fast = 32.0;
        if (r.beta_slow == 0.0) r.beta_slow = 1.0;
        r.attention_factor = json_number_or(*s, "attention_factor", 0.0, ctx);
        r.mscale = json_number_or(*s, "mscale", 0.0, ctx);
        r.mscale_all_dim = json_number_or(*s, "mscale_all_dim", 0.0, ctx);
        r.truncate = json_bool_or(*s, "truncate", true, ctx);
        if (json_number_or(*s, "partial_rotary_factor", 1.0, ctx) != 1.0)
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: partial_rotary_factor != 1 is not supported", ctx.c_str());
    }
    // transformers (standardize_rope_params): a top-level original_max_position_embeddings (Phi-3
    // style) takes priority for the variants that use one; dynamic NTK never reads it (it scales
    // from max_position_embeddings).
    if (r.type == "yarn" || r.type == "llama3")
        r.original_max_positions = json_int_or(j, "original_max_position_embeddings", r.original_max_positions, what, 0,
                                               1 << 30);
    if (r.type == "dynamic") r.original_max_positions = 0;
    if (json_number_or(j, "partial_rotary_factor", 1.0, what) != 1.0)
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: partial_rotary_factor != 1 is not supported", what.c_str());
    if (!(r.theta > 1.0) || !std::isfinite(r.theta))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: rope_theta must be > 1", what.c_str());
    if (r.factor < 0.0) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: rope factor must be > 0", what.c_str());
    return r;
}

namespace {

constexpr int32_t kMaxSelfExtend = 1 << 20;  // keeps grouped positions far from int overflow

}  // namespace

void check_long_context_options(const ember_load_options& o) {
    EMBER_CHECK_ARG(o.rope_scaling >= EMBER_ROPE_SCALING_MODEL && o.rope_scaling <= EMBER_ROPE_SCALING_LLAMA3,
                    "rope_scaling %d is not an ember_rope_scaling value", o.rope_scaling);
    if (o.rope_scaling > EMBER_ROPE_SCALING_NONE)
        EMBER_CHECK_ARG(std::isfinite(o.rope_factor) && o.rope_factor >= 1.0 && o.rope_factor <= 1e6,
                        "RoPE scaling factor must be in [1, 1e6], got %g", o.rope_factor);
    EMBER_CHECK_ARG(o.rope_theta == 0.0 || (std::isfinite(o.rope_theta) && o.rope_theta > 1.0),
                    "rope_theta must be a finite number > 1 (or 0: the model's), got %g", o.rope_theta);
    const bool se = o.self_extend_group != 0 || o.self_extend_window != 0;
    EMBER_CHECK_ARG(!se || (o.self_extend_group >= 1 && o.self_extend_group <= kMaxSelfExtend &&
                            o.self_extend_window >= 1 && o.self_extend_window <= kMaxSelfExtend),
                    "SelfExtend needs group size and window in [1, %d], got group %d, window %d", kMaxSelfExtend,
                    o.self_extend_group, o.self_extend_window);
    EMBER_CHECK_ARG(o.attention_scaling == 0 || (o.attention_scaling >= 2 && o.attention_scaling <= (1 << 24)),
                    "attention_scaling must be 0 (off) or a length in [2, 2^24], got %d", o.attention_scaling);
}

void apply_long_context_options(DecoderConfig& c, const ember_load_options& o) {
    check_long_context_options(o);
    RopeConfig& r = c.rope;
    if (o.rope_theta > 0.0) r.theta = o.rope_theta;
    if (o.rope_scaling != EMBER_ROPE_SCALING_MODEL) {
        // The context the model was trained for: what a configured scaling extended from.
        const int64_t trained = rope_trained_context(r, c.max_positions);
        RopeConfig fresh;
        fresh.theta = r.theta;
        switch (o.rope_scaling) {
            case EMBER_ROPE_SCALING_NONE: fresh.type = "default"; break;
            case EMBER_ROPE_SCALING_LINEAR: fresh.type = "linear"; break;
            case EMBER_ROPE_SCALING_NTK: fresh.type = "ntk"; break;
            case EMBER_ROPE_SCALING_DYNAMIC: fresh.type = "dynamic"; break;
            case EMBER_ROPE_SCALING_YARN: fresh.type = "yarn"; break;
            default: fresh.type = "llama3"; break;
        }
        if (o.rope_scaling != EMBER_ROPE_SCALING_NONE) {
            fresh.factor = o.rope_factor;
            fresh.original_max_positions = trained;
        }
        r = fresh;
    }
    c.self_extend_group = o.self_extend_group;
    c.self_extend_window = o.self_extend_window;
    c.attention_scaling = o.attention_scaling;
    // The override must make sense for this head size, as config.json values must.
    (void)compute_rope_frequencies(c.rope, c.head_dim, c.max_positions, c.max_positions);
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
    // 0 means "not given" (the scaling variant picks its default); compute_rope_frequencies checks the rest.
    if (!(c.rope.factor >= 0.0) || !std::isfinite(c.rope.factor))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: the RoPE scaling factor must be >= 0 and finite", what.c_str());
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
