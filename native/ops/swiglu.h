// out = silu(gate) * up.
#pragma once

#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_swiglu_params& p);
void swiglu(const ember_swiglu_params& p, ThreadPool& pool);
void swiglu_ref(const ember_swiglu_params& p);

}  // namespace ember::cpu
