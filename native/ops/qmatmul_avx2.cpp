// AVX2 variant of the quantized matmul (see ops/qmatmul_impl.h): activation quantization, weight
// panel packing (decode 32 weights per column into a register, then an 8x8 transpose of 32-bit
// groups) and the MR x 8 micro-kernel on vpmaddubsw / vpmaddwd. Compiled with -mavx2 -mfma; only
// entered after the run-time CPU check. Like every *_avx2 / *_avx512 file it defines no weak or
// inline-shared symbols (no throwing, no inline functions from other headers' namespaces): the
// linker could otherwise pick this file's AVX copy for baseline callers. Dtypes are the ones
// qmatmul_supports() accepts, checked by the caller.
#include <immintrin.h>

#include <cstring>

#include "ops/qmatmul_impl.h"
#include "quant/quants.h"  // constants only

namespace ember::cpu::qmm {

namespace {

inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

inline int32_t hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

inline int32_t load_i32(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// ---- weight decoding: 32 quant bytes of block b of one row, and the raw scale fields of
// column j into Scales (converted 8 columns at a time by block_scales).

struct Scales {
    alignas(32) uint16_t d[8];      // f16 scale (Q4_K: of the sub-block scales)
    alignas(32) uint16_t dmin[8];   // f16 (Q4_K: scale of the mins)
    alignas(32) int32_t s_lo[8];    // integer scale of the first / second 16 elements
    alignas(32) int32_t s_hi[8];
    alignas(32) int32_t m[8];       // Q4_K 6-bit min
};

inline uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

inline __m256i decode_q8_0(const uint8_t* row, int64_t b, Q8Mode mode, Scales& s, int j) {
    const uint8_t* blk = row + b * 34;
    s.d[j] = load_u16(blk);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    return mode == Q8Mode::Offset ? _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))) : v;
}

inline __m256i decode_q4_0(const uint8_t* row, int64_t b, Scales& s, int j) {
    const uint8_t* blk = row + b * 18;
    s.d[j] = load_u16(blk);
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i mask = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(q, mask), hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

inline __m256i decode_q4_k(const uint8_t* row, int64_t b, Scales& s, int j) {
    const uint8_t* blk = row + (b / 8) * 144;
    const int sb = static_cast<int>(b % 8);
    s.d[j] = load_u16(blk);
    s.dmin[j] = load_u16(blk + 2);
    const uint8_t* sm = blk + 4;  // quant::q4k_scale_min, kept local to this file (see the header comment)
    if (sb < 4) {
        s.s_lo[j] = s.s_hi[j] = sm[sb] & 63;
        s.m[j] = sm[sb + 4] & 63;
    } else {
        s.s_lo[j] = s.s_hi[j] = (sm[sb + 4] & 0xF) | ((sm[sb - 4] >> 6) << 4);
        s.m[j] = (sm[sb + 4] >> 4) | ((sm[sb] >> 6) << 4);
    }
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + (sb / 2) * 32));
    const __m256i mask = _mm256_set1_epi8(0x0F);
    return (sb & 1) ? _mm256_and_si256(_mm256_srli_epi16(q, 4), mask) : _mm256_and_si256(q, mask);
}

inline __m256i decode_q6_k(const uint8_t* row, int64_t b, Scales& s, int j) {
    const uint8_t* blk = row + (b / 8) * 210;
    const int sb = static_cast<int>(b % 8);
    const int half = sb / 4, quarter = sb % 4;
    s.d[j] = load_u16(blk + 208);
    s.s_lo[j] = static_cast<int8_t>(blk[192 + 2 * sb]);
    s.s_hi[j] = static_cast<int8_t>(blk[192 + 2 * sb + 1]);
    const __m256i mask = _mm256_set1_epi8(0x0F);
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * half + (quarter & 1) * 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * half));
    const __m256i low4 = quarter < 2 ? _mm256_and_si256(ql, mask) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), mask);
    const __m256i high2 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * quarter)), _mm256_set1_epi8(3));
    return _mm256_or_si256(low4, _mm256_slli_epi16(high2, 4));
}

inline __m256i decode(int32_t dtype, Q8Mode q8, const uint8_t* row, int64_t b, Scales& s, int j) {
    switch (dtype) {
        case EMBER_DTYPE_Q8_0: return decode_q8_0(row, b, q8, s, j);
        case EMBER_DTYPE_Q4_0: return decode_q4_0(row, b, s, j);
        case EMBER_DTYPE_Q4_K: return decode_q4_k(row, b, s, j);
        default: return decode_q6_k(row, b, s, j);
    }
}

