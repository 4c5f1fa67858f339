#include "ops/pool.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "ops/common.h"

namespace ember::cpu {

namespace {

// The rows sequence s pools: [first, last).
struct PoolRange {
    int64_t first, last;
};

PoolRange pool_range(const ember_pool_params& p, int32_t s) {
    const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    switch (p.mode) {
        case EMBER_POOLING_LAST: return {end - 1, end};
        case EMBER_POOLING_CLS: return {start, start + 1};
        default: return {start + (p.pool_start != nullptr ? p.pool_start[s] : 0), end};
    }
}

// out row s from its rows; the mean is accumulated in double, four rows at a time (fewer passes
// over the accumulator).
void pool_sequence(const ember_pool_params& p, int32_t s, std::vector<double>& acc) {
    const PoolRange range = pool_range(p, s);
    float* out = p.out + static_cast<int64_t>(s) * p.dim;
    if (range.last - range.first == 1) {
        std::copy_n(p.x + range.first * p.x_stride, p.dim, out);
        return;
    }
    acc.assign(static_cast<size_t>(p.dim), 0.0);
    int64_t r = range.first;
    for (; r + 4 <= range.last; r += 4) {
        const float* x0 = p.x + r * p.x_stride;
        const float* x1 = x0 + p.x_stride;
        const float* x2 = x1 + p.x_stride;
        const float* x3 = x2 + p.x_stride;
        for (int32_t c = 0; c < p.dim; ++c)
            acc[c] += (static_cast<double>(x0[c]) + x1[c]) + (static_cast<double>(x2[c]) + x3[c]);
    }
    for (; r < range.last; ++r) {
        const float* x = p.x + r * p.x_stride;
        for (int32_t c = 0; c < p.dim; ++c) acc[c] += x[c];
    }
    const double n = static_cast<double>(range.last - range.first);
    for (int32_t c = 0; c < p.dim; ++c) out[c] = static_cast<float>(acc[c] / n);
}

}  // namespace

void validate(const ember_pool_params& p) {
    const int64_t rows = check_cu_seqlens("pool", p.cu_seqlens, p.n_seqs);
    EMBER_CHECK_ARG(p.mode == EMBER_POOLING_LAST || p.mode == EMBER_POOLING_MEAN || p.mode == EMBER_POOLING_CLS,
                    "pool: mode %d is not LAST, MEAN or CLS", p.mode);
    EMBER_CHECK_ARG(p.dim > 0, "pool: dim must be positive (%d)", p.dim);
    check_rows("pool: x", p.x, rows, p.dim, p.x_stride);
    check_rows("pool: out", p.out, p.n_seqs, p.dim, p.dim);
    check_pooled_seqs("pool", p.cu_seqlens, p.n_seqs, p.pool_start);
}

void pool(const ember_pool_params& p, ThreadPool& pool) {
    validate(p);
    pool.parallel_for(p.n_seqs, 1, [&](int64_t s0, int64_t s1) {
        std::vector<double> acc;
        for (int64_t s = s0; s < s1; ++s) pool_sequence(p, static_cast<int32_t>(s), acc);
    });
}

void pool_ref(const ember_pool_params& p) {
    validate(p);
    for (int32_t s = 0; s < p.n_seqs; ++s) {
        const PoolRange range = pool_range(p, s);
        for (int32_t c = 0; c < p.dim; ++c) {
            double sum = 0.0;
            for (int64_t r = range.first; r < range.last; ++r) sum += p.x[r * p.x_stride + c];
            p.out[static_cast<int64_t>(s) * p.dim + c] = static_cast<float>(sum / (range.last - range.first));
        }
    }
}

void l2_normalize(float* x, int64_t rows, int64_t dim, int64_t stride) {
    check_rows("l2_normalize: x", x, rows, dim, stride);
    for (int64_t r = 0; r < rows; ++r) {
        float* v = x + r * stride;
        double ss = 0.0;
        for (int64_t c = 0; c < dim; ++c) ss += static_cast<double>(v[c]) * v[c];
        const double denom = std::max(std::sqrt(ss), 1e-12);
        for (int64_t c = 0; c < dim; ++c) v[c] = static_cast<float>(v[c] / denom);
    }
}

}  // namespace ember::cpu
