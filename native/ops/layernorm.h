// LayerNorm with weight and optional bias (see ember_layernorm_params). y may be x itself;
// otherwise y must not overlap x. Mean and variance are accumulated in double.
#pragma once

#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_layernorm_params& p);
void layernorm(const ember_layernorm_params& p, ThreadPool& pool);
void layernorm_ref(const ember_layernorm_params& p);

}  // namespace ember::cpu