// a_lo, a_hi, c_lo, c_hi of 8 columns (see qmatmul_impl.h), stored `nr` floats apart.
inline void block_scales(int32_t dtype, Q8Mode q8, const Scales& s, float* f, int nr) {
    const __m256 d = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(s.d)));
    __m256 a_lo = d, a_hi = d, c_lo, c_hi;
    switch (dtype) {
        case EMBER_DTYPE_Q8_0:
            c_lo = c_hi = q8 == Q8Mode::Offset ? _mm256_mul_ps(d, _mm256_set1_ps(-128.0f)) : _mm256_setzero_ps();
            break;
        case EMBER_DTYPE_Q4_0: c_lo = c_hi = _mm256_mul_ps(d, _mm256_set1_ps(-8.0f)); break;
        case EMBER_DTYPE_Q4_K: {
            const __m256 dmin = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(s.dmin)));
            a_lo = a_hi = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(s.s_lo))));
            c_lo = c_hi = _mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), dmin),
                                        _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(s.m))));
            break;
        }
        default:  // Q6_K
            a_lo = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(s.s_lo))));
            a_hi = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(s.s_hi))));
            c_lo = _mm256_mul_ps(a_lo, _mm256_set1_ps(-32.0f));
            c_hi = _mm256_mul_ps(a_hi, _mm256_set1_ps(-32.0f));
            break;
    }
    _mm256_storeu_ps(f, a_lo);
    _mm256_storeu_ps(f + nr, a_hi);
    _mm256_storeu_ps(f + 2 * nr, c_lo);
    _mm256_storeu_ps(f + 3 * nr, c_hi);
}

// v[j] holds 8 dwords (steps t = 0..7) of column j; afterwards v[t] holds dword t of columns 0..7.
inline void transpose8x8_epi32(__m256i v[8]) {
    const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    const __m256i t4 = _mm256_unpacklo_epi32(v[4], v[5]), t5 = _mm256_unpackhi_epi32(v[4], v[5]);
    const __m256i t6 = _mm256_unpacklo_epi32(v[6], v[7]), t7 = _mm256_unpackhi_epi32(v[6], v[7]);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    v[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    v[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    v[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    v[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    v[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    v[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    v[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    v[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

// ---- micro-kernels: MR activation rows x one 8-column panel, all nb blocks.

enum Kind { kQ8Signed, kQ4, kQ6 };

template <int MR, Kind K>
void tile(const uint8_t* panel, int64_t nb, const int8_t* const* xq, const float* const* xm, float* out) {
    constexpr int NR = 8;
    constexpr int64_t BB = packed_block_bytes(NR);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
    const int8_t* xr[MR];
    const float* mr[MR];
    for (int i = 0; i < MR; ++i) {
        xr[i] = xq[i];
        mr[i] = xm[i];
    }
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* q = panel + b * BB;
        const float* f = reinterpret_cast<const float*>(q + 32 * NR);
        if constexpr (K == kQ8Signed) {
            // |w| * sign(x, w): maddubs needs one unsigned side; pairs stay below 2*128*127.
            __m256i isum[MR];
            for (int i = 0; i < MR; ++i) isum[i] = _mm256_setzero_si256();
            for (int t = 0; t < 8; ++t) {
                const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 32 * t));
                const __m256i wa = _mm256_abs_epi8(w);
                for (int i = 0; i < MR; ++i) {
                    const __m256i xv = _mm256_set1_epi32(load_i32(xr[i] + 4 * t));
                    const __m256i p = _mm256_maddubs_epi16(wa, _mm256_sign_epi8(xv, w));
                    isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(p, ones));
                }
            }
            const __m256 a = _mm256_load_ps(f);
            for (int i = 0; i < MR; ++i)
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i]), _mm256_mul_ps(_mm256_set1_ps(mr[i][0]), a), acc[i]);
        } else if constexpr (K == kQ4) {
            // Nibbles (<= 15) times int8: eight maddubs results add up to at most 8*2*15*127 < 2^15.
            __m256i s16[MR];
            for (int i = 0; i < MR; ++i) s16[i] = _mm256_setzero_si256();
            for (int t = 0; t < 8; ++t) {
                const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 32 * t));
                for (int i = 0; i < MR; ++i) {
                    const __m256i xv = _mm256_set1_epi32(load_i32(xr[i] + 4 * t));
                    s16[i] = _mm256_add_epi16(s16[i], _mm256_maddubs_epi16(w, xv));
                }
            }
            const __m256 a = _mm256_load_ps(f), c = _mm256_load_ps(f + 2 * NR);
            for (int i = 0; i < MR; ++i) {
                const __m256 isum = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16[i], ones));
                acc[i] = _mm256_fmadd_ps(isum, _mm256_mul_ps(_mm256_set1_ps(mr[i][0]), a), acc[i]);
                acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(mr[i][3]), c, acc[i]);
            }
        } else {
            // 6-bit quants (<= 63): two maddubs results add up to at most 2*2*63*127 < 2^15. Each
            // 16-element half has its own scale.
            for (int h = 0; h < 2; ++h) {
                __m256i isum[MR];
                for (int i = 0; i < MR; ++i) isum[i] = _mm256_setzero_si256();
                for (int t = 4 * h; t < 4 * h + 4; t += 2) {
                    const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 32 * t));
                    const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 32 * t + 32));
                    for (int i = 0; i < MR; ++i) {
                        const __m256i x0 = _mm256_set1_epi32(load_i32(xr[i] + 4 * t));
                        const __m256i x1 = _mm256_set1_epi32(load_i32(xr[i] + 4 * t + 4));
                        const __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(w0, x0), _mm256_maddubs_epi16(w1, x1));
                        isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(s, ones));
                    }
                }
                const __m256 a = _mm256_load_ps(f + h * NR), c = _mm256_load_ps(f + (2 + h) * NR);
                for (int i = 0; i < MR; ++i) {
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i]), _mm256_mul_ps(_mm256_set1_ps(mr[i][0]), a),
                                             acc[i]);
                    acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(mr[i][1 + h]), c, acc[i]);
                }
            }
        }
        for (int i = 0; i < MR; ++i) {
            xr[i] += kBlock;
            mr[i] += quant::kActMeta;
        }
    }
    for (int i = 0; i < MR; ++i) _mm256_storeu_ps(out + i * NR, acc[i]);
}

