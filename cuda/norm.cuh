// Row normalizations on the GPU, f32 arithmetic over f32 or bf16 rows:
//   rmsnorm      y = x / sqrt(mean(x^2) + eps) * weight, optionally after x += residual (in
//                place, the pre-norm residual stream): the twin of ember_kernel_rmsnorm. y may be x.
//   layernorm    y = (x - mean) / sqrt(var + eps) * weight (+ bias), biased variance, two passes
//                (no E[x^2] - E[x]^2 cancellation): the twin of ember_kernel_layernorm. y may be x.
//   l2_normalize x /= max(||x||, 1e-12) per row of f32 (the embedding output).
// Rows up to 1024 wide get a warp each (Qwen3's per-head q/k norm: rows of 128); wider rows a
// block of 256 threads.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "common.cuh"

namespace ember::cuda {

ember_status rmsnorm(const Tensor& x, const Tensor* residual, const float* weight, float eps, const Tensor& y,
                     cudaStream_t stream, std::string* error);

ember_status layernorm(const Tensor& x, const float* weight, const float* bias, float eps, const Tensor& y,
                       cudaStream_t stream, std::string* error);

ember_status l2_normalize(const Tensor& x, cudaStream_t stream, std::string* error);

}  // namespace ember::cuda
