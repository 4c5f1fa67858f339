// Model configuration read from a Hugging Face folder (config.json and the sentence-transformers
// files). Everything is validated here, once, so the model code can trust these numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ember/ember.h"
#include "io/json.h"

namespace ember {

// RoPE as configured: the base plus an optional scaling variant. model/rope_freqs turns this into
// inverse frequencies; it is the only place that interprets `type`.
struct RopeConfig {
    double theta = 10000.0;
    std::string type = "default";  // default | linear | ntk | dynamic | yarn | llama3
    double factor = 0.0;                 // 0: not given (yarn then uses max_positions / original)
    int64_t original_max_positions = 0;  // 0: the model's max_position_embeddings
    double low_freq_factor = 1.0;        // llama3
    double high_freq_factor = 4.0;       // llama3
    double beta_fast = 32.0;             // yarn
    double beta_slow = 1.0;              // yarn
    double attention_factor = 0.0;       // yarn; 0: derived from factor (and mscale / mscale_all_dim)
    double mscale = 0.0;                 // yarn, DeepSeek style; 0: not given
    double mscale_all_dim = 0.0;         // yarn, DeepSeek style; 0: not given
    bool truncate = true;                // yarn: round the correction range outwards to whole pairs
    // Per-pair divisors of the frequencies, applied after the variant (GGUF files carry Llama 3
    // scaling this way, as the tensor rope_freqs.weight); empty: none.
    std::vector<float> freq_factors;
};

struct DecoderConfig {
    std::string model_type;  // as in config.json: qwen3, llama, llama_bidirec, mistral, ...
    int32_t hidden_size = 0;
    int32_t num_layers = 0;
    int32_t num_heads = 0;
    int32_t num_kv_heads = 0;
    int32_t head_dim = 0;
    int32_t intermediate_size = 0;
    int32_t vocab_size = 0;
    int32_t max_positions = 0;
    double rms_eps = 1e-6;
    bool qk_norm = false;  // Qwen3: RMSNorm over each head of Q and K
    bool causal = true;
    bool tie_embeddings = false;
    RopeConfig rope;
    // Run-time options (ember_load_options), not read from config.json.
    int32_t self_extend_group = 0;   // SelfExtend group size G; 0: off
    int32_t self_extend_window = 0;  // SelfExtend neighbour window W
    int32_t attention_scaling = 0;   // > 1: logits x max(log_N(L), 1) with N this value (LongEmbed); 0: off
};

// Parses a decoder config object (the top level of config.json, or a nested text_config /
// llm_config). `what` names it in errors.
DecoderConfig parse_decoder_config(const Json& j, const std::string& what);

// What every decoder config must satisfy before a model is built from it, whichever file it came
// from (parse_decoder_config calls it; so does the GGUF path): head_dim even and within the
// attention kernels, whole key/value head groups, rms eps in (0, 1], a usable RoPE base, and
// RoPE frequencies that compute, so a model that loads also embeds. MODEL_UNSUPPORTED or
// MODEL_MALFORMED naming `what`.
void validate_decoder_config(const DecoderConfig& c, const std::string& what);

// Reads the rope section in any of the styles published configs use: flat rope_theta +
// rope_scaling {rope_type|type, ...}, or rope_parameters {rope_theta, rope_type, ...}.
RopeConfig parse_rope_config(const Json& j, const std::string& what);

// Checks the long-context fields of load options (RoPE override, SelfExtend, attention scaling);
// throws INVALID_ARGUMENT naming the bad one.
void check_long_context_options(const ember_load_options& opts);
// Applies them over what the model's files say: a RoPE scaling override replaces the configured
// variant (extending from the model's trained context), a base override replaces rope_theta.
void apply_long_context_options(DecoderConfig& c, const ember_load_options& opts);

// The pooling named by sentence-transformers' 1_Pooling/config.json in `dir`, or -1 when the
// folder has none. Fails on modes Ember does not implement.
int32_t read_st_pooling(const std::string& dir);
// Whether modules.json lists a Normalize module (false when absent).
bool read_st_normalize(const std::string& dir);
// The same two on parsed JSON (the fuzz harnesses' entry points).
int32_t parse_st_pooling(const Json& j, const std::string& what);
bool parse_st_normalize(const Json& j, const std::string& what);

}  // namespace ember
