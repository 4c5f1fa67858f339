// BERT-style input embeddings: word + token type + learned absolute position, per token of a
// ragged batch (see ember_embed_abs_params).
#pragma once

#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_embed_abs_params& p);
void embed_abs(const ember_embed_abs_params& p, ThreadPool& pool);
// Scalar twin: the sum in double, rounded once.
void embed_abs_ref(const ember_embed_abs_params& p);

}  // namespace ember::cpu
