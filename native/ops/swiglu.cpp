#include "ops/swiglu.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/common.h"

#define EMBER_SWIGLU_INSTANTIATE
#include "ops/swiglu_impl.h"

namespace ember::cpu {

// The portable kernels: the same templates as swiglu_avx2.cpp, on SSE2.
extern const SwigluKernels kSwigluSse = make_swiglu_kernels<VecSse>();

void validate(const ember_swiglu_params& p) {
    EMBER_CHECK_ARG(p.rows >= 0 && p.cols >= 0, "swiglu: negative size (%lld x %lld)",
                    static_cast<long long>(p.rows), static_cast<long long>(p.cols));
    check_rows("swiglu: gate", p.gate, p.rows, p.cols, p.gate_stride);
    check_rows("swiglu: up", p.up, p.rows, p.cols, p.up_stride);
    check_rows("swiglu: out", p.out, p.rows, p.cols, p.out_stride);
}

void swiglu(const ember_swiglu_params& p, ThreadPool& pool) { swiglu(p, pool, active_isa()); }

void swiglu(const ember_swiglu_params& p, ThreadPool& pool, Isa isa) {
    swiglu_with(p, pool, kernels_for(isa, kSwigluSse, kSwigluAvx2, kSwigluAvx512));
}

void swiglu_with(const ember_swiglu_params& p, ThreadPool& pool, const SwigluKernels& kern) {
    validate(p);
    if (p.cols == 0) return;
    // About 16K elements per chunk: enough to hide the hand-off to another thread.
    const int64_t grain = std::max<int64_t>(1, 16384 / p.cols);
    pool.parallel_for(p.rows, grain, [&](int64_t r0, int64_t r1) { kern.rows(p, r0, r1); });
}

void swiglu_ref(const ember_swiglu_params& p) {
    validate(p);
    for (int64_t r = 0; r < p.rows; ++r) {
        for (int64_t c = 0; c < p.cols; ++c) {
            const double g = p.gate[r * p.gate_stride + c], u = p.up[r * p.up_stride + c];
            p.out[r * p.out_stride + c] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
        }
    }
}

}  // namespace ember::cpu
