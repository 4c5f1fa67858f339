// A loaded embedding model: architecture-specific forward pass behind one interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "ember/ember.h"
#include "io/json.h"

namespace ember {

// A checked host view of an ember_batch.
struct HostBatch {
    const int32_t* ids = nullptr;
    const int32_t* cu_seqlens = nullptr;
    int32_t n_seqs = 0;
    int64_t total_tokens = 0;
    int64_t max_len = 0;
    const int32_t* pool_start = nullptr;  // may be null
    const int32_t* encoder_ids = nullptr;
    const int32_t* encoder_cu_seqlens = nullptr;
};

// Validates the batch shape and every token id against `vocab_size`; throws INVALID_ARGUMENT.
HostBatch check_batch(const ember_batch* batch, int32_t vocab_size);

class Model {
  public:
    virtual ~Model() = default;
    const ember_model_info& info() const { return info_; }
    Backend& backend() const { return *backend_; }

    // Rows of last_hidden_state this batch produces.
    virtual int64_t hidden_rows(const HostBatch& batch) const { return batch.total_tokens; }
    // last_hidden_state of every row, to host memory (hidden_rows x hidden_size floats).
    virtual void forward_hidden(const HostBatch& batch, float* out) = 0;
    // Pooled embeddings before normalisation: n_seqs x embedding_size floats to host memory.
    virtual void forward_pooled(const HostBatch& batch, float* out) = 0;

    // Checks what check_batch cannot: the inputs this architecture needs beyond token ids. By
    // default encoder ids are rejected (only Causal2Vec takes them). Throws INVALID_ARGUMENT.
    virtual void check_inputs(const HostBatch& batch) const;
    // Shape (rows, cols) of an intermediate output (ember_intermediate) for this batch; fails with
    // INVALID_ARGUMENT when the architecture has no such output.
    virtual std::pair<int64_t, int64_t> intermediate_shape(const HostBatch& batch, int32_t which) const;
    // Writes it (rows x cols floats) to host memory.
    virtual void forward_intermediate(const HostBatch& batch, int32_t which, float* out);

    // Architecture facts for ember_model_describe ("backbone", and the latent block, encoder, ...).
    virtual Json describe() const = 0;
    // What the model did at run time so far, for ember_model_runtime (CUDA-graph replays).
    virtual Json runtime() const = 0;
    // Activation memory per token of a batch (the largest working set of a forward pass).
    virtual int64_t activation_bytes_per_token() const = 0;

    // The whole description as JSON text, set once by the loader.
    const std::string& description() const { return description_; }
    void set_description(std::string d) { description_ = std::move(d); }

  protected:
    std::unique_ptr<Backend> backend_;
    ember_model_info info_{};
    std::string description_;
};

// Loads a Hugging Face folder or a GGUF file.
std::unique_ptr<Model> load_model(const std::string& path, const ember_load_options& opts);

}  // namespace ember
