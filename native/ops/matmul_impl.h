// Matmul kernels as templates over the vector traits, instantiated once per ISA:
// matmul.cpp (SSE2, portable), matmul_avx2.cpp, matmul_avx512.cpp. matmul.cpp validates, plans
// the tiles and runs them on the thread pool; the per-ISA code only computes. See ops/simd/vec.h
// for the rules that keep the per-ISA copies apart.
//
// Two kernels:
// - gemm (most shapes): BLIS-style loops per output tile [m0, m1) x [n0, n1):
//     for each kc block of k (kMatmulKc, so a panel of B stays in L1 across the micro-kernel
//     calls that reuse it): pack W's rows [n0, n1) x [k0, k0 + kc) into NR-wide float panels
//     (bf16 / f16 converted once here), then for each block of kMatmulMc rows of x (kept in L2)
//     and each panel, run the micro-kernel down the rows. y is written on the first kc block
//     (or added to, with accumulate) and the bias added on the last.
// - gemv (up to 8 rows, memory-bound; the choice is plan_matmul in matmul.cpp): dot products of
//     up to 4 rows of x against 3 rows of W at a time, converting weights on the fly, so W streams
//     from memory once (the other row groups find those 3 rows in L1).
#pragma once

#include <cstdint>

#include "ember/kernels.h"

namespace ember {
class ThreadPool;  // declared, not included: this header reaches the SIMD files (ops/simd/vec.h)
}

namespace ember::cpu {

constexpr int64_t kMatmulKc = 256;  // k block: a 16-wide panel is 16 KiB; a multiple of 256 so
                                    // quantized blocks (32, 256 weights) never straddle blocks
constexpr int64_t kMatmulMc = 144;  // rows of x per L2 block (144 x 256 floats = 144 KiB)

struct MatmulKernels {
    const char* name;
    int nr;  // panel width in floats (2 vectors)
    // y[m0:m1, n0:n1] by packed GEMM; scratch: round_up(n1 - n0, nr) * kMatmulKc floats.
    void (*gemm)(const ember_matmul_params& p, int64_t row_bytes, int64_t m0, int64_t m1,
                 int64_t n0, int64_t n1, float* scratch);
    // y[0:m, n0:n1] by dot products (small m).
    void (*gemv)(const ember_matmul_params& p, int64_t row_bytes, int64_t n0, int64_t n1);
    // dst[i] = float(src[i]) for n weights of `dtype` (test hook for the vector conversions).
    void (*convert)(int32_t dtype, const void* src, float* dst, int64_t n);
};

extern const MatmulKernels kMatmulSse;
extern const MatmulKernels kMatmulAvx2;
extern const MatmulKernels kMatmulAvx512;

// matmul() with a given kernel table (the caller checked the CPU runs it).
void matmul_with(const ember_matmul_params& p, ThreadPool& pool, const MatmulKernels& kernels);

}  // namespace ember::cpu

#ifdef EMBER_MATMUL_INSTANTIATE  // defined by the files that instantiate the kernels

#include "ops/simd/gemm.h"

namespace ember::cpu {
namespace {

template <class V>
struct Matmul {
    using T = typename V::T;
    using G = Gemm<V>;
    static constexpr int NR = G::NR;

    template <class Fmt>
    static void gemm_tile(const ember_matmul_params& p, int64_t row_bytes, int64_t m0, int64_t m1,
                          int64_t n0, int64_t n1, float* bpack) {
        const unsigned char* w = static_cast<const unsigned char*>(p.w);
        const int64_t ncols = n1 - n0;
        for (int64_t k0 = 0; k0 < p.k; k0 += kMatmulKc) {
            const int64_t kc = imin(kMatmulKc, p.k - k0);
            const bool add = k0 > 0 || p.accumulate != 0;
            const float* bias = k0 + kc == p.k && p.bias != nullptr ? p.bias + n0 : nullptr;
            for (int64_t j = 0; j < ncols; j += NR)
                G::template pack_panel<Fmt>(w + (n0 + j) * row_bytes, row_bytes, imin(NR, ncols - j),
                                            k0, kc, bpack + (j / NR) * kc * NR);
            for (int64_t i0 = m0; i0 < m1; i0 += kMatmulMc) {
                const int64_t rows = imin(kMatmulMc, m1 - i0);
                G::block(rows, kc, p.x + i0 * p.x_stride + k0, p.x_stride, bpack, kc * NR, NR,
                         p.y + i0 * p.y_stride + n0, p.y_stride, ncols, add, bias);
            }
        }
    }

