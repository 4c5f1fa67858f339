#include "ops/gelu.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/common.h"

#define EMBER_GELU_INSTANTIATE
#include "ops/gelu_impl.h"

namespace ember::cpu {

// The portable kernels: the same templates as gelu_avx2.cpp, on SSE2.
extern const GeluKernels kGeluSse = make_gelu_kernels<VecSse>();

void validate(const ember_gelu_params& p) {
    EMBER_CHECK_ARG(p.rows >= 0 && p.cols >= 0, "gelu: negative size (%lld x %lld)", static_cast<long long>(p.rows),
                    static_cast<long long>(p.cols));
    check_rows("gelu: gate", p.gate, p.rows, p.cols, p.gate_stride);
    if (p.up != nullptr) check_rows("gelu: up", p.up, p.rows, p.cols, p.up_stride);
    check_rows("gelu: out", p.out, p.rows, p.cols, p.out_stride);
}

void gelu(const ember_gelu_params& p, ThreadPool& pool) { gelu(p, pool, active_isa()); }

void gelu(const ember_gelu_params& p, ThreadPool& pool, Isa isa) {
    validate(p);
    const GeluKernels& kern = kernels_for(isa, kGeluSse, kGeluAvx2, kGeluAvx512);
    if (p.cols == 0) return;
    const int64_t grain = std::max<int64_t>(1, 16384 / p.cols);
    pool.parallel_for(p.rows, grain, [&](int64_t r0, int64_t r1) { kern.rows(p, r0, r1); });
}

void gelu_ref(const ember_gelu_params& p) {
    validate(p);
    for (int64_t r = 0; r < p.rows; ++r) {
        for (int64_t c = 0; c < p.cols; ++c) {
            const double g = p.gate[r * p.gate_stride + c];
            double y = 0.5 * g * std::erfc(-g / std::sqrt(2.0));
            if (p.up != nullptr) y *= p.up[r * p.up_stride + c];
            p.out[r * p.out_stride + c] = static_cast<float>(y);
        }
    }
}

}  // namespace ember::cpu
