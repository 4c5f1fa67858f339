// Fused attention forward over a ragged batch (flat tokens + cumulative lengths, no padding), the
// CUDA twin of ember_kernel_attention: out = softmax(q k^T * scale [+ causal mask]) v per head,
// GQA (query head h reads kv head h / (n_heads / n_kv_heads)), never an L x L buffer.
//
// Paths, picked by choose_attention (used by the launch and by the tests):
//   Flash    bf16 q, k, v, out; head_dim 64 or 128: FlashAttention-2 structure on mma.sync
//            m16n8k16 tensor cores, online softmax in f32 (attention_flash.cu).
//   Generic  any head_dim up to 256, f32 or bf16: a warp per query row, key tiles of 32 in shared
//            memory, f32 arithmetic (attention_generic.cu). The fp32-compute mode and the tiny
//            models (head_dim 16) run here.
// Both take SelfExtend (grouped-position scores beyond the window: ops/score_kinds.h) and
// LongEmbed's length scaling (length_scaling_base).
// EMBER_CUDA_ATTENTION=generic forces the generic path (diagnosis).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "common.cuh"
#include "ops/score_kinds.h"

namespace ember::cuda {

enum class AttentionPath { Flash, Generic };

const char* attention_path_name(AttentionPath p);

struct AttentionArgs {
    Tensor out, q, k, v;  // rows = tokens; q/out: n_heads * head_dim columns, k/v: n_kv_heads * head_dim
    Seqs seqs;            // cu_seqlens in device memory, its host copy for launch decisions
    int32_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
    float scale = 1.0f;
    bool causal = false;
    // SelfExtend and length scaling, as ember_attention_params describes them (window 0: off;
    // the *_future pair only for bidirectional attention).
    int32_t self_extend_window = 0;
    Tensor q_group, k_group, q_group_future, k_group_future;
    int32_t length_scaling_base = 0;
};

ember_status validate_attention(const AttentionArgs& a, std::string* error);
AttentionPath choose_attention(const AttentionArgs& a);
bool attention_path_applies(const AttentionArgs& a, AttentionPath path);
ember_status attention(const AttentionArgs& a, cudaStream_t stream, std::string* error);
ember_status attention_with(const AttentionArgs& a, AttentionPath path, cudaStream_t stream, std::string* error);

// The paths (after validation).
bool attention_flash_applies(const AttentionArgs& a);
ember_status attention_flash(const AttentionArgs& a, cudaStream_t stream, std::string* error);
ember_status attention_generic(const AttentionArgs& a, cudaStream_t stream, std::string* error);

constexpr int kAttentionGenericMaxHeadDim = 256;

// The flash kernel's tiling with SelfExtend: blocks of 64 queries, 16 per warp, key tiles of 64.
constexpr int kFlashSeBlockRows = 64, kFlashSeWarpRows = 16, kFlashKeyTile = 64;

// The flash kernel's SelfExtend tile rule (host and device, so the host tests replay it): the
// score kinds that queries [q0, q0 + rows) of a sequence of `len` tokens meet in the key tile
// [k0, k0 + bn) when keys from kv_end on are masked. Queries past the sequence are left out, so a
// warp's kinds (16 rows) are a subset of its block's (64 rows), and for the warp's queries that
// are stored, a single kind means every visible pair is of that kind.
__host__ __device__ inline int flash_tile_kinds(int window, bool causal, int len, int kv_end, int q0, int rows, int k0,
                                                int bn) {
    const int q1 = (q0 + rows < len ? q0 + rows : len) - 1, k1 = (k0 + bn < kv_end ? k0 + bn : kv_end) - 1;
    return tile_score_kinds(window, causal, q0, q1, k0, k1);
}

}  // namespace ember::cuda
