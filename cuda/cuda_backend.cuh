// The CUDA backend factory (cuda_backend.cpp) and its precision modes.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace ember::cuda {

enum class Precision {
    Fast,  // bf16 activations, f32 accumulation, tensor cores
    Fp32   // f32 activations and arithmetic (the 1e-4 golden check)
};

// EMBER_CUDA_PRECISION: unset / "fast" / "bf16" -> Fast, "fp32" / "f32" -> Fp32, anything else
// INVALID_ARGUMENT.
Precision precision_from_env();

// EMBER_CUDA_GRAPHS: unset / "1" / "on" -> true (Backend::record makes CUDA graphs), "0" / "off"
// -> false, anything else INVALID_ARGUMENT.
bool graphs_from_env();

// EMBER_CUBLASLT: "1" / "on" -> true (bf16 matmuls through cuBLASLt where it loads), unset / "0" /
// "off" -> false, anything else INVALID_ARGUMENT.
bool cublaslt_from_env();

struct Settings {
    Precision precision = Precision::Fast;
    bool graphs = true;
    bool cublaslt = false;
};

// ember_load_options' CUDA settings where set, else the environment's (the *_from_env above).
Settings resolve_settings(const CudaSettings& requested);

// Throws BACKEND_UNAVAILABLE for devices older than sm_80.
std::unique_ptr<Backend> make_backend(int device, const Settings& settings);

}  // namespace ember::cuda
