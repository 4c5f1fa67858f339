// Kernel tables built with 16-lane emulated vectors on AVX2 (vec_doubled.h); use only when
// cpu_features().avx2.
#pragma once

#include "ops/attention_impl.h"
#include "ops/matmul_impl.h"
#include "ops/swiglu_impl.h"

namespace ember::test {
extern const cpu::MatmulKernels kMatmulWide;
extern const cpu::AttentionKernels kAttentionWide;
extern const cpu::SwigluKernels kSwigluWide;
}  // namespace ember::test