    // y[r, j0 + c] for r < R, c < ncols (<= kC): R rows of x dotted with kC rows of W.
    static constexpr int kC = 3;
    template <class Fmt, int R>
    static void dot_tile(const ember_matmul_params& p, const float* x, const unsigned char* w,
                         int64_t row_bytes, int64_t j0, int64_t ncols, float* y) {
        const unsigned char* wr[kC];
        for (int c = 0; c < kC; ++c)  // columns past the edge re-read row j0; results dropped
            wr[c] = w + (j0 + (c < ncols ? c : 0)) * row_bytes;
        T acc[R][kC];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
            for (int c = 0; c < kC; ++c) acc[r][c] = V::zero();
        const int64_t k = p.k;
        int64_t i = 0;
        for (; i + V::W <= k; i += V::W) {
            T wv[kC];
#pragma GCC unroll 3
            for (int c = 0; c < kC; ++c) wv[c] = Fmt::template load<V>(wr[c], i);
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
                const T xv = V::load(x + r * p.x_stride + i);
#pragma GCC unroll 3
                for (int c = 0; c < kC; ++c) acc[r][c] = V::fmadd(xv, wv[c], acc[r][c]);
            }
        }
        if (i < k) {
            T wv[kC];
            for (int c = 0; c < kC; ++c) wv[c] = load_partial<V, Fmt>(wr[c], i, k - i);
            for (int r = 0; r < R; ++r) {
                const T xv = load_partial<V, FmtF32>(x + r * p.x_stride, i, k - i);
                for (int c = 0; c < kC; ++c) acc[r][c] = V::fmadd(xv, wv[c], acc[r][c]);
            }
        }
        for (int r = 0; r < R; ++r) {
            float* yr = y + r * p.y_stride + j0;
            for (int c = 0; c < ncols; ++c) {
                float v = V::hsum(acc[r][c]);
                if (p.accumulate) v = yr[c] + v;
                if (p.bias != nullptr) v += p.bias[j0 + c];
                yr[c] = v;
            }
        }
    }

    template <class Fmt>
    static void gemv_cols(const ember_matmul_params& p, int64_t row_bytes, int64_t n0, int64_t n1) {
        const unsigned char* w = static_cast<const unsigned char*>(p.w);
        for (int64_t j = n0; j < n1; j += kC) {
            const int64_t nc = imin(kC, n1 - j);
            for (int64_t i = 0; i < p.m; i += 4) {
                const float* x = p.x + i * p.x_stride;
                float* y = p.y + i * p.y_stride;
                switch (imin(4, p.m - i)) {
                    case 1: dot_tile<Fmt, 1>(p, x, w, row_bytes, j, nc, y); break;
                    case 2: dot_tile<Fmt, 2>(p, x, w, row_bytes, j, nc, y); break;
                    case 3: dot_tile<Fmt, 3>(p, x, w, row_bytes, j, nc, y); break;
                    default: dot_tile<Fmt, 4>(p, x, w, row_bytes, j, nc, y); break;
                }
            }
        }
    }

    template <class Fmt>
    static void convert_fmt(const void* src, float* dst, int64_t n) {
        int64_t i = 0;
        for (; i + V::W <= n; i += V::W) V::store(dst + i, Fmt::template load<V>(src, i));
        if (i < n) {
            alignas(64) float tmp[V::W];
            V::store(tmp, load_partial<V, Fmt>(src, i, n - i));
            store_partial_floats(dst + i, tmp, n - i);
        }
    }

    static void gemm(const ember_matmul_params& p, int64_t row_bytes, int64_t m0, int64_t m1,
                     int64_t n0, int64_t n1, float* scratch) {
        with_format(p.w_dtype, [&](auto fmt) { gemm_tile<decltype(fmt)>(p, row_bytes, m0, m1, n0, n1, scratch); });
    }
    static void gemv(const ember_matmul_params& p, int64_t row_bytes, int64_t n0, int64_t n1) {
        with_format(p.w_dtype, [&](auto fmt) { gemv_cols<decltype(fmt)>(p, row_bytes, n0, n1); });
    }
    static void convert(int32_t dtype, const void* src, float* dst, int64_t n) {
        with_format(dtype, [&](auto fmt) { convert_fmt<decltype(fmt)>(src, dst, n); });
    }
};

}  // namespace
}  // namespace ember::cpu

namespace ember::cpu {
namespace {
// The table for traits V. A constant expression, so the tables are static data: no code runs
// when the library loads.
template <class V>
constexpr MatmulKernels make_matmul_kernels() {
    return {V::kName, Matmul<V>::NR, &Matmul<V>::gemm, &Matmul<V>::gemv, &Matmul<V>::convert};
}
}  // namespace
}  // namespace ember::cpu

#endif  // EMBER_MATMUL_INSTANTIATE
