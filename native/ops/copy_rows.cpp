#include "ops/copy_rows.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "ops/common.h"

namespace ember::cpu {

void validate(const ember_copy_rows_params& p) {
    EMBER_CHECK_ARG(p.n >= 0 && p.cols >= 0, "copy_rows: negative size (%lld rows of %lld)", static_cast<long long>(p.n),
                    static_cast<long long>(p.cols));
    EMBER_CHECK_ARG(p.src_row_count >= 0 && p.dst_row_count >= 0, "copy_rows: negative row count");
    check_rows("copy_rows: src", p.src, p.src_row_count, p.cols, p.src_stride);
    check_rows("copy_rows: dst", p.dst, p.dst_row_count, p.cols, p.dst_stride);
    if (p.n == 0) return;
    if (p.src_rows == nullptr) {
        EMBER_CHECK_ARG(p.n <= p.src_row_count, "copy_rows: %lld rows requested from %lld", static_cast<long long>(p.n),
                        static_cast<long long>(p.src_row_count));
    } else {
        for (int64_t i = 0; i < p.n; ++i)
            EMBER_CHECK_ARG(p.src_rows[i] >= 0 && p.src_rows[i] < p.src_row_count,
                            "copy_rows: source row %d is outside [0, %lld)", p.src_rows[i],
                            static_cast<long long>(p.src_row_count));
    }
    if (p.dst_rows == nullptr) {
        EMBER_CHECK_ARG(p.n <= p.dst_row_count, "copy_rows: %lld rows written into %lld", static_cast<long long>(p.n),
                        static_cast<long long>(p.dst_row_count));
    } else {
        // Scattering two rows onto one would make the result depend on thread timing.
        std::vector<int32_t> seen(p.dst_rows, p.dst_rows + p.n);
        std::sort(seen.begin(), seen.end());
        for (int64_t i = 0; i < p.n; ++i) {
            EMBER_CHECK_ARG(seen[i] >= 0 && seen[i] < p.dst_row_count, "copy_rows: destination row %d is outside [0, %lld)",
                            seen[i], static_cast<long long>(p.dst_row_count));
            EMBER_CHECK_ARG(i == 0 || seen[i] != seen[i - 1], "copy_rows: destination row %d is written twice", seen[i]);
        }
    }
}

void copy_rows(const ember_copy_rows_params& p, ThreadPool& pool) {
    validate(p);
    if (p.n == 0 || p.cols == 0) return;
    const int64_t grain = std::max<int64_t>(1, 16384 / p.cols);
    pool.parallel_for(p.n, grain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            const int64_t s = p.src_rows ? p.src_rows[i] : i, d = p.dst_rows ? p.dst_rows[i] : i;
            std::memcpy(p.dst + d * p.dst_stride, p.src + s * p.src_stride, sizeof(float) * static_cast<size_t>(p.cols));
        }
    });
}

void copy_rows_ref(const ember_copy_rows_params& p) {
    validate(p);
    for (int64_t i = 0; i < p.n; ++i)
        for (int64_t c = 0; c < p.cols; ++c)
            p.dst[(p.dst_rows ? p.dst_rows[i] : i) * p.dst_stride + c] = p.src[(p.src_rows ? p.src_rows[i] : i) * p.src_stride + c];
}

}  // namespace ember::cpu
