// Flash attention forward for Hopper (sm_90a): warpgroup MMAs (wgmma) read Q, K and V straight
// from shared memory; FlashAttention-3's data flow (Shah et al., "FlashAttention-3", 2024) without
// its producer warpgroup. bf16 in and out, f32 softmax and accumulators, head_dim 64 or 128,
// causal and bidirectional, GQA, LongEmbed's length scaling; SelfExtend stays on the mma.sync
// kernel (attention_flash.cu).
//
// Why: the mma.sync kernel feeds the tensor cores from registers loaded by ldmatrix and reaches
// 0.45-0.55x of PyTorch SDPA (cuDNN) on an H200; this one 0.62-0.70x (BENCHMARKS.md).
//
// One block = 128 queries of one head of one sequence: two warpgroups of 64 query rows each.
// Key / value tiles of 128 rows stream through two shared-memory stages (cp.async by all 256
// threads, zero-filled past the sequence); each step begins with a barrier once its tiles landed.
//   S = Q K_j^T     wgmma m64n128k16 x head_dim / 16, both operands K-major (head_dim contiguous)
//   softmax         mask (keys past the sequence; causal: key > query), online softmax in f32
//                   as in attention_flash.cu; the rows of a thread live in its quad
//   O += P V_j      wgmma m64n{head_dim}k16 x 8 with P from registers (S's accumulator layout is
//                   the A fragment layout, as with mma.sync) and V N-major (transposed: head_dim
//                   contiguous, keys are k), so V needs no transposing copy
// Each product is waited for in turn. FA3's intra-warpgroup overlap (the softmax of S_j while
// P_{j-1} V_{j-1} multiplies) was built and measured against this schedule on an H200: 1.01x at
// B8 S2048, 0.99x causal at S8192, so the simpler schedule stayed. Likely reason: the per-step
// barrier holds both warpgroups in step behind the cp.async loads, which leaves the overlap little
// to hide; FA3's producer warpgroup (TMA, mbarriers) and consumer ping-pong come first.
// Epilogue: O / l in bf16, staged through the warp's own Q rows for 16-byte stores.
//
// Shared memory (wgmma.cuh's layout): Q, K and V tiles in 64-column sub-tiles of the 128-byte
// swizzle; 161 KB at head_dim 128 (Q 32 KB + 2 stages x (K + V) 64 KB + 1 KB to align), 81 KB at 64.
// ptxas: no spills and no serialized wgmma (242 registers at head_dim 128, 176-178 at 64).
//
// Built for sm_90a only (cuda/CMakeLists.txt); choose_attention takes it on compute capability
// 9.0 devices wherever it applies.
#include "attention.cuh"
#include "mma.cuh"
#include "wgmma.cuh"

namespace ember::cuda {
namespace {

using namespace flash3;

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)

// S (64 x 128) = Q K^T for one warpgroup: head_dim / 16 MMAs.
template <int D>
__device__ __forceinline__ void qk(float (&s)[64], uint32_t q_tile, int q_row0, uint32_t k_tile) {
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd)
        wgmma::mma_m64n128k16_ss(s, wgmma::sw128_desc(q_tile + qk_step_offset(kBlockM, q_row0, kd)),
                                 wgmma::sw128_desc(k_tile + qk_step_offset(kBlockN, 0, kd)), kd > 0);
}

// O (64 x D) += P V: 8 MMAs over the keys; V's next 64 columns are a sub-tile further (LBO).
template <int D>
__device__ __forceinline__ void pv(float (&o)[D / 2], const uint32_t (&pa)[kBlockN / 16][4], uint32_t v_tile) {
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk) {
        const uint64_t desc = wgmma::sw128_desc(v_tile + v_step_offset(kk), kVLeadingBytes);
        if constexpr (D == 64) {
            wgmma::mma_m64n64k16_rs_tb(o, pa[kk], desc);
        } else {
            wgmma::mma_m64n128k16_rs_tb(o, pa[kk], desc);
        }
    }
}

#endif

