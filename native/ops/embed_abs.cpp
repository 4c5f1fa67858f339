#include "ops/embed_abs.h"

#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"
#include "ops/common.h"

namespace ember::cpu {

namespace {

bool table_type_ok(int32_t dtype) {
    return dtype == EMBER_DTYPE_F32 || dtype == EMBER_DTYPE_F16 || dtype == EMBER_DTYPE_BF16;
}

float element(const void* table, int32_t dtype, int64_t row, int32_t dim, int32_t c) {
    const int64_t i = row * dim + c;
    switch (dtype) {
        case EMBER_DTYPE_F32: return static_cast<const float*>(table)[i];
        case EMBER_DTYPE_F16: return f16_to_f32(static_cast<const uint16_t*>(table)[i]);
        default: return bf16_to_f32(static_cast<const uint16_t*>(table)[i]);
    }
}

// dst[c] (+)= table row `row`, converted to float.
void add_row(float* dst, const void* table, int32_t dtype, int64_t row, int32_t dim, bool first) {
    if (dtype == EMBER_DTYPE_F32) {
        const float* src = static_cast<const float*>(table) + row * dim;
        if (first) {
            std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(dim));
        } else {
            for (int32_t c = 0; c < dim; ++c) dst[c] += src[c];
        }
        return;
    }
    for (int32_t c = 0; c < dim; ++c) {
        const float v = element(table, dtype, row, dim, c);
        dst[c] = first ? v : dst[c] + v;
    }
}

// Checks every id of the batch (tables are indexed by them) and the sequence lengths against the
// position table.
void check_indices(const ember_embed_abs_params& p, int64_t rows) {
    for (int64_t t = 0; t < rows; ++t) {
        EMBER_CHECK_ARG(p.ids[t] >= 0 && p.ids[t] < p.word_rows, "embed_abs: token id %d at row %lld is outside [0, %lld)",
                        p.ids[t], static_cast<long long>(t), static_cast<long long>(p.word_rows));
        if (p.token_type_ids != nullptr)
            EMBER_CHECK_ARG(p.token_type_ids[t] >= 0 && p.token_type_ids[t] < p.token_type_rows,
                            "embed_abs: token type %d at row %lld is outside [0, %lld)", p.token_type_ids[t],
                            static_cast<long long>(t), static_cast<long long>(p.token_type_rows));
    }
    for (int32_t s = 0; s < p.n_seqs; ++s) {
        const int64_t len = p.cu_seqlens[s + 1] - p.cu_seqlens[s];
        EMBER_CHECK_ARG(len <= p.position_rows,
                        "embed_abs: sequence %d has %lld tokens, more than the %lld positions the model has", s,
                        static_cast<long long>(len), static_cast<long long>(p.position_rows));
    }
}

}  // namespace

void validate(const ember_embed_abs_params& p) {
    const int64_t rows = check_cu_seqlens("embed_abs", p.cu_seqlens, p.n_seqs);
    EMBER_CHECK_ARG(p.dim > 0, "embed_abs: dim must be positive (%d)", p.dim);
    EMBER_CHECK_ARG(table_type_ok(p.word_dtype) && table_type_ok(p.position_dtype) && table_type_ok(p.token_type_dtype),
                    "embed_abs: tables must be f32, f16 or bf16");
    EMBER_CHECK_ARG(p.word_rows > 0 && p.position_rows > 0 && p.token_type_rows > 0,
                    "embed_abs: every table needs at least one row");
    EMBER_CHECK_ARG(p.word != nullptr && p.position != nullptr && p.token_type != nullptr, "embed_abs: a table is null");
    check_rows("embed_abs: out", p.out, rows, p.dim, p.out_stride);
    EMBER_CHECK_ARG(p.ids != nullptr || rows == 0, "embed_abs: ids is null");
    check_indices(p, rows);
}

void embed_abs(const ember_embed_abs_params& p, ThreadPool& pool) {
    validate(p);
    pool.parallel_for(p.n_seqs, 1, [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
            for (int64_t t = start; t < end; ++t) {
                float* out = p.out + t * p.out_stride;
                // As transformers' BertEmbeddings: (word + token type) + position, in float.
                add_row(out, p.word, p.word_dtype, p.ids[t], p.dim, true);
                add_row(out, p.token_type, p.token_type_dtype, p.token_type_ids ? p.token_type_ids[t] : 0, p.dim, false);
                add_row(out, p.position, p.position_dtype, t - start, p.dim, false);
            }
        }
    });
}

void embed_abs_ref(const ember_embed_abs_params& p) {
    validate(p);
    for (int32_t s = 0; s < p.n_seqs; ++s) {
        for (int64_t t = p.cu_seqlens[s]; t < p.cu_seqlens[s + 1]; ++t) {
            const int64_t type = p.token_type_ids ? p.token_type_ids[t] : 0, pos = t - p.cu_seqlens[s];
            for (int32_t c = 0; c < p.dim; ++c) {
                const double v = static_cast<double>(element(p.word, p.word_dtype, p.ids[t], p.dim, c)) +
                                 element(p.token_type, p.token_type_dtype, type, p.dim, c) +
                                 element(p.position, p.position_dtype, pos, p.dim, c);
                p.out[t * p.out_stride + c] = static_cast<float>(v);
            }
        }
    }
}

}  // namespace ember::cpu
