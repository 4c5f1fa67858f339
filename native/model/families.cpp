#include "model/families.h"

#include "core/error.h"
#include "ember/ember.h"
#include "io/mapped_file.h"
#include "model/rope_freqs.h"

namespace ember {

const std::vector<Family>& families() {
    // clang-format off
    static const std::vector<Family> table = {
        {"qwen3-embedding", {"Qwen3Model", "Qwen3ForCausalLM"}, {"qwen3"},
         FamilyKind::Decoder, AttentionDefault::Causal, EMBER_POOLING_LAST,
         "Instruct: {task}\nQuery:{text}", "{text}", "tokenizer", false,
         "last-token pooling takes the <|endoftext|> the tokenizer's post-processor appends"},
        {"llama-embed-nemotron", {"LlamaBidirectionalModel"}, {"llama_bidirec"},
         FamilyKind::Decoder, AttentionDefault::Bidirectional, EMBER_POOLING_MEAN,
         "Instruct: {task}\nQuery: {text}", "{text}", "tokenizer", false,
         "mean over all tokens, instruction included"},
        {"nv-embed", {"NVEmbedModel"}, {"nvembed"},
         FamilyKind::NvEmbed, AttentionDefault::Bidirectional, EMBER_POOLING_LATENT,
         "Instruct: {task}\nQuery: {text}", "{text}", "append", true,
         "inputs are instruction + text + eos; the instruction is attended to but left out of the mean (instruction_len)"},
        {"causal2vec", {"Causal2VecModel"}, {"causal2vec"},
         FamilyKind::Causal2Vec, AttentionDefault::Causal, EMBER_POOLING_CONCAT_CONTEXTUAL_LAST,
         "", "{text}", "tokenizer", false,
         "encoder pooling, projector and contextual position are read from config.json (not fixed by the paper)"},
        // Plain decoders with no embedding family of their own (e5-mistral style: last token).
        {"decoder", {"LlamaModel", "LlamaForCausalLM", "MistralModel", "MistralForCausalLM"}, {"llama", "mistral"},
         FamilyKind::Decoder, AttentionDefault::FromConfig, EMBER_POOLING_LAST,
         "", "{text}", "tokenizer", false, "generic decoder: pooling from 1_Pooling/config.json when present"},
        {"bidirectional-decoder", {"BidirectionalMistralModel", "BidirectionalLlamaModel"},
         {"bidirectional_mistral", "bidirectional_llama"},
         FamilyKind::Decoder, AttentionDefault::Bidirectional, EMBER_POOLING_MEAN,
         "", "{text}", "tokenizer", false, "generic bidirectional decoder: pooling from 1_Pooling/config.json when present"},
    };
    // clang-format on
    return table;
}

namespace {

std::string supported_list() {
    std::string archs, types;
    for (const Family& f : families()) {
        for (const auto& a : f.architectures) archs += (archs.empty() ? "" : ", ") + a;
        for (const auto& t : f.model_types) types += (types.empty() ? "" : ", ") + t;
    }
    return "supported architectures: " + archs + "; model_types: " + types;
}

}  // namespace

const Family& recognize_family(const Json& config, const std::string& what) {
    std::string arch;
    if (const Json* a = json_find(config, "architectures"); a != nullptr) {
        if (!a->is_array() || (!a->empty() && !(*a)[0].is_string()))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"architectures\" must be an array of strings", what.c_str());
        if (!a->empty()) arch = (*a)[0].get<std::string>();
    }
    const std::string type = json_string_or(config, "model_type", "", what);
    for (const Family& f : families())
        for (const auto& a : f.architectures)
            if (a == arch) return f;
    for (const Family& f : families())
        for (const auto& t : f.model_types)
            if (t == type) return f;
    EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: architecture \"%s\" / model_type \"%s\" is not supported (%s)",
               what.c_str(), arch.c_str(), type.c_str(), supported_list().c_str());
}

Json describe_prompts(const Family& family, const std::string& dir) {
    Json out = Json::object();
    out["query_format"] = family.query_format[0] ? Json(family.query_format) : Json(nullptr);
    out["document_format"] = family.document_format;
    const std::string path = join_path(dir, "config_sentence_transformers.json");
    if (!dir.empty() && file_exists(path)) {
        const std::string what = "config_sentence_transformers.json";
        const Json j = read_json_file(path);
        if (!j.is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s is not a JSON object", what.c_str());
        Json named = Json::object();
        if (const Json* p = json_find(j, "prompts"); p != nullptr) {
            if (!p->is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"prompts\" must be an object", what.c_str());
            for (const auto& [name, value] : p->items()) {
                if (!value.is_string())
                    EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: prompt \"%s\" is not a string", what.c_str(), name.c_str());
                named[name] = value;
            }
        }
        out["sentence_transformers"] = named;
        const std::string def = json_string_or(j, "default_prompt_name", "", what);
        out["default_prompt_name"] = def.empty() ? Json(nullptr) : Json(def);
    }
    return out;
}

Json describe_decoder(const DecoderConfig& c) {
    Json rope = Json::object();
    rope["theta"] = c.rope.theta;
    rope["type"] = c.rope.type;
    if (c.rope.type != "default") {
        if (c.rope.factor > 0) rope["factor"] = c.rope.factor;
        if (c.rope.original_max_positions > 0) rope["original_max_positions"] = c.rope.original_max_positions;
    }
    // GGUF Llama 3 scaling: the divisors as stored (rope_freqs.weight).
    if (!c.rope.freq_factors.empty()) rope["freq_factors"] = c.rope.freq_factors;
    if (c.rope.type == "yarn")
        rope["attention_factor"] = compute_rope_frequencies(c.rope, c.head_dim, c.max_positions, c.max_positions).attention_factor;
    Json d = Json::object();
    d["model_type"] = c.model_type;
    d["hidden_size"] = c.hidden_size;
    d["layers"] = c.num_layers;
    d["heads"] = c.num_heads;
    d["kv_heads"] = c.num_kv_heads;
    d["head_dim"] = c.head_dim;
    d["intermediate_size"] = c.intermediate_size;
    d["vocab_size"] = c.vocab_size;
    d["max_positions"] = c.max_positions;
    d["attention"] = c.causal ? "causal" : "bidirectional";
    d["qk_norm"] = c.qk_norm;
    d["rms_norm_eps"] = c.rms_eps;
    d["rope"] = rope;
    if (c.self_extend_window > 0) {
        Json se = Json::object();
        se["group"] = c.self_extend_group;
        se["window"] = c.self_extend_window;
        d["self_extend"] = se;
    }
    if (c.attention_scaling > 0) d["attention_scaling"] = c.attention_scaling;
    return d;
}

const char* pooling_name(int32_t pooling) {
    switch (pooling) {
        case EMBER_POOLING_LAST: return "last";
        case EMBER_POOLING_MEAN: return "mean";
        case EMBER_POOLING_CLS: return "cls";
        case EMBER_POOLING_LATENT: return "latent-attention+mean";
        case EMBER_POOLING_CONCAT_CONTEXTUAL_LAST: return "concat(contextual,last)";
        default: return "?";
    }
}

}  // namespace ember
