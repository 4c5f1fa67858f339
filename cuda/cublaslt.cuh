// cuBLASLt, loaded at run time with dlopen when present (the build machines have no cuBLAS
// headers, and Ember must not need the library): an optional fast path for bf16 matmuls
// (EMBER_CUBLASLT=1) and the reference the benchmarks compare the hand-written kernels with.
// The library is looked for as $EMBER_CUBLASLT_LIB, then libcublasLt.so.13 on the loader path.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "matmul.cuh"

namespace ember::cuda::lt {

// Whether libcublasLt could be loaded (tried once per process); `why` says why not.
bool available(std::string* why = nullptr);

// bf16 x, W and y, no bias (accumulate allowed): the shapes cuBLASLt is asked to do.
bool applies(const MatmulArgs& a);

// y (+)= x W^T through cublasLtMatmul on `stream`. Per-shape descriptors and the heuristic's
// algorithm are cached; each stream gets its own 32 MiB workspace (kept until the process ends),
// except while the stream is being captured into a CUDA graph: recorded matmuls take none.
ember_status matmul(const MatmulArgs& a, cudaStream_t stream, std::string* error);

}  // namespace ember::cuda::lt
