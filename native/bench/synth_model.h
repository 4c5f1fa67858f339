// Random-weight models of real shapes, written as Hugging Face folders, for benchmarks.
#pragma once

#include <cstdint>
#include <string>

namespace ember::bench {

struct ModelShape {
    const char* name;
    const char* model_type;
    int hidden, layers, heads, kv_heads, head_dim, ffn, vocab;
    double rope_theta;
};

// Known shapes: qwen3-0.6b, qwen3-4b, qwen3-8b, llama-embed-nemotron-8b, tiny, small.
const ModelShape* find_shape(const std::string& name);

// Writes config.json + model.safetensors (weights ~ N(0, 0.02), norms 1) into `dir` unless a
// complete model is already there. dtype: "f32", "bf16" or "f16".
void synth_model(const ModelShape& shape, const std::string& dtype, const std::string& dir, uint64_t seed = 1);

}  // namespace ember::bench
