// GELU (exact erf form) and GEGLU: out = gelu(gate) [* up] (see ember_gelu_params).
#pragma once

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_gelu_params& p);
void gelu(const ember_gelu_params& p, ThreadPool& pool);
// The same with the kernels built for `isa` (tests, benchmarks); throws if the CPU lacks it.
void gelu(const ember_gelu_params& p, ThreadPool& pool, Isa isa);
// Scalar twin: double precision with std::erfc.
void gelu_ref(const ember_gelu_params& p);

}  // namespace ember::cpu
