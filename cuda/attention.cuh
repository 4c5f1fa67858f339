// Fused attention forward over a ragged batch (flat tokens + cumulative lengths, no padding), the
// CUDA twin of ember_kernel_attention: out = softmax(q k^T * scale [+ causal mask]) v per head,
// GQA (query head h reads kv head h / (n_heads / n_kv_heads)), never an L x L buffer.
//
// Paths, picked by choose_attention (used by the launch and by the tests):
//   Flash    bf16 q, k, v, out; head_dim 64 or 128: FlashAttention-2 structure on mma.sync
//            m16n8k16 tensor cores, online softmax in f32 (attention_flash.cu).
//   Wgmma    the same operands on Hopper (compute capability 9.0): FlashAttention-3's data flow
//            on warpgroup MMAs (attention_wgmma.cu, sm_90a); no SelfExtend. Taken before Flash
//            wherever it applies.
//   Generic  any head_dim up to 256, f32 or bf16: a warp per query row, key tiles of 32 in shared
//            memory, f32 arithmetic (attention_generic.cu). The fp32-compute mode and the tiny
//            models (head_dim 16) run here.
// Flash and Generic take SelfExtend (grouped-position scores beyond the window:
// ops/score_kinds.h); all three take LongEmbed's length scaling (length_scaling_base).
// EMBER_CUDA_ATTENTION=generic forces the generic path, =flash keeps Hopper on the mma.sync
// kernel (diagnosis, the benchmark's flash rows).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/backend.h"
#include "common.cuh"
#include "ops/score_kinds.h"
#include "wgmma.cuh"

namespace ember::cuda {

enum class AttentionPath { Flash, Wgmma, Generic };

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
bool attention_wgmma_applies(const AttentionArgs& a);
ember_status attention_wgmma(const AttentionArgs& a, cudaStream_t stream, std::string* error);
ember_status attention_generic(const AttentionArgs& a, cudaStream_t stream, std::string* error);

constexpr int kAttentionGenericMaxHeadDim = 256;

// A sequence's score scale under LongEmbed's length scaling (base > 1): scale x max(log_base(len),
// 1); the scale itself otherwise.
__host__ __device__ inline float length_scaled(float scale, int len, int base) {
    return base > 1 && len > 1 ? scale * fmaxf(logf(float(len)) / logf(float(base)), 1.0f) : scale;
}

#ifdef __CUDACC__
// The query rows a tensor-core attention block owns: sequence blockIdx.z, rows [m0, m0 + rows)
// of it for block blockIdx.x; causal grids run the last blocks (the most keys) first, for a
// better tail. m0 >= len: nothing to do (the whole block returns, before any barrier).
struct QueryBlock {
    int start, len, m0;
};
template <bool CAUSAL>
__device__ __forceinline__ QueryBlock query_block(const int32_t* cu_seqlens, int rows) {
    const int seq = blockIdx.z;
    const int start = cu_seqlens[seq];
    const int m_block = CAUSAL ? static_cast<int>(gridDim.x) - 1 - static_cast<int>(blockIdx.x) : static_cast<int>(blockIdx.x);
    return QueryBlock{start, cu_seqlens[seq + 1] - start, m_block * rows};
}
#endif

// The tensor-core kernels' parameters (flash and wgmma), filled once from AttentionArgs by
// flash_params (attention_flash.cu).
struct FlashParams {
    // Q and K of each score kind (0 ordinary, 1 grouped past, 2 grouped future; 1 and 2 only
    // with SelfExtend, which only the flash kernel takes) and their row strides.
    const bf16* q[3];
    const bf16* k[3];
    int64_t q_stride[3], k_stride[3];
    const bf16* v;
    bf16* o;
    int64_t v_stride, o_stride;
    const int32_t* cu_seqlens;
    int group;         // query heads per kv head
    float scale_log2;  // scale * log2(e)
    int length_base;   // > 1: LongEmbed's scale x max(log_base(len), 1)
    int window;        // SelfExtend's window (0: off)
};
FlashParams flash_params(const AttentionArgs& a);

// A bf16 operand the tensor-core kernels copy with 16-byte cp.async: aligned data and rows.
inline bool bf16_rows_16b(const Tensor& t) { return t.dtype == EMBER_DTYPE_BF16 && aligned_to(t.data, 16) && t.stride % 8 == 0; }

// The attention kernels' grids are (query blocks, heads, sequences). grid.z holds at most 65535
// sequences, so a batch launches in chunks: launch_chunk(cu_seqlens of the chunk's first sequence,
// grid) for each; the first failure ends it.
template <typename LaunchChunk>
ember_status launch_sequence_chunks(const Seqs& seqs, unsigned q_blocks, int n_heads, LaunchChunk&& launch_chunk) {
    constexpr int kMaxGridZ = 65535;
    for (int s0 = 0; s0 < seqs.n_seqs; s0 += kMaxGridZ) {
        const dim3 grid(q_blocks, static_cast<unsigned>(n_heads), static_cast<unsigned>(std::min(kMaxGridZ, seqs.n_seqs - s0)));
        EMBER_CU_TRY(launch_chunk(seqs.cu_seqlens + s0, grid));
    }
    return EMBER_OK;
}

// The wgmma kernel's tiling (attention_wgmma.cu; host and device, so the host tests check the
// layout): blocks of 128 queries (two warpgroups of 64) against key tiles of 128, Q, K and V tiles
// in 64-column sub-tiles of wgmma.cuh's 128-byte swizzle, K and V in two stages.
namespace flash3 {
constexpr int kBlockM = 128, kBlockN = 128, kThreads = 256, kStages = 2;
__host__ __device__ constexpr int tile_bytes(int rows, int d) { return rows * d * 2; }
// Byte offset of 16-byte chunk `chunk` (0 .. d / 8) of row `row` in a tile of `rows` rows.
__host__ __device__ constexpr int tile_offset(int rows, int row, int chunk) {
    return (chunk / 8) * rows * 128 + wgmma::sw128_offset(row, chunk % 8);
}
// Descriptor starts, relative to a tile: Q or K (K-major) at k16 step kd over head_dim, from row
// row0 (a warpgroup's 64 query rows); V (N-major) at k16 step kk over the keys, whose next 64
// head_dim columns lie one sub-tile (kVLeadingBytes) further.
__host__ __device__ constexpr uint32_t qk_step_offset(int rows, int row0, int kd) {
    return static_cast<uint32_t>((kd / 4) * rows * 128 + row0 * 128 + (kd % 4) * 32);
}
__host__ __device__ constexpr uint32_t v_step_offset(int kk) { return static_cast<uint32_t>(kk * 16 * 128); }
constexpr uint32_t kVLeadingBytes = kBlockN * 128;
constexpr size_t smem_bytes(int d) {
    return static_cast<size_t>(tile_bytes(kBlockM, d) + kStages * 2 * tile_bytes(kBlockN, d)) + 1024;  // + alignment
}
}  // namespace flash3

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
