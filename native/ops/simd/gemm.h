// The register-blocked GEMM building blocks shared by matmul and attention:
//   micro:      C[R x NR] (+)= A[R x kc] * B[kc x NR], R <= kMR rows, NR = 2 vectors.
//   pack_panel: NR rows of a weight matrix (k contiguous) -> a kc x NR panel (the B operand),
//               converted to float.
// A is read in place (row-major, any row stride) by broadcasting one element per row and k step;
// B is read as NR contiguous floats per k step (a packed panel, or rows of a row-major tile such
// as attention's copy of V). The accumulators (kMR x 2 vectors) stay in registers for the whole kc
// loop: 12 of the 16 AVX2 / SSE registers, 12 of the 32 AVX-512 ones. One k step is 2 loads,
// kMR broadcasts and 2 * kMR FMAs, which keeps both FMA pipes of Zen 3 / Skylake busy. After the
// BLIS micro-kernel design (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly Instantiating
// BLAS Functionality", 2015; the 6x16 AVX2 shape is BLIS's Haswell/Zen choice).
#pragma once

#include "ops/simd/vec.h"

namespace ember::cpu {
namespace {

constexpr int kMR = 6;  // rows of A per micro-kernel call

template <class V>
struct Gemm {
    using T = typename V::T;
    static constexpr int NR = 2 * V::W;

    // c[r * ldc + j] (=|+=) sum_p a[r * lda + p] * b[p * ldb + j] (+ bias[j]) for r < R,
    // j < ncols (<= NR). b must hold NR readable floats per k step; c and bias are only touched
    // in their first ncols columns.
    template <int R>
    static void micro(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb,
                      float* c, int64_t ldc, int64_t ncols, bool add, const float* bias) {
        T acc0[R], acc1[R];
        const float* ar[R];
#pragma GCC unroll 6
        for (int r = 0; r < R; ++r) {
            acc0[r] = V::zero();
            acc1[r] = V::zero();
            ar[r] = a + r * lda;
            // C is read only after the k loop; start fetching it now (it is often in L3 by then).
            _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + ncols - 1), _MM_HINT_T0);
        }
#pragma GCC unroll 4
        for (int64_t p = 0; p < kc; ++p) {
            const T b0 = V::load(b);
            const T b1 = V::load(b + V::W);
            b += ldb;
#pragma GCC unroll 6
            for (int r = 0; r < R; ++r) {
                const T x = V::broadcast(ar[r] + p);
                acc0[r] = V::fmadd(x, b0, acc0[r]);
                acc1[r] = V::fmadd(x, b1, acc1[r]);
            }
        }
        if (ncols == NR) {
            T bias0 = V::zero(), bias1 = V::zero();
            if (bias != nullptr) {
                bias0 = V::load(bias);
                bias1 = V::load(bias + V::W);
            }
#pragma GCC unroll 6
            for (int r = 0; r < R; ++r) {
                float* cr = c + r * ldc;
                T v0 = acc0[r], v1 = acc1[r];
                if (add) {
                    v0 = V::add(V::load(cr), v0);
                    v1 = V::add(V::load(cr + V::W), v1);
                }
                if (bias != nullptr) {
                    v0 = V::add(v0, bias0);
                    v1 = V::add(v1, bias1);
                }
                V::store(cr, v0);
                V::store(cr + V::W, v1);
            }
        } else {  // right edge: go through a buffer so nothing past ncols is read or written
            // (Every loop over r is unrolled: indexing the accumulators with a run-time r would
            // move them to the stack for the whole kernel.)
            alignas(64) float tmp[R][NR];
#pragma GCC unroll 6
            for (int r = 0; r < R; ++r) {
                V::store(tmp[r], acc0[r]);
                V::store(tmp[r] + V::W, acc1[r]);
            }
            for (int r = 0; r < R; ++r) {
                float* cr = c + r * ldc;
                for (int64_t j = 0; j < ncols; ++j) {
                    float v = tmp[r][j];
                    if (add) v = cr[j] + v;
                    if (bias != nullptr) v += bias[j];
                    cr[j] = v;
                }
            }
        }
    }

