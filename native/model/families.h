// The model families Ember recognizes in a Hugging Face folder, and what each implies that the
// folder itself does not say: attention direction, pooling, prompt formats, end-of-sequence
// handling. This table is the one place those defaults live (facts: shared/specs/models.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/json.h"
#include "model/config.h"

namespace ember {

enum class FamilyKind {
    Decoder,     // a decoder stack and a plain pooling (Qwen3-Embedding, llama-embed-nemotron, ...)
    NvEmbed,     // bidirectional Mistral + latent-attention pooling
    Causal2Vec,  // BERT encoder -> contextual token -> causal decoder
};

enum class AttentionDefault {
    Causal,
    Bidirectional,
    FromConfig,  // what the decoder config says (model_type, is_causal)
};

struct Family {
    const char* name;                         // ember_model_info.family, e.g. "qwen3-embedding"
    std::vector<std::string> architectures;   // config.json "architectures" values that select it
    std::vector<std::string> model_types;     // config.json "model_type" values that select it
    FamilyKind kind;
    AttentionDefault attention;
    int32_t pooling;                          // ember_pooling; sentence-transformers' 1_Pooling may override (Decoder kind)
    // Prompt formats with {task} and {text} placeholders; "" when the family defines none.
    const char* query_format;
    const char* document_format;
    // Who puts the end-of-sequence token on the input: "tokenizer" (its post-processor does),
    // "append" (the model's own code appends the tokenizer's EOS text), "none".
    const char* eos;
    // Whether the instruction prefix is left out of pooling (pool_start = its token count).
    bool mask_instruction;
    const char* note;
};

// All families, in the order they are tried.
const std::vector<Family>& families();

// The family of a config.json: by its first "architectures" entry, else by "model_type". Fails with
// EMBER_ERR_MODEL_UNSUPPORTED listing every supported architecture and model_type.
const Family& recognize_family(const Json& config, const std::string& what);

// Prompt facts for the description (ember_model_describe): the family's formats plus the prompts of
// config_sentence_transformers.json in `dir`, when present (validated: an object of strings).
Json describe_prompts(const Family& family, const std::string& dir);

// A decoder config as the description shows it (dimensions, attention, norm, RoPE).
Json describe_decoder(const DecoderConfig& c);

const char* pooling_name(int32_t pooling);

}  // namespace ember
