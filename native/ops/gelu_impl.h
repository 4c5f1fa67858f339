// GELU / GEGLU kernels as templates over the vector traits, instantiated once per ISA: gelu.cpp
// (SSE2, portable), gelu_avx2.cpp, gelu_avx512.cpp. See ops/simd/vec.h for the rules.
#pragma once

#include <cstdint>

#include "ember/kernels.h"

namespace ember::cpu {

struct GeluKernels {
    const char* name;
    // Rows [r0, r1) of out = gelu(gate) [* up].
    void (*rows)(const ember_gelu_params& p, int64_t r0, int64_t r1);
};

extern const GeluKernels kGeluSse;
extern const GeluKernels kGeluAvx2;
extern const GeluKernels kGeluAvx512;

}  // namespace ember::cpu

#ifdef EMBER_GELU_INSTANTIATE  // defined by the files that instantiate the kernels

#include "ops/simd/vec_math.h"

namespace ember::cpu {
namespace {

// gelu(x) = 0.5 x (1 + erf(z)) = 0.5 x erfc(-z), z = x / sqrt(2).
//
// One formula for every z, no branches: with a = |z|,
//   erfc(a) = t Q(t) exp(-a^2),   t = 1 / (1 + a / 2),
// Q a degree-10 polynomial fitted (weighted least squares on a in [0, 14], relative error of
// erfc 2.2e-8) for this kernel, in the spirit of Abramowitz & Stegun 7.1.26. Then
//   1 + erf(z) = erfc(a)       for z <= 0   (kept to full relative precision: no 1 - x)
//              = 2 - erfc(a)   for z > 0,
// selected arithmetically with s = max(z, 0) / max(a, FLT_MIN), which is exactly 0 or 1.
// Accuracy (checked against the double twin in test_gelu.cpp): within 8 ulp of the exact value
// times (1 + x^2 / 2), the function's own condition number for x << 0 (rounding z = x / sqrt 2
// alone moves gelu(x) by that many ulp there); within about 1.3 ulp for x > 1.5.
template <class V>
typename V::T vgelu(typename V::T x) {
    using T = typename V::T;
    // Clamped so that infinities give 1 + erf = 0 or 2 rather than inf / inf (NaN is restored below).
    const T z = V::min(V::max(V::mul(x, V::set1(0.707106781186547524f)), V::set1(-1e30f)), V::set1(1e30f));
    const T a = V::max(z, V::sub(V::zero(), z));
    const T t = V::div(V::set1(1.0f), V::fmadd(a, V::set1(0.5f), V::set1(1.0f)));
    T q = V::set1(4.371553287e-02f);
    q = V::fmadd(q, t, V::set1(-2.359395921e-01f));
    q = V::fmadd(q, t, V::set1(4.923388660e-01f));
    q = V::fmadd(q, t, V::set1(-4.469482005e-01f));
    q = V::fmadd(q, t, V::set1(1.196623296e-01f));
    q = V::fmadd(q, t, V::set1(-4.885862395e-02f));
    q = V::fmadd(q, t, V::set1(8.835119009e-02f));
    q = V::fmadd(q, t, V::set1(1.768532544e-01f));
    q = V::fmadd(q, t, V::set1(2.466118783e-01f));
    q = V::fmadd(q, t, V::set1(2.821196020e-01f));
    q = V::fmadd(q, t, V::set1(2.820937932e-01f));
    const T e = V::mul(V::mul(t, q), vexp<V>(V::sub(V::zero(), V::mul(a, a))));  // erfc(a)
    const T s = V::div(V::max(z, V::zero()), V::max(a, V::set1(1.17549435e-38f)));
    const T one_plus_erf = V::fmadd(s, V::fnmadd(V::set1(2.0f), e, V::set1(2.0f)), e);
    const T y = V::mul(V::mul(V::set1(0.5f), x), one_plus_erf);
    return V::select(V::is_nan(x), x, y);
}

template <class V>
struct Gelu {
    static void rows(const ember_gelu_params& p, int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* g = p.gate + r * p.gate_stride;
            const float* u = p.up != nullptr ? p.up + r * p.up_stride : nullptr;
            float* o = p.out + r * p.out_stride;
            int64_t c = 0;
            for (; c + V::W <= p.cols; c += V::W) {
                typename V::T y = vgelu<V>(V::load(g + c));
                if (u != nullptr) y = V::mul(y, V::load(u + c));
                V::store(o + c, y);
            }
            if (c < p.cols) {
                const int64_t n = p.cols - c;
                typename V::T y = vgelu<V>(load_partial<V, FmtF32>(g, c, n));
                if (u != nullptr) y = V::mul(y, load_partial<V, FmtF32>(u, c, n));
                alignas(64) float tmp[V::W];
                V::store(tmp, y);
                store_partial_floats(o + c, tmp, n);
            }
        }
    }
};

template <class V>
constexpr GeluKernels make_gelu_kernels() {
    return {V::kName, &Gelu<V>::rows};
}

}  // namespace
}  // namespace ember::cpu

#endif  // EMBER_GELU_INSTANTIATE