    // micro<R> for a run-time row count 1..kMR.
    static void micro_rows(int64_t rows, int64_t kc, const float* a, int64_t lda, const float* b,
                           int64_t ldb, float* c, int64_t ldc, int64_t ncols, bool add,
                           const float* bias) {
        switch (rows) {
            case 1: micro<1>(kc, a, lda, b, ldb, c, ldc, ncols, add, bias); break;
            case 2: micro<2>(kc, a, lda, b, ldb, c, ldc, ncols, add, bias); break;
            case 3: micro<3>(kc, a, lda, b, ldb, c, ldc, ncols, add, bias); break;
            case 4: micro<4>(kc, a, lda, b, ldb, c, ldc, ncols, add, bias); break;
            case 5: micro<5>(kc, a, lda, b, ldb, c, ldc, ncols, add, bias); break;
            default: micro<kMR>(kc, a, lda, b, ldb, c, ldc, ncols, add, bias); break;
        }
    }

    // C[rows x ncols] (=|+=) A[rows x kc] * B where B is given as NR-wide panels: the panel for
    // columns [j, j + NR) starts at b + (j / NR) * panel_stride and has rows ldb floats apart.
    static void block(int64_t rows, int64_t kc, const float* a, int64_t lda, const float* b,
                      int64_t panel_stride, int64_t ldb, float* c, int64_t ldc, int64_t ncols,
                      bool add, const float* bias) {
        for (int64_t j = 0; j < ncols; j += NR) {
            const float* bp = b + (j / NR) * panel_stride;
            const float* bj = bias != nullptr ? bias + j : nullptr;
            const int64_t nc = imin(NR, ncols - j);
            for (int64_t i = 0; i < rows; i += kMR)
                micro_rows(imin(kMR, rows - i), kc, a + i * lda, lda, bp, ldb, c + i * ldc + j, ldc,
                           nc, add, bj);
        }
    }

    // dst[p * NR + c] = float(W[c][k0 + p]) for p < kc, c < NR, where row c of W starts at
    // w + c * row_bytes; rows c >= ncols are zeros. Reads only elements [k0, k0 + kc) of rows
    // < ncols. Transposes P::W x P::W blocks in registers.
    template <class Fmt>
    static void pack_panel(const unsigned char* w, int64_t row_bytes, int64_t ncols, int64_t k0,
                           int64_t kc, float* dst) {
        using P = typename V::Pack;
        using PT = typename P::T;
        constexpr int B = P::W;
        static_assert(NR % B == 0, "panel width must be a multiple of the transpose block");
        for (int c0 = 0; c0 < NR; c0 += B) {
            const unsigned char* rows[B];
            for (int t = 0; t < B; ++t) rows[t] = c0 + t < ncols ? w + (c0 + t) * row_bytes : nullptr;
            int64_t p = 0;
            for (; p + B <= kc; p += B) {
                PT r[B];
                for (int t = 0; t < B; ++t)
                    r[t] = rows[t] != nullptr ? Fmt::template load<P>(rows[t], k0 + p) : P::zero();
                P::transpose(r);
                for (int t = 0; t < B; ++t) P::store(dst + (p + t) * NR + c0, r[t]);
            }
            if (p < kc) {
                PT r[B];
                for (int t = 0; t < B; ++t)
                    r[t] = rows[t] != nullptr ? load_partial<P, Fmt>(rows[t], k0 + p, kc - p) : P::zero();
                P::transpose(r);
                for (int t = 0; t < kc - p; ++t) P::store(dst + (p + t) * NR + c0, r[t]);
            }
        }
    }
};

}  // namespace
}  // namespace ember::cpu
