// AVX-512 VNNI variant of the quantized matmul (see ops/qmatmul_impl.h): the MR x 16 micro-kernel
// on vpdpbusd (unsigned weight bytes times signed activation bytes, four products summed into each
// int32 lane without saturation). Structurally the AVX2 kernel with 16 columns per register and
// one instruction per multiply-add step; panels are packed by the AVX2 decoder (Q8_0 offset to
// unsigned, corrected by c = -128 d). Compiled with the AVX-512 flags; only entered when the CPU
// reports AVX-512 F/BW/DQ/VL and VNNI. No weak / shared symbols here (see qmatmul_avx2.cpp).
#include <immintrin.h>

// GCC 12 reports _mm512_cvtepi32_ps's internal _mm512_undefined_ps() as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstring>

#include "ops/qmatmul_impl.h"
#include "quant/quants.h"

namespace ember::cpu::qmm {

namespace {

inline int32_t load_i32(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

template <int MR, bool kSplit>
void tile(const uint8_t* panel, int64_t nb, const int8_t* const* xq, const float* const* xm, float* out) {
    constexpr int NR = 16;
    constexpr int64_t BB = packed_block_bytes(NR);
    __m512 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
    const int8_t* xr[MR];
    const float* mr[MR];
    for (int i = 0; i < MR; ++i) {
        xr[i] = xq[i];
        mr[i] = xm[i];
    }
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* q = panel + b * BB;
        const float* f = reinterpret_cast<const float*>(q + 32 * NR);
        if constexpr (!kSplit) {
            __m512i isum[MR];
            for (int i = 0; i < MR; ++i) isum[i] = _mm512_setzero_si512();
            for (int t = 0; t < 8; ++t) {
                const __m512i w = _mm512_load_si512(q + 64 * t);
                for (int i = 0; i < MR; ++i)
                    isum[i] = _mm512_dpbusd_epi32(isum[i], w, _mm512_set1_epi32(load_i32(xr[i] + 4 * t)));
            }
            const __m512 a = _mm512_load_ps(f), c = _mm512_load_ps(f + 2 * NR);
            for (int i = 0; i < MR; ++i) {
                acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(_mm512_set1_ps(mr[i][0]), a), acc[i]);
                acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(mr[i][3]), c, acc[i]);
            }
        } else {
            for (int h = 0; h < 2; ++h) {
                __m512i isum[MR];
                for (int i = 0; i < MR; ++i) isum[i] = _mm512_setzero_si512();
                for (int t = 4 * h; t < 4 * h + 4; ++t) {
                    const __m512i w = _mm512_load_si512(q + 64 * t);
                    for (int i = 0; i < MR; ++i)
                        isum[i] = _mm512_dpbusd_epi32(isum[i], w, _mm512_set1_epi32(load_i32(xr[i] + 4 * t)));
                }
                const __m512 a = _mm512_load_ps(f + h * NR), c = _mm512_load_ps(f + (2 + h) * NR);
                for (int i = 0; i < MR; ++i) {
                    acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(_mm512_set1_ps(mr[i][0]), a),
                                             acc[i]);
                    acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(mr[i][1 + h]), c, acc[i]);
                }
            }
        }
        for (int i = 0; i < MR; ++i) {
            xr[i] += kBlock;
            mr[i] += quant::kActMeta;
        }
    }
    for (int i = 0; i < MR; ++i) _mm512_storeu_ps(out + i * NR, acc[i]);
}

template <bool kSplit>
void tile_rows(const uint8_t* panel, int64_t nb, const int8_t* const* xq, const float* const* xm, int rows, float* out) {
    switch (rows) {
        case 8: tile<8, kSplit>(panel, nb, xq, xm, out); break;
        case 7: tile<7, kSplit>(panel, nb, xq, xm, out); break;
        case 6: tile<6, kSplit>(panel, nb, xq, xm, out); break;
        case 5: tile<5, kSplit>(panel, nb, xq, xm, out); break;
        case 4: tile<4, kSplit>(panel, nb, xq, xm, out); break;
        case 3: tile<3, kSplit>(panel, nb, xq, xm, out); break;
        case 2: tile<2, kSplit>(panel, nb, xq, xm, out); break;
        default: tile<1, kSplit>(panel, nb, xq, xm, out); break;
    }
}

}  // namespace

void tile_avx512(int32_t dtype, const uint8_t* panel, int64_t nb, const int8_t* const* xq, const float* const* xm,
                 int rows, float* out) {
    switch (dtype) {
        case EMBER_DTYPE_Q6_K: tile_rows<true>(panel, nb, xq, xm, rows, out); break;
        default: tile_rows<false>(panel, nb, xq, xm, rows, out); break;  // Q8_0 (offset), Q4_0, Q4_K
    }
}

}  // namespace ember::cpu::qmm
