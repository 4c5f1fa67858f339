// Rotary position embedding on the GPU, in place on f32 or bf16 rows of n_heads * head_dim: the
// twin of ember_kernel_rope. Angles come from the cos / sin tables built by the shared
// inverse-frequency code (model/rope_freqs.cpp: every RoPE variant is decided there), so this
// kernel is variant-agnostic: pair j of a token at position p of sequence s rotates by
// cos[(first_row[s] + p) * half + j], sin[...]. Pairs (j, j + half) ("rotate half", Hugging
// Face) or (2j, 2j + 1) (interleaved, ggml). Positions are indices within the sequence, or
// index / group + offset (SelfExtend's grouped positions).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "common.cuh"

namespace ember::cuda {

// The rows of the batch (seqs.cu_seqlens[0] .. [n_seqs]) of x, heads of head_dim, the first
// 2 * table.half dims of each head rotated. Every sequence's positions must lie in the table.
ember_status rope(const Tensor& x, int32_t n_heads, int32_t head_dim, const RopeTable& table, const Seqs& seqs,
                  bool interleaved, const RopePositions& positions, cudaStream_t stream, std::string* error);

}  // namespace ember::cuda
