// The matmul, attention and SwiGLU kernels instantiated with Doubled<VecAvx2> (16 lanes, as on
// AVX-512), built with the AVX2 flags; entered only when the CPU has AVX2. See vec_doubled.h.
#define EMBER_MATMUL_INSTANTIATE
#define EMBER_ATTENTION_INSTANTIATE
#define EMBER_SWIGLU_INSTANTIATE
#include "ops/attention_impl.h"
#include "ops/matmul_impl.h"
#include "ops/swiglu_impl.h"
#include "vec_doubled.h"
#include "wide_kernels.h"

namespace ember::test {
extern const cpu::MatmulKernels kMatmulWide = cpu::make_matmul_kernels<cpu::Doubled<cpu::VecAvx2>>();
extern const cpu::AttentionKernels kAttentionWide = cpu::make_attention_kernels<cpu::Doubled<cpu::VecAvx2>>();
extern const cpu::SwigluKernels kSwigluWide = cpu::make_swiglu_kernels<cpu::Doubled<cpu::VecAvx2>>();
}  // namespace ember::test
