// SwiGLU kernels as templates over the vector traits, instantiated once per ISA: swiglu.cpp
// (SSE2, portable), swiglu_avx2.cpp, swiglu_avx512.cpp. See ops/simd/vec.h for the rules.
#pragma once

#include <cstdint>

#include "ember/kernels.h"

namespace ember {
class ThreadPool;  // declared, not included: this header reaches the SIMD files (ops/simd/vec.h)
}

namespace ember::cpu {

struct SwigluKernels {
    const char* name;
    // Rows [r0, r1) of out = silu(gate) * up.
    void (*rows)(const ember_swiglu_params& p, int64_t r0, int64_t r1);
    // y[i] = exp(x[i]): the vector exp that swiglu and attention use (a test hook).
    void (*exp)(const float* x, float* y, int64_t n);
};

extern const SwigluKernels kSwigluSse;
extern const SwigluKernels kSwigluAvx2;
extern const SwigluKernels kSwigluAvx512;

// swiglu() with a given kernel table (the caller checked the CPU runs it).
void swiglu_with(const ember_swiglu_params& p, ThreadPool& pool, const SwigluKernels& kernels);

}  // namespace ember::cpu

#ifdef EMBER_SWIGLU_INSTANTIATE  // defined by the files that instantiate the kernels

#include "ops/simd/vec_math.h"

namespace ember::cpu {
namespace {

template <class V>
struct Swiglu {
    using T = typename V::T;

    static void rows(const ember_swiglu_params& p, int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* g = p.gate + r * p.gate_stride;
            const float* u = p.up + r * p.up_stride;
            float* o = p.out + r * p.out_stride;
            int64_t c = 0;
            for (; c + V::W <= p.cols; c += V::W)
                V::store(o + c, V::mul(vsilu<V>(V::load(g + c)), V::load(u + c)));
            if (c < p.cols) {
                const int64_t n = p.cols - c;
                alignas(64) float tmp[V::W];
                V::store(tmp, V::mul(vsilu<V>(load_partial<V, FmtF32>(g, c, n)), load_partial<V, FmtF32>(u, c, n)));
                store_partial_floats(o + c, tmp, n);
            }
        }
    }
};

template <class V>
constexpr SwigluKernels make_swiglu_kernels() {
    return {V::kName, &Swiglu<V>::rows, &exp_array<V>};
}

}  // namespace
}  // namespace ember::cpu

#endif  // EMBER_SWIGLU_INSTANTIATE
