// Model configuration read from a Hugging Face folder (config.json and the sentence-transformers
// files). Everything is validated here, once, so the model code can trust these numbers.
#pragma once

#include <cstdint>
#include <string>

#include "io/json.h"

namespace ember {

// RoPE as configured: the base plus an optional scaling variant. model/rope_freqs turns this into
// inverse frequencies; it is the only place that interprets `type`.
struct RopeConfig {
    double theta = 10000.0;
    std::string type = "default";  // default | linear | dynamic | yarn | llama3
    double factor = 1.0;
    int64_t original_max_positions = 0;  // 0: the model's max_position_embeddings
    double low_freq_factor = 1.0;        // llama3
    double high_freq_factor = 4.0;       // llama3
    double beta_fast = 32.0;             // yarn
    double beta_slow = 1.0;              // yarn
    double attention_factor = 0.0;       // yarn; 0: derived from factor
    bool truncate = true;                // yarn
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

// The pooling named by sentence-transformers' 1_Pooling/config.json in `dir`, or -1 when the
// folder has none. Fails on modes Ember does not implement.
int32_t read_st_pooling(const std::string& dir);
// Whether modules.json lists a Normalize module (false when absent).
bool read_st_normalize(const std::string& dir);
// The same two on parsed JSON (the fuzz harnesses' entry points).
int32_t parse_st_pooling(const Json& j, const std::string& what);
bool parse_st_normalize(const Json& j, const std::string& what);

}  // namespace ember
