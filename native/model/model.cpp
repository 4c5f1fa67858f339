#include "model/model.h"

#include <algorithm>

#include "core/error.h"

namespace ember {

HostBatch check_batch(const ember_batch* batch, int32_t vocab_size) {
    EMBER_CHECK_ARG(batch != nullptr, "batch is null");
    EMBER_CHECK_ARG(batch->n_seqs >= 1, "a batch needs at least one sequence (got %d)", batch->n_seqs);
    EMBER_CHECK_ARG(batch->token_ids != nullptr && batch->cu_seqlens != nullptr, "batch token_ids / cu_seqlens are null");
    HostBatch b;
    b.ids = batch->token_ids;
    b.cu_seqlens = batch->cu_seqlens;
    b.n_seqs = batch->n_seqs;
    b.pool_start = batch->pool_start;
    b.encoder_ids = batch->encoder_token_ids;
    b.encoder_cu_seqlens = batch->encoder_cu_seqlens;
    EMBER_CHECK_ARG(b.cu_seqlens[0] == 0, "cu_seqlens[0] must be 0 (got %d)", b.cu_seqlens[0]);
    for (int32_t s = 0; s < b.n_seqs; ++s) {
        const int64_t len = int64_t(b.cu_seqlens[s + 1]) - b.cu_seqlens[s];
        EMBER_CHECK_ARG(len > 0, "sequence %d is empty: every sequence needs at least one token", s);
        b.max_len = std::max(b.max_len, len);
        if (b.pool_start != nullptr)
            EMBER_CHECK_ARG(b.pool_start[s] >= 0 && b.pool_start[s] < len,
                            "sequence %d: pool_start %d must leave at least one of its %lld tokens to pool", s,
                            b.pool_start[s], (long long)len);
    }
    b.total_tokens = b.cu_seqlens[b.n_seqs];
    for (int64_t t = 0; t < b.total_tokens; ++t) {
        const int32_t id = b.ids[t];
        if (id < 0 || id >= vocab_size) {
            const int32_t* end = std::upper_bound(b.cu_seqlens, b.cu_seqlens + b.n_seqs + 1, static_cast<int32_t>(t));
            EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "token id %d in sequence %d is outside the vocabulary [0, %d)", id,
                       static_cast<int>(end - b.cu_seqlens) - 1, vocab_size);
        }
    }
    return b;
}

void Model::check_inputs(const HostBatch& batch) const {
    EMBER_CHECK_ARG(batch.encoder_ids == nullptr && batch.encoder_cu_seqlens == nullptr,
                    "encoder_token_ids were given, but this %s model has no encoder (only Causal2Vec takes them)",
                    info_.family);
}

std::pair<int64_t, int64_t> Model::intermediate_shape(const HostBatch&, int32_t which) const {
    EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "a %s model has no intermediate output %d", info_.family, which);
}

void Model::forward_intermediate(const HostBatch& batch, int32_t which, float*) { intermediate_shape(batch, which); }

}  // namespace ember
