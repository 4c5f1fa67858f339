#include "ops/layernorm.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/common.h"

namespace ember::cpu {

namespace {

// Two passes over the row in double with four independent accumulators each (the adds are the
// latency chain): the mean, then the mean of squared deviations (no cancellation from
// E[x^2] - E[x]^2). The row is then written as float((x - mean) * inv) * w + b in float.
void layernorm_rows(const ember_layernorm_params& p, int64_t r0, int64_t r1) {
    const int64_t dim = p.dim;
    for (int64_t r = r0; r < r1; ++r) {
        const float* x = p.x + r * p.x_stride;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t c = 0;
        for (; c + 4 <= dim; c += 4) {
            s0 += x[c];
            s1 += x[c + 1];
            s2 += x[c + 2];
            s3 += x[c + 3];
        }
        for (; c < dim; ++c) s0 += x[c];
        const double mean = ((s0 + s1) + (s2 + s3)) / dim;
        s0 = s1 = s2 = s3 = 0;
        for (c = 0; c + 4 <= dim; c += 4) {
            const double d0 = x[c] - mean, d1 = x[c + 1] - mean, d2 = x[c + 2] - mean, d3 = x[c + 3] - mean;
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        for (; c < dim; ++c) s0 += (x[c] - mean) * (x[c] - mean);
        const double inv = 1.0 / std::sqrt(((s0 + s1) + (s2 + s3)) / dim + p.eps);
        // The deviation in double: a float mean would lose the row's spread when it is small
        // against its offset.
        float* y = p.y + r * p.y_stride;
        if (p.bias != nullptr) {
            for (c = 0; c < dim; ++c) y[c] = static_cast<float>((x[c] - mean) * inv) * p.weight[c] + p.bias[c];
        } else {
            for (c = 0; c < dim; ++c) y[c] = static_cast<float>((x[c] - mean) * inv) * p.weight[c];
        }
    }
}

}  // namespace

void validate(const ember_layernorm_params& p) {
    EMBER_CHECK_ARG(p.rows >= 0, "layernorm: negative row count %lld", static_cast<long long>(p.rows));
    EMBER_CHECK_ARG(p.dim > 0, "layernorm: dim must be positive (%d)", p.dim);
    EMBER_CHECK_ARG(std::isfinite(p.eps) && p.eps >= 0.0f, "layernorm: eps must be finite and >= 0");
    check_rows("layernorm: x", p.x, p.rows, p.dim, p.x_stride);
    check_rows("layernorm: y", p.y, p.rows, p.dim, p.y_stride);
    EMBER_CHECK_ARG(p.weight != nullptr || p.rows == 0, "layernorm: weight is null");
}

void layernorm(const ember_layernorm_params& p, ThreadPool& pool) {
    validate(p);
    const int64_t grain = std::max<int64_t>(1, 16384 / p.dim);
    pool.parallel_for(p.rows, grain, [&](int64_t r0, int64_t r1) { layernorm_rows(p, r0, r1); });
}

void layernorm_ref(const ember_layernorm_params& p) {
    validate(p);
    for (int64_t r = 0; r < p.rows; ++r) {
        const float* x = p.x + r * p.x_stride;
        double mean = 0.0;
        for (int32_t c = 0; c < p.dim; ++c) mean += x[c];
        mean /= p.dim;
        double var = 0.0;
        for (int32_t c = 0; c < p.dim; ++c) var += (x[c] - mean) * (x[c] - mean);
        var /= p.dim;
        const double inv = 1.0 / std::sqrt(var + p.eps);
        float* y = p.y + r * p.y_stride;
        // y may alias x: every x[c] of the row was read above.
        for (int32_t c = 0; c < p.dim; ++c)
            y[c] = static_cast<float>((x[c] - mean) * inv * p.weight[c] + (p.bias ? p.bias[c] : 0.0));
    }
}

}  // namespace ember::cpu
