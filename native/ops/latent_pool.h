// NV-Embed latent-attention pooling (see ember_latent_pool_params): the whole latent block and the
// masked mean in one op, blocked over tokens so that every weight is streamed once per block of
// tokens and the per-token work is four GEMMs (scores, values, and the two feed-forward halves).
#pragma once

#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_latent_pool_params& p);
void latent_pool(const ember_latent_pool_params& p, ThreadPool& pool);
// Scalar twin: one token at a time, everything in double, exact softmax and erf.
void latent_pool_ref(const ember_latent_pool_params& p);

}  // namespace ember::cpu
