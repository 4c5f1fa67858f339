// Gated activations on the GPU, elementwise over rows: SwiGLU (out = silu(gate) * up, the twin of
// ember_kernel_swiglu) and GELU / GEGLU (out = gelu(gate) [* up], exact erf form, the twin of
// ember_kernel_gelu). f32 or bf16 rows (one dtype for all three tensors); out may alias gate or
// up. Rows are processed 16 bytes at a time when every stride and pointer allows it.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "common.cuh"

namespace ember::cuda {

ember_status swiglu(const Tensor& out, const Tensor& gate, const Tensor& up, cudaStream_t stream, std::string* error);

// `up` may be null (plain GELU).
ember_status gelu(const Tensor& out, const Tensor& gate, const Tensor* up, cudaStream_t stream, std::string* error);

// The f32 struct form (pointers are device memory): INVALID_ARGUMENT for bad sizes, strides or
// null pointers, INTERNAL when the launch fails. Never aborts.
ember_status swiglu(const ember_swiglu_params& p, cudaStream_t stream, std::string* error);

}  // namespace ember::cuda
