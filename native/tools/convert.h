// Hugging Face folder -> GGUF conversion and synthetic models (the C ABI in ember/tools.h wraps
// these).
#pragma once

#include <cstdint>
#include <string>

namespace ember {

// See ember_convert in ember/tools.h.
void convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_gguf, int32_t dtype);
// See ember_synth_model in ember/tools.h.
void synth_model_any(const std::string& like, const std::string& out, int32_t dtype, uint64_t seed);

}  // namespace ember
