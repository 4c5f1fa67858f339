// AVX-512 (F/BW/DQ/VL) traits. See vec.h for the rules. Transposes for weight packing use the
// 8-wide AVX2 block (VecAvx2::transpose), see gemm.h.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ember::cpu {
namespace {

struct VecAvx512 {
    using T = __m512;
    using I = __m512i;
    using M = __mmask16;  // lane mask
    // Vector type of the W x W transposes that pack weight panels (see gemm.h).
    using Pack = VecAvx2;
    static constexpr int W = 16;
    static constexpr const char* kName = "avx512";

    static T zero() { return _mm512_setzero_ps(); }
    static T set1(float v) { return _mm512_set1_ps(v); }
    static T load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
    static T broadcast(const float* p) { return _mm512_set1_ps(*p); }

    static T add(T a, T b) { return _mm512_add_ps(a, b); }
    static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
    static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
    static T div(T a, T b) { return _mm512_div_ps(a, b); }
    static T max(T a, T b) { return _mm512_max_ps(a, b); }
    static T min(T a, T b) { return _mm512_min_ps(a, b); }
    static T fmadd(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }    // a * b + c
    static T fnmadd(T a, T b, T c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a * b

    static I round_int(T v) { return _mm512_cvtps_epi32(v); }  // nearest even (default MXCSR)
    static T to_float(I v) { return _mm512_cvtepi32_ps(v); }
    static I half_floor(I v) { return _mm512_srai_epi32(v, 1); }
    static I isub(I a, I b) { return _mm512_sub_epi32(a, b); }
    // 2^n for -126 <= n <= 127.
    static T pow2(I n) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
    }

    static M is_nan(T v) { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q); }
    static T select(M m, T a, T b) { return _mm512_mask_blend_ps(m, b, a); }

    static float hsum(T v) {
        return VecAvx2::hsum(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
    }
    static float hmax(T v) {
        return VecAvx2::hmax(_mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
    }

    static T load_bf16(const uint16_t* p) {
        const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
    }
    static T load_f16(const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
};

}  // namespace
}  // namespace ember::cpu