// ---- few rows: dot products straight from the GGUF blocks (no panel packing), each column's
// 32-block decoded once and used for every row. Partial sums stay in 8 lanes until the end.

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

template <int MR>
void gemv_cols(int32_t dtype, const uint8_t* w, int64_t row_bytes, int64_t j0, int64_t j1, int64_t nb,
               const int8_t* const* xq, const float* const* xm, float* out, int64_t out_stride) {
    const __m256i ones = _mm256_set1_epi16(1);
    Scales s;
    std::memset(&s, 0, sizeof(s));
    for (int64_t j = j0; j < j1; ++j) {
        const uint8_t* row = w + j * row_bytes;
        __m256 acc[MR];
        float cacc[MR];
        for (int i = 0; i < MR; ++i) {
            acc[i] = _mm256_setzero_ps();
            cacc[i] = 0.0f;
        }
        for (int64_t b = 0; b < nb; ++b) {
            const __m256i v = decode(dtype, Q8Mode::Signed, row, b, s, 0);
            const float d = h2f(s.d[0]);
            if (dtype == EMBER_DTYPE_Q8_0) {
                const __m256i va = _mm256_abs_epi8(v);
                for (int i = 0; i < MR; ++i) {
                    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[i] + b * kBlock));
                    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(va, _mm256_sign_epi8(x, v)), ones);
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * xm[i][quant::kActMeta * b]), acc[i]);
                }
            } else if (dtype == EMBER_DTYPE_Q6_K) {
                const float a_lo = d * s.s_lo[0], a_hi = d * s.s_hi[0];
                for (int i = 0; i < MR; ++i) {
                    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[i] + b * kBlock));
                    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(v, x), ones);
                    const float dx = xm[i][quant::kActMeta * b];
                    // int32 lanes 0-3 hold elements 0-15, lanes 4-7 elements 16-31.
                    const __m256 sc = _mm256_setr_ps(a_lo * dx, a_lo * dx, a_lo * dx, a_lo * dx, a_hi * dx, a_hi * dx,
                                                     a_hi * dx, a_hi * dx);
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), sc, acc[i]);
                    cacc[i] -= 32.0f * (a_lo * xm[i][quant::kActMeta * b + 1] + a_hi * xm[i][quant::kActMeta * b + 2]);
                }
            } else {  // Q4_0, Q4_K
                float a = d, c = -8.0f * d;
                if (dtype == EMBER_DTYPE_Q4_K) {
                    a = d * static_cast<float>(s.s_lo[0]);
                    c = (0.0f - h2f(s.dmin[0])) * static_cast<float>(s.m[0]);
                }
                for (int i = 0; i < MR; ++i) {
                    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[i] + b * kBlock));
                    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(v, x), ones);
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(a * xm[i][quant::kActMeta * b]), acc[i]);
                    cacc[i] += c * (xm[i][quant::kActMeta * b + 3]);
                }
            }
        }
        for (int i = 0; i < MR; ++i) out[i * out_stride + (j - j0)] = hsum8(acc[i]) + cacc[i];
    }
}

template <Kind K>
void tile_rows(const uint8_t* panel, int64_t nb, const int8_t* const* xq, const float* const* xm, int rows, float* out) {
    switch (rows) {
        case 4: tile<4, K>(panel, nb, xq, xm, out); break;
        case 3: tile<3, K>(panel, nb, xq, xm, out); break;
        case 2: tile<2, K>(panel, nb, xq, xm, out); break;
        default: tile<1, K>(panel, nb, xq, xm, out); break;
    }
}

}  // namespace

