// Attention forward for any head_dim up to 256, f32 or bf16 tensors, f32 arithmetic: the path of
// the fp32-compute mode and of head dims without a tensor-core kernel (the tiny test models use
// 16). Same online softmax as the flash kernel (Milakov & Gimelshein, 2018), on CUDA cores.
//
// One block = 8 consecutive queries (one per warp) of one head of one sequence. Key / value tiles
// of 32 rows are converted to f32 in shared memory (rows padded to D + 1 floats, so the lane that
// owns key j reads row j without bank conflicts); then per tile:
//   score:   lane j computes q . k_j (q broadcast from shared memory), scale, mask
//   softmax: warp max / sum over the 32 scores, rescale of the running state
//   values:  every lane owns head dims lane, lane + 32, ... and adds p_j v_j[d] for the 32 keys
//
// SelfExtend (see ember_attention_params): the block's 8 queries and the tile's 32 keys decide
// which score kinds occur (tile_score_kinds, ops/score_kinds.h: the CPU kernel's rule). Each kind
// present loads its K tile into the same shared buffer in turn and the lanes whose pair is of
// that kind take that product; a tile entirely inside or outside the window costs one pass, as
// without SelfExtend.
#include <algorithm>

#include "attention.cuh"

namespace ember::cuda {
namespace {

struct GenericParams {
    const void* q;
    const void* k;
    const void* v;
    void* o;
    int64_t q_stride, k_stride, v_stride, o_stride;
    const int32_t* cu_seqlens;
    int head_dim, group;
    float scale;
    int causal;
    // Per score kind (0 ordinary, 1 grouped past, 2 grouped future): q and k, strides.
    const void* qk_q[3];
    const void* qk_k[3];
    int64_t qk_q_stride[3], qk_k_stride[3];
    int window;       // SelfExtend window; 0: off
    int length_base;  // > 1: LongEmbed's scale x max(log_base(len), 1)
};

constexpr int kQueries = 8, kThreads = kQueries * 32, kKeys = 32;
constexpr int kMaxPerLane = kAttentionGenericMaxHeadDim / 32;

// K and V tiles, then the queries of each score kind the launch uses (1, or 3 with SelfExtend).
size_t generic_smem_bytes(int d, int kinds) {
    return (static_cast<size_t>(2 * kKeys) * (d + 1) + static_cast<size_t>(kinds) * kQueries * d) * 4;
}

template <class T>
__global__ void __launch_bounds__(kThreads) attention_generic_kernel(const GenericParams p) {
    extern __shared__ float sm[];
    const int D = p.head_dim, ld = D + 1;
    float* Ks = sm;
    float* Vs = Ks + kKeys * ld;
    float* Qs = Vs + kKeys * ld;  // kind c's queries at Qs + c * kQueries * D

    const int seq = blockIdx.z, head = blockIdx.y;
    const int start = p.cu_seqlens[seq], len = p.cu_seqlens[seq + 1] - start;
    const int q0 = blockIdx.x * kQueries;
    if (q0 >= len) return;  // uniform for the block
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int qi = q0 + warp;
    const bool valid = qi < len;
    const int q_last = min(len, q0 + kQueries) - 1;
    const int kv_head = head / p.group;
    const int n_kinds = p.window > 0 ? (p.causal ? 2 : 3) : 1;
    const float scale = length_scaled(p.scale, len, p.length_base);
    const T* v = static_cast<const T*>(p.v);

    for (int c = 0; c < n_kinds; ++c) {
        const T* q = static_cast<const T*>(p.qk_q[c]);
        for (int d = lane; d < D; d += 32)
            Qs[(c * kQueries + warp) * D + d] =
                valid ? to_f(q[static_cast<int64_t>(start + qi) * p.qk_q_stride[c] + static_cast<int64_t>(head) * D + d]) : 0.0f;
    }

    float o[kMaxPerLane];
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) o[i] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    const int kv_end = p.causal ? min(len, q0 + kQueries) : len;

