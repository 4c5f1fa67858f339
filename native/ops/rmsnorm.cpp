#include "ops/rmsnorm.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/common.h"

namespace ember::cpu {

namespace {

// sum of x[c]^2 in double, four independent accumulators (the row is short; the adds are the
// latency chain). Double keeps the mean of squares exact to ~1e-16 for any dim in use.
double sum_squares(const float* x, int64_t dim) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t c = 0;
    for (; c + 4 <= dim; c += 4) {
        s0 += static_cast<double>(x[c]) * x[c];
        s1 += static_cast<double>(x[c + 1]) * x[c + 1];
        s2 += static_cast<double>(x[c + 2]) * x[c + 2];
        s3 += static_cast<double>(x[c + 3]) * x[c + 3];
    }
    for (; c < dim; ++c) s0 += static_cast<double>(x[c]) * x[c];
    return (s0 + s1) + (s2 + s3);
}

void rmsnorm_rows(const ember_rmsnorm_params& p, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
        float* x = p.x + r * p.x_stride;
        if (p.residual != nullptr) {
            const float* res = p.residual + r * p.residual_stride;
            for (int32_t c = 0; c < p.dim; ++c) x[c] += res[c];
        }
        // As Hugging Face: x * rsqrt(mean(x^2) + eps), then times the weight.
        const float inv = static_cast<float>(1.0 / std::sqrt(sum_squares(x, p.dim) / p.dim + p.eps));
        float* y = p.y + r * p.y_stride;
        for (int32_t c = 0; c < p.dim; ++c) y[c] = x[c] * inv * p.weight[c];
    }
}

}  // namespace

void validate(const ember_rmsnorm_params& p) {
    EMBER_CHECK_ARG(p.rows >= 0, "rmsnorm: negative row count %lld", static_cast<long long>(p.rows));
    EMBER_CHECK_ARG(p.dim > 0, "rmsnorm: dim must be positive (%d)", p.dim);
    EMBER_CHECK_ARG(std::isfinite(p.eps) && p.eps >= 0.0f, "rmsnorm: eps must be finite and >= 0");
    check_rows("rmsnorm: x", p.x, p.rows, p.dim, p.x_stride);
    check_rows("rmsnorm: y", p.y, p.rows, p.dim, p.y_stride);
    if (p.residual != nullptr) check_rows("rmsnorm: residual", p.residual, p.rows, p.dim, p.residual_stride);
    EMBER_CHECK_ARG(p.weight != nullptr || p.rows == 0, "rmsnorm: weight is null");
}

void rmsnorm(const ember_rmsnorm_params& p, ThreadPool& pool) {
    validate(p);
    const int64_t grain = std::max<int64_t>(1, 16384 / p.dim);
    pool.parallel_for(p.rows, grain, [&](int64_t r0, int64_t r1) { rmsnorm_rows(p, r0, r1); });
}

void rmsnorm_ref(const ember_rmsnorm_params& p) {
    validate(p);
    for (int64_t r = 0; r < p.rows; ++r) {
        float* x = p.x + r * p.x_stride;
        if (p.residual != nullptr)
            for (int32_t c = 0; c < p.dim; ++c) x[c] += p.residual[r * p.residual_stride + c];
        double ss = 0.0;
        for (int32_t c = 0; c < p.dim; ++c) ss += static_cast<double>(x[c]) * x[c];
        const double inv = 1.0 / std::sqrt(ss / p.dim + p.eps);
        for (int32_t c = 0; c < p.dim; ++c)
            p.y[r * p.y_stride + c] = static_cast<float>(x[c] * inv * p.weight[c]);
    }
}

}  // namespace ember::cpu
