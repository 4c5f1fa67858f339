// Causal2Vec: a BERT-style encoder reads the whole input and, pooled and projected by an MLP,
// becomes one "contextual token" inserted into the causal decoder's input embeddings; the
// embedding is concat(h_contextual, h_last). The encoder pooling, the projector and the insertion
// position are read from config.json (encoder_pooling, projector, contextual_position): the paper
// leaves them open, so none is guessed.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "io/json.h"
#include "model/families.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace ember {

// `opts`: the long-context overrides for the LLM (apply_long_context_options).
std::unique_ptr<Model> make_causal2vec_model(const Json& config, const Family& family, const ember_load_options& opts,
                                             std::unique_ptr<Backend> backend, std::unique_ptr<WeightSource> weights);

}  // namespace ember
