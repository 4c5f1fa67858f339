// The tokenizer stored in a GGUF file, as JSON (the C ABI's ember_gguf_tokenizer_json wraps this).
#pragma once

#include <string>

#include "io/gguf.h"

namespace ember {

// See ember_gguf_tokenizer_json in ember/tools.h. Fails with MODEL_NOT_FOUND when the file has
// no tokenizer.ggml.model, MODEL_MALFORMED for inconsistent tokenizer metadata.
std::string gguf_tokenizer_json(const GgufFile& file);

}  // namespace ember
