// RMSNorm with an optional fused residual add (see ember_rmsnorm_params). y may be x itself;
// otherwise y must not overlap x or residual. The sum of squares is accumulated in double.
#pragma once

#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_rmsnorm_params& p);
void rmsnorm(const ember_rmsnorm_params& p, ThreadPool& pool);
void rmsnorm_ref(const ember_rmsnorm_params& p);

}  // namespace ember::cpu
