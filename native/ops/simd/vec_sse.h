// SSE2 traits: the portable path (baseline x86-64). See vec.h for the rules.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ember::cpu {
namespace {

struct VecSse {
    using T = __m128;
    using I = __m128i;
    using M = __m128;  // lane mask
    // Vector type of the W x W transposes that pack weight panels (see gemm.h).
    using Pack = VecSse;
    static constexpr int W = 4;
    static constexpr const char* kName = "sse2";

    static T zero() { return _mm_setzero_ps(); }
    static T set1(float v) { return _mm_set1_ps(v); }
    static T load(const float* p) { return _mm_loadu_ps(p); }
    static void store(float* p, T v) { _mm_storeu_ps(p, v); }
    static T broadcast(const float* p) { return _mm_set1_ps(*p); }

    static T add(T a, T b) { return _mm_add_ps(a, b); }
    static T sub(T a, T b) { return _mm_sub_ps(a, b); }
    static T mul(T a, T b) { return _mm_mul_ps(a, b); }
    static T div(T a, T b) { return _mm_div_ps(a, b); }
    static T max(T a, T b) { return _mm_max_ps(a, b); }
    static T min(T a, T b) { return _mm_min_ps(a, b); }
    static T fmadd(T a, T b, T c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }   // a * b + c
    static T fnmadd(T a, T b, T c) { return _mm_sub_ps(c, _mm_mul_ps(a, b)); }  // c - a * b

    static I round_int(T v) { return _mm_cvtps_epi32(v); }  // nearest even (default MXCSR)
    static T to_float(I v) { return _mm_cvtepi32_ps(v); }
    static I half_floor(I v) { return _mm_srai_epi32(v, 1); }
    static I isub(I a, I b) { return _mm_sub_epi32(a, b); }
    // 2^n for -126 <= n <= 127.
    static T pow2(I n) { return _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n, _mm_set1_epi32(127)), 23)); }

    static M is_nan(T v) { return _mm_cmpunord_ps(v, v); }
    static T select(M m, T a, T b) { return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)); }

    static float hsum(T v) {
        T s = _mm_add_ps(v, _mm_movehl_ps(v, v));
        s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        return _mm_cvtss_f32(s);
    }
    static float hmax(T v) {
        T s = _mm_max_ps(v, _mm_movehl_ps(v, v));
        s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
        return _mm_cvtss_f32(s);
    }

    // bfloat16 -> float: the 16 bits are the high half of the float.
    static T load_bf16(const uint16_t* p) {
        const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
        return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), h));
    }
    // binary16 -> float without F16C, exact for every input (zeros, subnormals, inf, NaN payloads):
    // shift exponent+mantissa into place, rescale by 2^112 (the bias difference; subnormals come
    // out normalized by the multiply), then force the exponent of inf/NaN and OR the sign back.
    // After F. Giesen, "half_to_float_SSE2" (public domain).
    static T load_f16(const uint16_t* p) {
        const __m128i h = _mm_unpacklo_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)),
                                             _mm_setzero_si128());
        const __m128i expmant = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
        const __m128i sign = _mm_slli_epi32(_mm_xor_si128(h, expmant), 16);
        const __m128 scaled = _mm_mul_ps(_mm_castsi128_ps(_mm_slli_epi32(expmant, 13)),
                                         _mm_castsi128_ps(_mm_set1_epi32((254 - 15) << 23)));
        const __m128i infnan = _mm_and_si128(_mm_cmpgt_epi32(expmant, _mm_set1_epi32(0x7bff)),
                                             _mm_set1_epi32(255 << 23));
        return _mm_or_ps(scaled, _mm_castsi128_ps(_mm_or_si128(sign, infnan)));
    }

    // In-place transpose of a W x W block held in W vectors.
    static void transpose(T r[W]) { _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]); }
};

}  // namespace
}  // namespace ember::cpu