template <int D, bool CAUSAL>
__global__ void __launch_bounds__(kThreads, 1) flash3_fwd_kernel(const FlashParams p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int kChunks = D / 8;         // 16-byte chunks per row
    constexpr int NS = kBlockN / 8;        // n8 column groups of S (4 accumulators each)
    constexpr int NO = D / 8;              // n8 column groups of O
    constexpr int KK = kBlockN / 16;       // k16 steps of P V
    constexpr int kQBytes = tile_bytes(kBlockM, D), kKvBytes = tile_bytes(kBlockN, D);
    static_assert(D == 64 || D == 128, "head_dim 64 or 128");

    extern __shared__ uint8_t smem_raw[];
    uint8_t* const smem = smem_raw + ((1024 - (mma::smem_addr(smem_raw) & 1023)) & 1023);
    uint8_t* const Qs = smem;  // then per stage s: K at kv(s), V at kv(s) + kKvBytes
    auto kv = [&](int s) { return smem + kQBytes + s * 2 * kKvBytes; };

    const QueryBlock qb = query_block<CAUSAL>(p.cu_seqlens, kBlockM);
    const int start = qb.start, len = qb.len, m0 = qb.m0, head = blockIdx.y;
    if (m0 >= len) return;  // uniform for the block, before any barrier
    const int kv_head = head / p.group;
    const int tid = threadIdx.x, wg = tid / 128, warp = (tid % 128) / 32, lane = tid % 32;
    const int g = lane >> 2, t = lane & 3;
    const float scale_log2 = length_scaled(p.scale_log2, len, p.length_base);

    const bf16* const qg = p.q[0] + static_cast<int64_t>(start) * p.q_stride[0] + static_cast<int64_t>(head) * D;
    const bf16* const kg = p.k[0] + static_cast<int64_t>(start) * p.k_stride[0] + static_cast<int64_t>(kv_head) * D;
    const bf16* const vg = p.v + static_cast<int64_t>(start) * p.v_stride + static_cast<int64_t>(kv_head) * D;

    // 128 rows from row r0 of a [token][D] matrix into a swizzled tile; rows past the sequence are
    // zero-filled (their scores are masked, and a zero V row keeps 0 * V finite).
    auto load = [&](uint8_t* dst, const bf16* src, int64_t stride, int r0) {
#pragma unroll
        for (int i = 0; i < kBlockM * kChunks / kThreads; ++i) {
            const int c = tid + i * kThreads, row = c / kChunks, chunk = c % kChunks;
            const bool ok = r0 + row < len;
            mma::cp_async16(dst + tile_offset(kBlockM, row, chunk), src + static_cast<int64_t>(ok ? r0 + row : 0) * stride + chunk * 8,
                            ok);
        }
    };
    static_assert(kBlockM == kBlockN, "one loader for Q, K and V tiles");

    const int kv_end = CAUSAL ? min(len, m0 + kBlockM) : len;
    const int n_blocks = (kv_end + kBlockN - 1) / kBlockN;
    const int wrow0 = m0 + wg * 64 + warp * 16;  // this warp's first row; a thread's rows: wrow0 + g (+ 8)

    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] = 0.0f;
    float row_m[2] = {-INFINITY, -INFINITY}, row_l[2] = {0.0f, 0.0f};  // row_l: this thread's columns only
    const uint32_t q_tile = mma::smem_addr(Qs);
    auto k_tile = [&](int j) { return kv(j & 1); };
    auto v_tile = [&](int j) { return kv(j & 1) + kKvBytes; };

    // S accumulator 4 i + e: row wrow0 + g (+ 8 for e >= 2), key n0 + 8 i + 2 t (+ 1 for odd e).
    // Masks S_j, updates the running max and sum, turns S into P (exp2, not yet rounded) and
    // returns each row's correction of the O accumulated so far in corr.
    auto softmax = [&](float (&s)[64], int j, float (&corr)[2]) {
        const int n0 = j * kBlockN;
        if (n0 + kBlockN > len || (CAUSAL && n0 + kBlockN - 1 > wrow0)) {
#pragma unroll
            for (int i = 0; i < NS; ++i)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int key = n0 + 8 * i + 2 * t + (e & 1), row = wrow0 + g + 8 * (e >> 1);
                    if (key >= len || (CAUSAL && key > row)) s[4 * i + e] = -INFINITY;
                }
        }
        // r = 0 is row wrow0 + g, r = 1 row wrow0 + g + 8; a row's 128 scores live in the 4
        // threads of a quad.
        float mx[2] = {row_m[0], row_m[1]};
