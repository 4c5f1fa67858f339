// The decoder stack shared by Qwen3, Llama and Mistral (causal or bidirectional): token
// embeddings -> N x [RMSNorm, attention with RoPE (+ Qwen3 q/k norm), residual, RMSNorm, SwiGLU
// MLP, residual] -> final RMSNorm. Other architectures (NV-Embed, Causal2Vec) embed this.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/config.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace ember {

class Decoder {
  public:
    // `prefix` is prepended to every tensor name ("" for plain checkpoints, "embedding_model."
    // for NV-Embed, "llm." for Causal2Vec).
    Decoder(const DecoderConfig& config, Backend& backend, const WeightSource& src, const std::string& prefix);

    const DecoderConfig& config() const { return config_; }
    int64_t weight_bytes() const { return weight_bytes_; }
    int32_t weight_dtype() const { return weight_dtype_; }

    // Writes the token embeddings of `ids` (backend memory, `rows` ids) into x.
    void embed(const Tensor& x, const int32_t* ids) const;
    // Runs all layers and the final norm on x (the embeddings of the batch, rows = tokens) and
    // writes last_hidden_state into `out` (same shape; may alias x).
    void forward(const Tensor& x, const Seqs& seqs, const Tensor& out) const;

  private:
    struct Layer {
        Weight q, k, v, o, gate, up, down;
        Buffer attn_norm, ffn_norm, q_norm, k_norm;
        std::vector<Buffer> storage;
    };
    struct RopeCache {
        std::shared_ptr<Buffer> cos, sin;
        int64_t rows = 0;
    };
    // The RoPE tables one forward pass reads: the shared table, plus for dynamic NTK a table per
    // sequence longer than the trained context, built for this batch.
    struct BatchRope {
        RopeTable table;
        std::shared_ptr<void> keep;  // holds the shared table while the pass runs
        Buffer cos, sin, first_row;  // the per-batch tables, when there are any
        std::vector<int64_t> first_row_host;
    };

    // A table covering at least `rows` positions, grown on demand and shared between calls.
    std::pair<RopeTable, std::shared_ptr<void>> rope_table(int64_t rows) const;
    // Table rows a sequence of `len` tokens reads (more than len with SelfExtend's shifted
    // grouped positions).
    int64_t rope_rows(int64_t len, bool self_extend) const;
    BatchRope batch_rope(const Seqs& seqs, bool self_extend) const;

    DecoderConfig config_;
    Backend& backend_;
    bool rope_interleaved_ = false;
    Weight embed_tokens_;
    Buffer embed_storage_;
    std::vector<Layer> layers_;
    Buffer final_norm_;
    int64_t weight_bytes_ = 0;
    int32_t weight_dtype_ = EMBER_DTYPE_F32;

    mutable std::mutex rope_mutex_;
    mutable RopeCache rope_cache_;
};

}  // namespace ember
