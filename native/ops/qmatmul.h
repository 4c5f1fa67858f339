// y (+)= x W^T (+ bias) on the CPU for GGUF-quantized weights (Q8_0, Q4_0, Q4_K, Q6_K) and f32
// activations: the entry the dense matmul (ops/matmul.h) forwards quantized w_dtype values to.
//
// The fast path quantizes the activations per 32-block to int8 (float scale, round to nearest)
// and computes integer dot products (AVX-512 VNNI vpdpbusd or AVX2 maddubs/madd, run-time
// dispatch; a portable scalar path otherwise), multi-threaded over output columns. See
// ops/qmatmul_impl.h for the scheme.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

// True for the weight types qmatmul computes with (the quantized ember_dtype values).
bool qmatmul_supports(int32_t dtype);

// Throws Error(EMBER_ERR_INVALID_ARGUMENT) when the parameters are inconsistent (null pointers,
// sizes, strides, k not a whole number of blocks, unsupported type).
void qmatmul_validate(const ember_matmul_params& p);

// Optimized: int8 activations, SIMD, threads of `pool`.
void qmatmul(const ember_matmul_params& p, ThreadPool& pool);
// The same on an explicit SIMD level (tests and benchmarks): Avx512 runs the VNNI kernel when
// the CPU has VNNI and the AVX2 one otherwise; a level above active_isa() is lowered to it.
void qmatmul(const ember_matmul_params& p, ThreadPool& pool, Isa isa);

// Scalar twin: each weight row dequantized to float (quant::dequantize_row), dot products with
// the EXACT float activations accumulated in double. The fast path differs from it by the
// activation quantization (relative error about 1e-3 of the output scale on random data) plus
// float rounding; tests bound both (native/tests/test_qmatmul.cpp).
void qmatmul_ref(const ember_matmul_params& p);

}  // namespace ember::cpu
