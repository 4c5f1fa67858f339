// Sequence pooling (last token, first token, mean over the pool mask) and L2 normalisation.
#pragma once

#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_pool_params& p);
void pool(const ember_pool_params& p, ThreadPool& pool);
void pool_ref(const ember_pool_params& p);

// x[r] /= max(||x[r]||_2, 1e-12) for each of `rows` rows of `dim` (the sentence-transformers /
// torch.nn.functional.normalize convention).
void l2_normalize(float* x, int64_t rows, int64_t dim, int64_t stride);

}  // namespace ember::cpu
