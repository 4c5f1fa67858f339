// Input embeddings on the GPU:
//   embed_rows  out row t = table row ids[t], decoded (f32, f16, bf16, Q8_0, Q4_K, Q6_K) and
//               rounded to the output dtype (f32 or bf16). Ids are checked on the host before
//               upload (model.cpp check_batch); an id outside the table writes a zero row here.
//   embed_abs   BERT: out row t = (word[ids[t]] + token_type[0]) + position[t - start of its
//               sequence], in f32, rounded once: the twin of ember_kernel_embed_abs.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "common.cuh"

namespace ember::cuda {

// `ids` (device memory) holds out.rows ids.
ember_status embed_rows(const Tensor& out, const Weight& table, const int32_t* ids, cudaStream_t stream, std::string* error);

ember_status embed_abs(const Tensor& out, const AbsEmbedTables& tables, const int32_t* ids, const Seqs& seqs,
                       cudaStream_t stream, std::string* error);

}  // namespace ember::cuda
