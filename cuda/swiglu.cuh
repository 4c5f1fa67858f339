// SwiGLU on the GPU: out = silu(gate) * up, the CUDA twin of ember_kernel_swiglu.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "ember/kernels.h"

namespace ember::cuda {

// Queues the kernel on `stream`. The pointers in `p` are device memory. Returns EMBER_OK, or
// EMBER_ERR_INVALID_ARGUMENT for bad sizes / strides / null pointers, or EMBER_ERR_INTERNAL when
// the launch fails; then `error` (may be null) receives the reason. Never aborts.
ember_status swiglu(const ember_swiglu_params& p, cudaStream_t stream, std::string* error);

}  // namespace ember::cuda
