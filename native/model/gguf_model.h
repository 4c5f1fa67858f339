// GGUF files as Ember models: llama.cpp's metadata mapped onto the same DecoderConfig the
// safetensors path builds from config.json, and a WeightSource that answers Hugging Face tensor
// names with the file's tensors (zero-copy).
#pragma once

#include <memory>
#include <string>

#include "io/gguf.h"
#include "model/decoder_model.h"
#include "model/weight_source.h"

namespace ember {

// Architecture, sizes, RoPE, causality and pooling from `{arch}.*` keys (arch = qwen3 or llama).
// Fails with MODEL_UNSUPPORTED for other architectures and options Ember does not run, and with
// MODEL_MALFORMED for missing or inconsistent values.
DecoderModelSpec gguf_decoder_spec(const GgufFile& file);

// The file's tensors under Hugging Face names ("layers.3.self_attn.q_proj.weight", with or
// without a "model." prefix), shapes in Hugging Face order. For `llama` files rope_interleaved()
// is true: llama.cpp's converter permutes the Q/K rows of each head so that RoPE pairs adjacent
// elements; qwen3 files keep the rotate-half layout.
std::unique_ptr<WeightSource> make_gguf_source(std::unique_ptr<GgufFile> file);

// The GGUF tensor name for a Hugging Face decoder tensor name, or "" when there is none.
std::string gguf_tensor_name(const std::string& hf_name);

}  // namespace ember
