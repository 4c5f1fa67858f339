// A BERT-style encoder (Causal2Vec's lightweight one): word + position + token-type embeddings and
// LayerNorm, then N post-LN layers of bidirectional attention with biases and a GELU MLP.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "io/json.h"
#include "model/weight_source.h"

namespace ember {

struct BertConfig {
    int32_t hidden_size = 0;
    int32_t num_layers = 0;
    int32_t num_heads = 0;
    int32_t head_dim = 0;
    int32_t intermediate_size = 0;
    int32_t vocab_size = 0;
    int32_t max_positions = 0;
    int32_t type_vocab_size = 0;
    double eps = 1e-12;
};

// Parses a BERT config (Causal2Vec's encoder_config); fails on what Ember does not run (activations
// other than exact GELU, relative position embeddings).
BertConfig parse_bert_config(const Json& j, const std::string& what);
Json describe_bert(const BertConfig& c);

class BertEncoder {
  public:
    // `prefix` is prepended to every tensor name ("encoder." in Causal2Vec; BERT checkpoints may
    // add "bert." after it).
    BertEncoder(const BertConfig& config, Backend& backend, const WeightSource& src, const std::string& prefix);

    const BertConfig& config() const { return config_; }
    int64_t weight_bytes() const { return weight_bytes_; }
    // Activation bytes per token of forward().
    int64_t activation_bytes_per_token() const;

    // last_hidden_state of the batch (ids and seqs in backend memory) into out (tokens x hidden).
    // Token type 0 everywhere.
    void forward(const int32_t* ids, const Seqs& seqs, const Tensor& out) const;

  private:
    struct Layer {
        Weight q, k, v, o, up, down;
        Buffer q_b, k_b, v_b, o_b, up_b, down_b, ln1_w, ln1_b, ln2_w, ln2_b;
        std::vector<Buffer> storage;
    };
    BertConfig config_;
    Backend& backend_;
    AbsEmbedTables tables_;
    Buffer table_storage_[3];
    Buffer emb_ln_w_, emb_ln_b_;
    std::vector<Layer> layers_;
    int64_t weight_bytes_ = 0;
};

}  // namespace ember
