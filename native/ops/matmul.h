// y (+)= x W^T (+ bias) on the CPU, for f32 activations and f32 / bf16 / f16 weights
// (quantized weight types plug into the same entry point).
#pragma once

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

// Throws Error(EMBER_ERR_INVALID_ARGUMENT) when the parameters are inconsistent.
void validate(const ember_matmul_params& p);

// Optimized: SIMD (run-time dispatch AVX-512 / AVX2 / portable), multi-threaded.
void matmul(const ember_matmul_params& p, ThreadPool& pool);
// The same with the kernels built for `isa` (tests, benchmarks); throws if the CPU lacks it.
void matmul(const ember_matmul_params& p, ThreadPool& pool, Isa isa);
// Scalar twin: plain loops, double accumulation.
void matmul_ref(const ember_matmul_params& p);

}  // namespace ember::cpu
