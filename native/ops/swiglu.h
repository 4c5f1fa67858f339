// out = silu(gate) * up.
#pragma once

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_swiglu_params& p);
void swiglu(const ember_swiglu_params& p, ThreadPool& pool);
// The same with the kernels built for `isa` (tests, benchmarks); throws if the CPU lacks it.
void swiglu(const ember_swiglu_params& p, ThreadPool& pool, Isa isa);
void swiglu_ref(const ember_swiglu_params& p);

}  // namespace ember::cpu
