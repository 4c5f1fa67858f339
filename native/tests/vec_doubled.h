// Doubled<H>: vector traits twice as wide as H, each operation applied to two H vectors. With
// H = VecAvx2 it has the AVX-512 lane count (16), so the kernels instantiated with it take the
// AVX-512 path's tiling (32-float panels, 16-lane tails and masks) on a CPU without AVX-512: a
// test of the width-generic code behind the AVX-512 kernels (not of the AVX-512 intrinsics).
// Same linkage rules as ops/simd/vec.h.
#pragma once

#include "ops/simd/vec.h"

namespace ember::cpu {
namespace {

template <class H>
struct Doubled {
    struct T {
        typename H::T lo, hi;
    };
    struct I {
        typename H::I lo, hi;
    };
    struct M {
        typename H::M lo, hi;
    };
    using Pack = typename H::Pack;
    static constexpr int W = 2 * H::W;
    static constexpr const char* kName = "doubled";

    static T zero() { return {H::zero(), H::zero()}; }
    static T set1(float v) { return {H::set1(v), H::set1(v)}; }
    static T load(const float* p) { return {H::load(p), H::load(p + H::W)}; }
    static void store(float* p, T v) {
        H::store(p, v.lo);
        H::store(p + H::W, v.hi);
    }
    static T broadcast(const float* p) { return {H::broadcast(p), H::broadcast(p)}; }

    static T add(T a, T b) { return {H::add(a.lo, b.lo), H::add(a.hi, b.hi)}; }
    static T sub(T a, T b) { return {H::sub(a.lo, b.lo), H::sub(a.hi, b.hi)}; }
    static T mul(T a, T b) { return {H::mul(a.lo, b.lo), H::mul(a.hi, b.hi)}; }
    static T div(T a, T b) { return {H::div(a.lo, b.lo), H::div(a.hi, b.hi)}; }
    static T max(T a, T b) { return {H::max(a.lo, b.lo), H::max(a.hi, b.hi)}; }
    static T min(T a, T b) { return {H::min(a.lo, b.lo), H::min(a.hi, b.hi)}; }
    static T fmadd(T a, T b, T c) { return {H::fmadd(a.lo, b.lo, c.lo), H::fmadd(a.hi, b.hi, c.hi)}; }
    static T fnmadd(T a, T b, T c) { return {H::fnmadd(a.lo, b.lo, c.lo), H::fnmadd(a.hi, b.hi, c.hi)}; }

    static I round_int(T v) { return {H::round_int(v.lo), H::round_int(v.hi)}; }
    static T to_float(I v) { return {H::to_float(v.lo), H::to_float(v.hi)}; }
    static I half_floor(I v) { return {H::half_floor(v.lo), H::half_floor(v.hi)}; }
    static I isub(I a, I b) { return {H::isub(a.lo, b.lo), H::isub(a.hi, b.hi)}; }
    static T pow2(I n) { return {H::pow2(n.lo), H::pow2(n.hi)}; }

    static M is_nan(T v) { return {H::is_nan(v.lo), H::is_nan(v.hi)}; }
    static T select(M m, T a, T b) { return {H::select(m.lo, a.lo, b.lo), H::select(m.hi, a.hi, b.hi)}; }

    static float hsum(T v) { return H::hsum(H::add(v.lo, v.hi)); }
    static float hmax(T v) { return H::hmax(H::max(v.lo, v.hi)); }

    static T load_bf16(const uint16_t* p) { return {H::load_bf16(p), H::load_bf16(p + H::W)}; }
    static T load_f16(const uint16_t* p) { return {H::load_f16(p), H::load_f16(p + H::W)}; }
};

}  // namespace
}  // namespace ember::cpu