void quantize_acts_avx2(const float* x, int64_t k, int8_t* q, float* meta) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b = 0; b < k / kBlock; ++b) {
        const float* xb = x + b * kBlock;
        __m256 v[4];
        for (int j = 0; j < 4; ++j) v[j] = _mm256_loadu_ps(xb + 8 * j);
        __m256 am = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                  _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
        const float amax = hmax8(am);
        const float d = amax / 127.0f;
        const __m256 id = _mm256_set1_ps(d != 0.0f ? 127.0f / amax : 0.0f);
        __m256i iv[4];
        for (int j = 0; j < 4; ++j) iv[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], id));
        const int32_t sum_lo = hsum8i(_mm256_add_epi32(iv[0], iv[1]));
        const int32_t sum_hi = hsum8i(_mm256_add_epi32(iv[2], iv[3]));
        const __m256i p01 = _mm256_packs_epi32(iv[0], iv[1]), p23 = _mm256_packs_epi32(iv[2], iv[3]);
        const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), perm);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * kBlock), bytes);
        float* mb = meta + quant::kActMeta * b;
        mb[0] = d;
        mb[1] = d * static_cast<float>(sum_lo);
        mb[2] = d * static_cast<float>(sum_hi);
        mb[3] = mb[1] + mb[2];
    }
}

namespace {

// The decoder chosen once per panel, not per block.
template <int32_t kDtype>
void pack_panel_t(Q8Mode q8, const uint8_t* w, int64_t row_bytes, int ncols, int nr, int lane0, int64_t nb,
                  uint8_t* out) {
    const int64_t bb = packed_block_bytes(nr);
    __m256i v[8];
    Scales s;
    std::memset(&s, 0, sizeof(s));  // columns past ncols keep zero scales
    for (int64_t b = 0; b < nb; ++b) {
        for (int j = 0; j < 8; ++j)
            v[j] = j < ncols ? decode(kDtype, q8, w + j * row_bytes, b, s, j) : _mm256_setzero_si256();
        transpose8x8_epi32(v);
        uint8_t* blk = out + b * bb;
        for (int t = 0; t < 8; ++t)
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + t * 4 * nr + lane0 * 4), v[t]);
        block_scales(kDtype, q8, s, reinterpret_cast<float*>(blk + 32 * nr) + lane0, nr);
    }
}

}  // namespace

void pack_panel_avx2(int32_t dtype, Q8Mode q8, const uint8_t* w, int64_t row_bytes, int ncols, int nr, int lane0,
                     int64_t nb, uint8_t* out) {
    switch (dtype) {
        case EMBER_DTYPE_Q8_0: pack_panel_t<EMBER_DTYPE_Q8_0>(q8, w, row_bytes, ncols, nr, lane0, nb, out); break;
        case EMBER_DTYPE_Q4_0: pack_panel_t<EMBER_DTYPE_Q4_0>(q8, w, row_bytes, ncols, nr, lane0, nb, out); break;
        case EMBER_DTYPE_Q4_K: pack_panel_t<EMBER_DTYPE_Q4_K>(q8, w, row_bytes, ncols, nr, lane0, nb, out); break;
        default: pack_panel_t<EMBER_DTYPE_Q6_K>(q8, w, row_bytes, ncols, nr, lane0, nb, out); break;
    }
}

void tile_avx2(int32_t dtype, const uint8_t* panel, int64_t nb, const int8_t* const* xq, const float* const* xm,
               int rows, float* out) {
    switch (dtype) {
        case EMBER_DTYPE_Q8_0: tile_rows<kQ8Signed>(panel, nb, xq, xm, rows, out); break;
        case EMBER_DTYPE_Q6_K: tile_rows<kQ6>(panel, nb, xq, xm, rows, out); break;
        default: tile_rows<kQ4>(panel, nb, xq, xm, rows, out); break;  // Q4_0, Q4_K
    }
}

void gemv_avx2(int32_t dtype, const uint8_t* w, int64_t row_bytes, int64_t j0, int64_t j1, int64_t nb,
               const int8_t* const* xq, const float* const* xm, int rows, float* out, int64_t out_stride) {
    switch (rows) {
        case 4: gemv_cols<4>(dtype, w, row_bytes, j0, j1, nb, xq, xm, out, out_stride); break;
        case 3: gemv_cols<3>(dtype, w, row_bytes, j0, j1, nb, xq, xm, out, out_stride); break;
        case 2: gemv_cols<2>(dtype, w, row_bytes, j0, j1, nb, xq, xm, out, out_stride); break;
        default: gemv_cols<1>(dtype, w, row_bytes, j0, j1, nb, xq, xm, out, out_stride); break;
    }
}

}  // namespace ember::cpu::qmm
