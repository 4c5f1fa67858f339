// Where weights come from, by their Hugging Face names: a safetensors archive or (later) a GGUF
// file. The model code asks for a tensor by name and expected shape; the source checks both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "io/safetensors.h"

namespace ember {

struct WeightRef {
    std::string name;
    const void* data = nullptr;
    int32_t dtype = -1;          // ember_dtype, -1 when Ember cannot compute with the stored type
    std::string dtype_name;      // as stored, for messages
    std::vector<int64_t> shape;  // Hugging Face order: [out, in] for projections
};

class WeightSource {
  public:
    virtual ~WeightSource() = default;
    virtual std::string describe() const = 0;
    // nullptr when absent.
    virtual const WeightRef* find(const std::string& name) const = 0;
    // True when Q/K projection rows are permuted for adjacent-pair RoPE (llama.cpp's converter
    // does this for Llama-family GGUF files).
    virtual bool rope_interleaved() const { return false; }

    // Fails with EMBER_ERR_MODEL_MALFORMED when absent or shaped differently.
    const WeightRef& get(const std::string& name, const std::vector<int64_t>& shape) const;
};

std::unique_ptr<WeightSource> make_safetensors_source(std::unique_ptr<SafetensorsArchive> archive);

// A projection matrix [n, k] as a backend Weight; `storage` keeps any copy alive.
Weight load_matrix(Backend& backend, const WeightSource& src, const std::string& name, int64_t n, int64_t k,
                   Buffer& storage);
// A vector of `n` values converted to f32 in backend memory (norm weights, biases).
Buffer load_vector_f32(Backend& backend, const WeightSource& src, const std::string& name, int64_t n);

// One module's weights: load_matrix / load_vector_f32 under a name prefix, counting the bytes the
// backend holds. Published checkpoints spell a module's tensors with or without a wrapper name
// after the prefix ("model." for decoders, "bert." for encoders): when `nested` is given and
// prefix + name is absent, prefix + nested + name is tried (a miss is reported under the plain name).
class WeightLoader {
  public:
    WeightLoader(Backend& backend, const WeightSource& src, std::string prefix, std::string nested = "")
        : backend_(backend), src_(src), prefix_(std::move(prefix)), nested_(std::move(nested)) {}
    Weight matrix(const std::string& name, int64_t n, int64_t k, Buffer& storage);
    Buffer vector_f32(const std::string& name, int64_t n);
    int64_t bytes() const { return bytes_; }

  private:
    std::string resolve(const std::string& name) const;

    Backend& backend_;
    const WeightSource& src_;
    const std::string prefix_, nested_;
    int64_t bytes_ = 0;
};

}  // namespace ember
