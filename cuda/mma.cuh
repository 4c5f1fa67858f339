// Tensor-core building blocks for sm_80+ (also run on sm_90): cp.async global -> shared copies,
// ldmatrix fragment loads, and mma.sync m16n8k16 with bf16 inputs and f32 accumulators.
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16 with floating point type"); in
// a warp, g = lane / 4 and t = lane % 4:
//   A (16 x 16, row major), 4 registers of 2 bf16:
//     a0: row g,     cols 2t, 2t+1        a1: row g + 8, cols 2t, 2t+1
//     a2: row g,     cols 2t+8, 2t+9      a3: row g + 8, cols 2t+8, 2t+9
//   B (16 x 8, "col": element (k, n)), 2 registers:
//     b0: k 2t, 2t+1, col g               b1: k 2t+8, 2t+9, col g
//   C / D (16 x 8, f32), 4 registers:
//     c0, c1: row g, cols 2t, 2t+1        c2, c3: row g + 8, cols 2t, 2t+1
// The lower column (or k) index of a pair sits in the low 16 bits of its register.
//
// ldmatrix.x4 loads four 8 x 8 b16 matrices; lanes 8i .. 8i+7 give the row addresses of matrix
// i (16 contiguous bytes each), and register i of lane L receives matrix i's row L / 4, elements
// 2 (L % 4) and 2 (L % 4) + 1. With .trans it receives the transpose: elements (2 (L % 4), L / 4)
// and (2 (L % 4) + 1, L / 4). The *_lane_* helpers below give each lane's row and column for the
// three uses in Ember's kernels; cuda/tests/test_cuda_host.cu replays them against the rules
// above on the host.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace ember::cuda::mma {

// --- Which element of a tile each lane points ldmatrix at -------------------------------------

// A operand, 16 x 16 at (row0, col0) of a row-major [row][k] tile: registers a0..a3.
__host__ __device__ constexpr int a_lane_row(int lane) { return lane % 16; }
__host__ __device__ constexpr int a_lane_col(int lane) { return (lane / 16) * 8; }

// B operand from a [n][k] tile (k contiguous: weights W[n][k], keys K[key][d]): two n8 tiles of a
// 16 (n) x 16 (k) block. Registers r0, r1 = b0, b1 of n-tile 0 (n 0..7); r2, r3 = b0, b1 of
// n-tile 1 (n 8..15).
__host__ __device__ constexpr int bnk_lane_row(int lane) { return (lane % 8) + (lane / 16) * 8; }
__host__ __device__ constexpr int bnk_lane_col(int lane) { return ((lane / 8) % 2) * 8; }

// B operand from a [k][n] tile (n contiguous: values V[key][d]) with ldmatrix.trans: a 16 (k) x
// 16 (n) block. Registers r0, r1 = b0, b1 of n-tile 0 (n 0..7); r2, r3 = those of n-tile 1.
__host__ __device__ constexpr int bkn_lane_row(int lane) { return (lane % 8) + ((lane / 8) % 2) * 8; }
__host__ __device__ constexpr int bkn_lane_col(int lane) { return (lane / 16) * 8; }

#ifdef __CUDACC__

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy; when `valid` is false the 16 destination bytes are zero-filled and nothing
// is read (src must still be a valid address expression; callers pass a clamped one).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    const int src_bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem), "r"(src_bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(smem)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(smem)));
}

// d += a * b, bf16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as a bf16 pair: `lo` in the low half (the lower column index).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
}

// 16 floats as bf16 in two 16-byte vectors, lowest index first (a decoded run of weights).
__device__ __forceinline__ void pack_bf16x16(const float (&f)[16], uint4 (&v)[2]) {
    v[0] = make_uint4(pack_bf16(f[0], f[1]), pack_bf16(f[2], f[3]), pack_bf16(f[4], f[5]), pack_bf16(f[6], f[7]));
    v[1] = make_uint4(pack_bf16(f[8], f[9]), pack_bf16(f[10], f[11]), pack_bf16(f[12], f[13]), pack_bf16(f[14], f[15]));
}

// The matmul epilogues' bias for output columns col and col + 1 (0 without a bias, and for
// col + 1 past the edge when `two` is false).
__device__ __forceinline__ float2 bias_pair(const float* bias, int col, bool two) {
    if (bias == nullptr) return make_float2(0.0f, 0.0f);
    return make_float2(bias[col], two ? bias[col + 1] : 0.0f);
}

// The matmul epilogues' store of one accumulator pair at yp (bf16 y, column col; col + 1 only when
// `two`): y = v (+ the old y when accumulating), rounded once.
__device__ __forceinline__ void store_pair(__nv_bfloat16* yp, float v0, float v1, bool two, bool accumulate) {
    if (two) {
        if (accumulate) {
            const __nv_bfloat162 old = *reinterpret_cast<const __nv_bfloat162*>(yp);
            v0 += __low2float(old);
            v1 += __high2float(old);
        }
        *reinterpret_cast<uint32_t*>(yp) = pack_bf16(v0, v1);
    } else {
        if (accumulate) v0 += __bfloat162float(*yp);
        *yp = __float2bfloat16_rn(v0);
    }
}

#endif  // __CUDACC__

}  // namespace ember::cuda::mma