    for (int kt0 = 0; kt0 < kv_end; kt0 += kKeys) {
        const int key = kt0 + lane;
        const int kinds = tile_score_kinds(p.window, p.causal != 0, q0, q_last, kt0, min(kt0 + kKeys, kv_end) - 1);
        const int mine = valid ? score_kind(qi, key, p.window) : 0;
        float sc = 0.0f;
        bool v_loaded = false;
        for (int c = 0; c < n_kinds; ++c) {
            if (!(kinds & (1 << c))) continue;  // uniform for the block
            __syncthreads();  // the previous tile (or kind) is consumed, Qs written the first time
            const T* k = static_cast<const T*>(p.qk_k[c]);
            for (int e = threadIdx.x; e < kKeys * D; e += kThreads) {
                const int r = e / D, d = e % D, kr = kt0 + r;
                const bool ok = kr < len;
                const int64_t row = start + kr;
                Ks[r * ld + d] = ok ? to_f(k[row * p.qk_k_stride[c] + static_cast<int64_t>(kv_head) * D + d]) : 0.0f;
                if (!v_loaded) Vs[r * ld + d] = ok ? to_f(v[row * p.v_stride + static_cast<int64_t>(kv_head) * D + d]) : 0.0f;
            }
            v_loaded = true;
            __syncthreads();
            if (valid && mine == (1 << c)) {
                const float* qs = Qs + (c * kQueries + warp) * D;
                float acc = 0.0f;
                for (int d = 0; d < D; ++d) acc = fmaf(qs[d], Ks[lane * ld + d], acc);
                sc = acc;
            }
        }
        if (!valid) continue;
        const bool visible = key < len && (!p.causal || key <= qi);
        sc = visible ? sc * scale : -INFINITY;
        const float m_new = fmaxf(m, warp_max(sc));
        const float ref = m_new == -INFINITY ? 0.0f : m_new;
        const float corr = expf(m - ref);  // 0 on the first tile (m = -inf)
        const float pj = visible ? expf(sc - ref) : 0.0f;
        l = l * corr + warp_sum(pj);
        m = m_new;
#pragma unroll
        for (int i = 0; i < kMaxPerLane; ++i) o[i] *= corr;
        for (int j = 0; j < kKeys; ++j) {
            const float pb = __shfl_sync(0xffffffffu, pj, j);
#pragma unroll
            for (int i = 0; i < kMaxPerLane; ++i) {
                const int d = lane + 32 * i;
                if (d < D) o[i] = fmaf(pb, Vs[j * ld + d], o[i]);
            }
        }
    }
    if (!valid) return;
    T* out = static_cast<T*>(p.o) + static_cast<int64_t>(start + qi) * p.o_stride + static_cast<int64_t>(head) * D;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < D) out[d] = from_f<T>(o[i] * inv);
    }
}

}  // namespace

ember_status attention_generic(const AttentionArgs& a, cudaStream_t stream, std::string* error) {
    GenericParams p{};
    p.q = a.q.data;
    p.k = a.k.data;
    p.v = a.v.data;
    p.o = a.out.data;
    p.q_stride = a.q.stride;
    p.k_stride = a.k.stride;
    p.v_stride = a.v.stride;
    p.o_stride = a.out.stride;
    p.head_dim = a.head_dim;
    p.group = a.n_heads / a.n_kv_heads;
    p.scale = a.scale;
    p.causal = a.causal ? 1 : 0;
    p.qk_q[0] = a.q.data;
    p.qk_k[0] = a.k.data;
    p.qk_q_stride[0] = a.q.stride;
    p.qk_k_stride[0] = a.k.stride;
    p.window = a.self_extend_window;
    if (a.self_extend_window > 0) {
        const Tensor* qs[3] = {&a.q, &a.q_group, &a.q_group_future};
        const Tensor* ks[3] = {&a.k, &a.k_group, &a.k_group_future};
        for (int c = 1; c < (a.causal ? 2 : 3); ++c) {
            p.qk_q[c] = qs[c]->data;
            p.qk_k[c] = ks[c]->data;
            p.qk_q_stride[c] = qs[c]->stride;
            p.qk_k_stride[c] = ks[c]->stride;
        }
    }
    p.length_base = a.length_scaling_base;
    EMBER_CU_REQUIRE(a.n_heads <= 65535, "attention: %d heads are more than one grid holds", a.n_heads);
    const size_t smem = generic_smem_bytes(a.head_dim, a.self_extend_window > 0 ? (a.causal ? 2 : 3) : 1);
    const unsigned q_blocks = static_cast<unsigned>(ceil_div(a.seqs.max_len, kQueries));
    return with_act_type(a.q.dtype, "attention (generic)", error, [&](auto tag) -> ember_status {
        using T = typename decltype(tag)::type;
        auto kernel = attention_generic_kernel<T>;
        EMBER_CU_TRY(allow_smem(reinterpret_cast<const void*>(kernel), smem, "attention (generic)", error));
        return launch_sequence_chunks(a.seqs, q_blocks, a.n_heads, [&](const int32_t* cu_seqlens, dim3 grid) {
            GenericParams q = p;
            q.cu_seqlens = cu_seqlens;
            kernel<<<grid, kThreads, smem, stream>>>(q);
            return launched("attention (generic)", error);
        });
    });
}

}  // namespace ember::cuda
