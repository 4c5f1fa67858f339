#include "ops/rope.h"

#include <algorithm>

#include "core/error.h"
#include "ops/common.h"

namespace ember::cpu {

namespace {

// Rotates the rot_dim/2 pairs of one head: (a, b) -> (a cos - b sin, b cos + a sin), pairs
// (j, j + half) for rotate-half, (2j, 2j + 1) for interleaved.
template <bool kInterleaved>
void rotate_head(float* x, const float* cos, const float* sin, int64_t half) {
    for (int64_t j = 0; j < half; ++j) {
        float& a = x[kInterleaved ? 2 * j : j];
        float& b = x[kInterleaved ? 2 * j + 1 : j + half];
        const float a0 = a, b0 = b;
        a = a0 * cos[j] - b0 * sin[j];
        b = b0 * cos[j] + a0 * sin[j];
    }
}

// The table row of the token at `index` within sequence `seq`.
int64_t table_row(const ember_rope_params& p, int32_t seq, int64_t index) {
    const int64_t first = p.table_first_row != nullptr ? p.table_first_row[seq] : 0;
    return first + (p.pos_group > 1 ? index / p.pos_group : index) + p.pos_offset;
}

// The cos / sin offset for token `row` (an index into x) of sequence `seq`.
int64_t table_offset(const ember_rope_params& p, int32_t seq, int64_t row) {
    return table_row(p, seq, row - p.cu_seqlens[seq]) * (p.rot_dim / 2);
}

template <bool kInterleaved>
void rope_rows(const ember_rope_params& p, int32_t seq, int64_t r0, int64_t r1) {
    const int64_t half = p.rot_dim / 2;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t t = table_offset(p, seq, r);
        float* x = p.x + r * p.x_stride;
        for (int32_t h = 0; h < p.n_heads; ++h)
            rotate_head<kInterleaved>(x + static_cast<int64_t>(h) * p.head_dim, p.cos + t, p.sin + t, half);
    }
}

}  // namespace

void validate(const ember_rope_params& p) {
    const int64_t rows = check_cu_seqlens("rope", p.cu_seqlens, p.n_seqs);
    EMBER_CHECK_ARG(p.n_heads > 0 && p.head_dim > 0, "rope: n_heads (%d) and head_dim (%d) must be positive",
                    p.n_heads, p.head_dim);
    EMBER_CHECK_ARG(p.rot_dim > 0 && p.rot_dim % 2 == 0 && p.rot_dim <= p.head_dim,
                    "rope: rot_dim %d must be even and in 2..head_dim (%d)", p.rot_dim, p.head_dim);
    EMBER_CHECK_ARG(p.interleaved == 0 || p.interleaved == 1, "rope: interleaved must be 0 or 1 (%d)",
                    p.interleaved);
    EMBER_CHECK_ARG(p.pos_offset >= 0, "rope: pos_offset is negative (%d)", p.pos_offset);
    EMBER_CHECK_ARG(p.pos_group >= 0, "rope: pos_group is negative (%d)", p.pos_group);
    EMBER_CHECK_ARG(p.table_rows >= 0, "rope: table_rows is negative");
    check_rows("rope: x", p.x, rows, static_cast<int64_t>(p.n_heads) * p.head_dim, p.x_stride);
    for (int32_t s = 0; s < p.n_seqs; ++s) {
        const int64_t len = p.cu_seqlens[s + 1] - p.cu_seqlens[s];
        if (len == 0) continue;
        EMBER_CHECK_ARG(p.cos != nullptr && p.sin != nullptr, "rope: cos / sin table is null");
        if (p.table_first_row != nullptr)
            EMBER_CHECK_ARG(p.table_first_row[s] >= 0, "rope: sequence %d starts at table row %lld", s,
                            static_cast<long long>(p.table_first_row[s]));
        const int64_t last = table_row(p, s, len - 1);
        EMBER_CHECK_ARG(last < p.table_rows,
                        "rope: sequence %d reaches table row %lld but the table has %lld rows", s,
                        static_cast<long long>(last), static_cast<long long>(p.table_rows));
    }
}

void rope(const ember_rope_params& p, ThreadPool& pool) {
    validate(p);
    const int32_t* cu = p.cu_seqlens;
    const int64_t first = cu[0], total = cu[p.n_seqs] - first;
    const int64_t grain = std::max<int64_t>(1, 16384 / (static_cast<int64_t>(p.n_heads) * p.rot_dim));
    pool.parallel_for(total, grain, [&](int64_t begin, int64_t end) {
        int64_t r = first + begin;
        // The sequence holding row r: cu[s] <= r < cu[s + 1] (empty sequences are skipped).
        int32_t s = static_cast<int32_t>(std::upper_bound(cu, cu + p.n_seqs + 1, r) - cu) - 1;
        for (; r < first + end; ++s) {
            const int64_t stop = std::min<int64_t>(first + end, cu[s + 1]);
            if (p.interleaved)
                rope_rows<true>(p, s, r, stop);
            else
                rope_rows<false>(p, s, r, stop);
            r = stop;
        }
    });
}

void rope_ref(const ember_rope_params& p) {
    validate(p);
    const int64_t half = p.rot_dim / 2;
    for (int32_t s = 0; s < p.n_seqs; ++s) {
        for (int64_t r = p.cu_seqlens[s]; r < p.cu_seqlens[s + 1]; ++r) {
            const int64_t t = table_offset(p, s, r);
            for (int32_t h = 0; h < p.n_heads; ++h) {
                float* x = p.x + r * p.x_stride + static_cast<int64_t>(h) * p.head_dim;
                for (int64_t j = 0; j < half; ++j) {
                    const int64_t ia = p.interleaved ? 2 * j : j, ib = p.interleaved ? 2 * j + 1 : j + half;
                    const double a = x[ia], b = x[ib], c = p.cos[t + j], sn = p.sin[t + j];
                    x[ia] = static_cast<float>(a * c - b * sn);
                    x[ib] = static_cast<float>(b * c + a * sn);
                }
            }
        }
    }
}

}  // namespace ember::cpu
