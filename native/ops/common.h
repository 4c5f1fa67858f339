// Pieces shared by the CPU ops: parameter checks used by the validate() functions, and the
// choice of kernel table for an instruction set.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"

namespace ember::cpu {

// Throws Error(EMBER_ERR_INVALID_ARGUMENT) when this CPU cannot run kernels built for `isa`.
void check_isa_runnable(Isa isa);

// The kernel table for `isa`, after checking the CPU can run it. Every op picks its kernels
// through this one function, so "which ISA" is decided in one place (active_isa() by default).
template <class Table>
const Table& kernels_for(Isa isa, const Table& sse, const Table& avx2, const Table& avx512) {
    check_isa_runnable(isa);
    switch (isa) {
        case Isa::Avx512: return avx512;
        case Isa::Avx2: return avx2;
        default: return sse;
    }
}

// `rows` rows of `width` elements, `stride` apart, at `ptr`: when there is anything to access,
// ptr is non-null, stride >= width and the extent fits in int64. `what` names the operand in the
// message, e.g. "matmul: x".
void check_rows(const char* what, const void* ptr, int64_t rows, int64_t width, int64_t stride);

// cu_seqlens of n_seqs sequences: non-null, n_seqs >= 0, cu[0] >= 0, non-decreasing. Returns
// cu[n_seqs], the number of rows the batch spans.
int64_t check_cu_seqlens(const char* op, const int32_t* cu_seqlens, int32_t n_seqs);

// For pooling ops: every sequence non-empty and, when pool_start is given, each start inside its
// sequence (0 <= start < length).
void check_pooled_seqs(const char* op, const int32_t* cu_seqlens, int32_t n_seqs, const int32_t* pool_start);

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

}  // namespace ember::cpu
