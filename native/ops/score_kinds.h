// SelfExtend's score kinds (ember_attention_params), one rule for the CPU kernels and the CUDA
// ones (host and device code). The pair (query i, key j) is scored from q, k inside the window
// (|i - j| < window), from q_group, k_group when i - j >= window and from q_group_future,
// k_group_future when j - i >= window (bidirectional attention only). Window 0: SelfExtend off,
// every pair is near.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define EMBER_HOST_DEVICE __host__ __device__
#else
#define EMBER_HOST_DEVICE
#endif

namespace ember {

enum ScoreKind : int { kScoreNear = 1, kScorePast = 2, kScoreFuture = 4 };

EMBER_HOST_DEVICE inline int score_kind(int64_t i, int64_t j, int64_t window) {
    if (window <= 0) return kScoreNear;
    return i - j >= window ? kScorePast : j - i >= window ? kScoreFuture : kScoreNear;
}

// The kinds among queries [q0, q1] and keys [k0, k1] (causal: keys past a query are masked and do
// not count). Exact: every kind returned has a pair in the tile, so a tile with a single kind
// holds no pair of another and needs one product.
EMBER_HOST_DEVICE inline int tile_score_kinds(int64_t window, bool causal, int64_t q0, int64_t q1, int64_t k0,
                                              int64_t k1) {
    if (window <= 0) return kScoreNear;
    int kinds = 0;
    if (k0 <= q1 - window) kinds |= kScorePast;
    if (!causal && k1 >= q0 + window) kinds |= kScoreFuture;
    if (k0 <= (causal ? q1 : q1 + window - 1) && k1 >= q0 - window + 1) kinds |= kScoreNear;
    return kinds;
}

}  // namespace ember