#pragma unroll
        for (int i = 0; i < NS; ++i) {
            mx[0] = fmaxf(mx[0], fmaxf(s[4 * i], s[4 * i + 1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[4 * i + 2], s[4 * i + 3]));
        }
        float base[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            // As in attention_flash.cu: exactly 1 when the max did not move; 0 while row_m is -inf.
            const float m_new = mx[r] == -INFINITY ? 0.0f : mx[r];
            base[r] = m_new * scale_log2;
            corr[r] = exp2f((row_m[r] - m_new) * scale_log2);
            row_m[r] = mx[r];
        }
        float rs[2] = {0.0f, 0.0f};
#pragma unroll
        for (int i = 0; i < NS; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                s[4 * i + e] = exp2f(fmaf(s[4 * i + e], scale_log2, -base[e >> 1]));  // masked: exp2(-inf) = 0
                rs[e >> 1] += s[4 * i + e];
            }
#pragma unroll
        for (int r = 0; r < 2; ++r) row_l[r] = row_l[r] * corr[r] + rs[r];
    };
    auto rescale = [&](const float (&corr)[2]) {
#pragma unroll
        for (int i = 0; i < NO; ++i) {
            o[4 * i] *= corr[0];
            o[4 * i + 1] *= corr[0];
            o[4 * i + 2] *= corr[1];
            o[4 * i + 3] *= corr[1];
        }
    };
    // P as A fragments: groups 2 kk and 2 kk + 1 of S are the A layout of k16 step kk
    // (a0 = row g keys 2t.., a1 = row g + 8, a2 = row g keys 8 + 2t.., a3 = row g + 8).
    auto pack = [&](const float (&s)[64], uint32_t (&pa)[KK][4]) {
#pragma unroll
        for (int kk = 0; kk < KK; ++kk) {
            pa[kk][0] = mma::pack_bf16(s[8 * kk], s[8 * kk + 1]);
            pa[kk][1] = mma::pack_bf16(s[8 * kk + 2], s[8 * kk + 3]);
            pa[kk][2] = mma::pack_bf16(s[8 * kk + 4], s[8 * kk + 5]);
            pa[kk][3] = mma::pack_bf16(s[8 * kk + 6], s[8 * kk + 7]);
        }
    };
    // Tile j's copies (and whatever was issued with them) landed, visible to the tensor cores.
    auto tile_barrier = [] {
        mma::cp_async_wait<0>();
        wgmma::fence_proxy_async();  // this thread's copies, visible to the async proxy
        __syncthreads();             // everyone's copies; every warpgroup is past its last wait
    };

    float s[64];
    uint32_t pa[KK][4];
    float corr[2];
    // Per key tile: S, softmax, P V, each waited for; K_{j+1} and V_{j+1} load meanwhile.
    load(Qs, qg, p.q_stride[0], m0);
    load(k_tile(0), kg, p.k_stride[0], 0);
    load(v_tile(0), vg, p.v_stride, 0);
    mma::cp_async_commit();
    for (int j = 0; j < n_blocks; ++j) {
        tile_barrier();  // tile j in; everyone is done with tile j - 1, whose stage j + 1 takes
        if (j + 1 < n_blocks) {
            load(k_tile(j + 1), kg, p.k_stride[0], (j + 1) * kBlockN);
            load(v_tile(j + 1), vg, p.v_stride, (j + 1) * kBlockN);
        }
        mma::cp_async_commit();
        wgmma::fence();
        qk<D>(s, q_tile, wg * 64, mma::smem_addr(k_tile(j)));
        wgmma::commit();
        wgmma::wait<0>();
        wgmma::pin(s);
        softmax(s, j, corr);
        rescale(corr);
        pack(s, pa);
        wgmma::fence();  // o and pa were written by ordinary instructions
        pv<D>(o, pa, mma::smem_addr(v_tile(j)));
        wgmma::commit();
        wgmma::wait<0>();
        wgmma::pin(o);
        wgmma::pin(pa);
    }
    mma::cp_async_wait<0>();

    // Epilogue: the warp's 16 x D outputs, staged in its own 16 Q rows (only its warpgroup's
    // MMAs read them, and those are complete), then 16-byte stores.
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float l = row_l[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[r] = l > 0.0f ? 1.0f / l : 0.0f;
    }
    const int srow = wg * 64 + warp * 16;  // the warp's first row within the tile
