// Row and element copies between f32 and bf16 device tensors:
//   copy_rows  dst row (dst_rows ? dst_rows[i] : i) = src row (src_rows ? src_rows[i] : i), i < n,
//              converting the element type: the twin of ember_kernel_copy_rows (Causal2Vec's
//              contextual token; bf16 hidden rows into f32 outputs). Index arrays are device
//              memory; an index outside its tensor skips the row (the callers build them).
//   convert    n contiguous elements from one type to another (f32, bf16; f16 sources too).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "common.cuh"

namespace ember::cuda {

ember_status copy_rows(const Tensor& dst, const int32_t* dst_rows, const Tensor& src, const int32_t* src_rows, int64_t n,
                       cudaStream_t stream, std::string* error);

ember_status convert(void* dst, int32_t dst_dtype, const void* src, int32_t src_dtype, int64_t n, cudaStream_t stream,
                     std::string* error);

}  // namespace ember::cuda
