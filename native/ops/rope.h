// Rotary position embedding applied in place from precomputed cos/sin tables
// (tables come from model/rope_freqs, the one place inverse frequencies are computed).
#pragma once

#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_rope_params& p);
void rope(const ember_rope_params& p, ThreadPool& pool);
void rope_ref(const ember_rope_params& p);

}  // namespace ember::cpu
