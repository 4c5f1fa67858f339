// Fused (flash-style) attention over a ragged batch: tiles of keys, online softmax, never an
// L x L buffer. Causal and bidirectional, GQA.
#pragma once

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_attention_params& p);
void attention(const ember_attention_params& p, ThreadPool& pool);
// The same with the kernels built for `isa` (tests, benchmarks); throws if the CPU lacks it.
// out must not overlap q, k or v.
void attention(const ember_attention_params& p, ThreadPool& pool, Isa isa);
// Scalar twin: per query row, full score row in double, exact softmax.
void attention_ref(const ember_attention_params& p);

}  // namespace ember::cpu
