// Vector math over the traits of vec.h: exp and silu, accurate to a few ulp.
#pragma once

#include "ops/simd/vec.h"

namespace ember::cpu {
namespace {

// exp(x) in float, max error about 1 ulp over the range where the result is a normal float.
// Cephes expf (S. L. Moshier): x = n ln2 + r with |r| <= ln2/2, ln2 split into an exact part and a
// correction so n ln2 is subtracted without rounding; exp(r) by a degree-7 polynomial
// (1 + r + r^2 * P5(r)). The scale 2^n is applied as two factors 2^(n/2) so that results in the
// subnormal range round once and large arguments overflow to +inf by the multiply itself.
// exp(-inf) = 0, exp(+inf) = +inf, NaN stays NaN.
template <class V>
typename V::T vexp(typename V::T x) {
    using T = typename V::T;
    using I = typename V::I;
    // Beyond these the result is 0 / inf anyway; the clamp keeps n in [-150, 129].
    const T xc = V::min(V::max(x, V::set1(-104.0f)), V::set1(89.0f));
    const I n = V::round_int(V::mul(xc, V::set1(1.44269504088896341f)));
    const T nf = V::to_float(n);
    T r = V::fnmadd(nf, V::set1(0.693359375f), xc);  // 0.693359375 has 9 significant bits
    r = V::fnmadd(nf, V::set1(-2.12194440e-4f), r);
    T y = V::set1(1.9875691500e-4f);
    y = V::fmadd(y, r, V::set1(1.3981999507e-3f));
    y = V::fmadd(y, r, V::set1(8.3334519073e-3f));
    y = V::fmadd(y, r, V::set1(4.1665795894e-2f));
    y = V::fmadd(y, r, V::set1(1.6666665459e-1f));
    y = V::fmadd(y, r, V::set1(5.0000001201e-1f));
    y = V::fmadd(y, V::mul(r, r), V::add(r, V::set1(1.0f)));
    const I n1 = V::half_floor(n);
    const I n2 = V::isub(n, n1);
    y = V::mul(V::mul(y, V::pow2(n1)), V::pow2(n2));
    return V::select(V::is_nan(x), x, y);
}

// silu(x) = x / (1 + exp(-x)); for x -> -inf exp overflows to inf and the quotient is -0.
template <class V>
typename V::T vsilu(typename V::T x) {
    const typename V::T e = vexp<V>(V::sub(V::zero(), x));
    return V::div(x, V::add(V::set1(1.0f), e));
}

// Elementwise exp over n floats (a test hook for the polynomial above).
template <class V>
void exp_array(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + V::W <= n; i += V::W) V::store(y + i, vexp<V>(V::load(x + i)));
    if (i < n) {
        alignas(64) float tmp[V::W] = {};
        store_partial_floats(tmp, x + i, n - i);
        V::store(tmp, vexp<V>(V::load(tmp)));
        store_partial_floats(y + i, tmp, n - i);
    }
}

}  // namespace
}  // namespace ember::cpu
