// Pooling on the GPU: each sequence's rows of a ragged batch into one f32 vector (LAST: its last
// row, CLS: its first, MEAN: the mean from pool_start on), the twin of ember_kernel_pool. The
// mean is accumulated in double, as the CPU twin does.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "common.cuh"

namespace ember::cuda {

// out: n_seqs rows of x.cols f32 (stride out.stride); pool_start in device memory or null.
// pool_start values were checked on the host (model.cpp check_batch).
ember_status pool(const Tensor& out, const Tensor& x, const Seqs& seqs, const int32_t* pool_start, int32_t mode,
                  cudaStream_t stream, std::string* error);

}  // namespace ember::cuda
