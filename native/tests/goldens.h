// The float64 reference outputs in tests/goldens (copied from the shared set; tests/goldens/README.md
// says how transformers made them): where they are and how to read a model's cases.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "io/json.h"

namespace ember::test {

// tests/goldens/<name>: under $EMBER_SOURCE_DIR when set (binaries built elsewhere and run from a
// bundle, as on the GPU machine), else under the source folder this was compiled from.
inline std::string golden_dir(const std::string& name) {
    const char* env = std::getenv("EMBER_SOURCE_DIR");
    return std::string(env != nullptr && *env != '\0' ? env : EMBER_SOURCE_DIR) + "/tests/goldens/" + name;
}

// One reference case; the optional parts are empty when the architecture has no such output.
struct GoldenCase {
    std::vector<int32_t> ids;
    std::vector<float> hidden;  // last_hidden_state, flat rows x hidden
    std::vector<float> embedding;
    std::vector<float> pooled;
    int32_t instruction_len = 0;          // NV-Embed
    std::vector<float> latent_output;     // NV-Embed: flat rows x hidden
    std::vector<int32_t> encoder_ids;     // Causal2Vec
    std::vector<float> contextual_token;  // Causal2Vec
    std::vector<float> encoder_hidden;    // Causal2Vec: flat rows x encoder hidden
};

// A JSON vector or matrix as flat floats (rows back to back).
inline std::vector<float> golden_flat(const Json& rows) {
    std::vector<float> out;
    for (const auto& row : rows) {
        if (row.is_array()) {
            for (const auto& v : row) out.push_back(v.get<float>());
        } else {
            out.push_back(row.get<float>());
        }
    }
    return out;
}

inline std::vector<GoldenCase> read_golden_cases(const std::string& name) {
    const Json j = read_json_file(golden_dir(name) + "/reference.json");
    std::vector<GoldenCase> out;
    for (const auto& c : j["cases"]) {
        GoldenCase g;
        for (const auto& id : c["ids"]) g.ids.push_back(id.get<int32_t>());
        g.hidden = golden_flat(c["last_hidden_state"]);
        g.embedding = golden_flat(c["embedding"]);
        g.pooled = golden_flat(c["pooled"]);
        if (c.contains("instruction_len")) g.instruction_len = c["instruction_len"].get<int32_t>();
        if (c.contains("latent_output")) g.latent_output = golden_flat(c["latent_output"]);
        if (c.contains("encoder_ids"))
            for (const auto& id : c["encoder_ids"]) g.encoder_ids.push_back(id.get<int32_t>());
        if (c.contains("contextual_token")) g.contextual_token = golden_flat(c["contextual_token"]);
        if (c.contains("encoder_last_hidden_state")) g.encoder_hidden = golden_flat(c["encoder_last_hidden_state"]);
        out.push_back(std::move(g));
    }
    return out;
}

}  // namespace ember::test