#pragma unroll
    for (int i = 0; i < NO; ++i)
#pragma unroll
        for (int r = 0; r < 2; ++r)
            *reinterpret_cast<uint32_t*>(Qs + tile_offset(kBlockM, srow + g + 8 * r, i) + 4 * t) =
                mma::pack_bf16(o[4 * i + 2 * r] * inv[r], o[4 * i + 2 * r + 1] * inv[r]);
    __syncwarp();
    bf16* const og = p.o + static_cast<int64_t>(start) * p.o_stride + static_cast<int64_t>(head) * D;
#pragma unroll
    for (int i = 0; i < 16 * kChunks / 32; ++i) {
        const int c = lane + i * 32, r = c / kChunks, chunk = c % kChunks;
        const int row = wrow0 + r;
        if (row < len)
            *reinterpret_cast<uint4*>(og + static_cast<int64_t>(row) * p.o_stride + chunk * 8) =
                *reinterpret_cast<const uint4*>(Qs + tile_offset(kBlockM, srow + r, chunk));
    }
#endif
}

template <int D, bool CAUSAL>
ember_status launch(const FlashParams& p, const Seqs& seqs, int n_heads, cudaStream_t stream, std::string* error) {
    auto kernel = flash3_fwd_kernel<D, CAUSAL>;
    constexpr size_t smem = smem_bytes(D);
    EMBER_CU_TRY(allow_smem(reinterpret_cast<const void*>(kernel), smem, "attention (wgmma)", error));
    const unsigned m_blocks = static_cast<unsigned>(ceil_div(seqs.max_len, kBlockM));
    return launch_sequence_chunks(seqs, m_blocks, n_heads, [&](const int32_t* cu_seqlens, dim3 grid) {
        FlashParams q = p;
        q.cu_seqlens = cu_seqlens;
        kernel<<<grid, kThreads, smem, stream>>>(q);
        return launched("attention (wgmma)", error);
    });
}

}  // namespace

bool attention_wgmma_applies(const AttentionArgs& a) {
    if (a.head_dim != 64 && a.head_dim != 128) return false;
    if (a.self_extend_window > 0) return false;  // SelfExtend: the mma.sync kernel
    if (a.n_heads > 65535 || a.seqs.max_len > (int64_t(1) << 30)) return false;
    for (const Tensor* t : {&a.q, &a.k, &a.v, &a.out})
        if (!bf16_rows_16b(*t)) return false;
    if (smem_bytes(a.head_dim) > smem_optin_limit()) return false;
    return compute_capability() == 90;  // sm_90a machine code runs on 9.0 only
}

ember_status attention_wgmma(const AttentionArgs& a, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(attention_wgmma_applies(a), "attention: the wgmma path does not apply to these operands");
    const FlashParams p = flash_params(a);
    using Launch = ember_status (*)(const FlashParams&, const Seqs&, int, cudaStream_t, std::string*);
    static constexpr Launch kLaunch[2][2] = {{launch<64, false>, launch<64, true>}, {launch<128, false>, launch<128, true>}};
    return kLaunch[a.head_dim == 128][a.causal](p, a.seqs, a.n_heads, stream, error);
}

}  // namespace ember::cuda
