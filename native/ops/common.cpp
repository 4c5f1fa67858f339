#include "ops/common.h"

#include "core/error.h"

namespace ember::cpu {

void check_isa_runnable(Isa isa) {
    const CpuFeatures& f = cpu_features();
    const bool ok = isa == Isa::Scalar || (isa == Isa::Avx2 && f.avx2) || (isa == Isa::Avx512 && f.avx512);
    EMBER_CHECK_ARG(ok, "this CPU cannot run the %s kernels", isa_name(isa));
}

void check_rows(const char* what, const void* ptr, int64_t rows, int64_t width, int64_t stride) {
    EMBER_CHECK_ARG(rows >= 0 && width >= 0, "%s: negative size (%lld rows of %lld)", what,
                    static_cast<long long>(rows), static_cast<long long>(width));
    if (rows == 0 || width == 0) return;
    EMBER_CHECK_ARG(ptr != nullptr, "%s is null", what);
    EMBER_CHECK_ARG(stride >= width, "%s: row stride %lld is smaller than the row width %lld", what,
                    static_cast<long long>(stride), static_cast<long long>(width));
    int64_t extent = 0;
    EMBER_CHECK_ARG(!__builtin_mul_overflow(rows - 1, stride, &extent) &&
                        !__builtin_add_overflow(extent, width, &extent),
                    "%s: %lld rows with stride %lld overflow", what, static_cast<long long>(rows),
                    static_cast<long long>(stride));
}

int64_t check_cu_seqlens(const char* op, const int32_t* cu, int32_t n_seqs) {
    EMBER_CHECK_ARG(n_seqs >= 0, "%s: n_seqs is negative (%d)", op, n_seqs);
    EMBER_CHECK_ARG(cu != nullptr, "%s: cu_seqlens is null", op);
    EMBER_CHECK_ARG(cu[0] >= 0, "%s: cu_seqlens[0] is negative (%d)", op, cu[0]);
    for (int32_t s = 0; s < n_seqs; ++s)
        EMBER_CHECK_ARG(cu[s + 1] >= cu[s], "%s: cu_seqlens decreases at sequence %d (%d -> %d)", op, s,
                        cu[s], cu[s + 1]);
    return cu[n_seqs];
}

void check_pooled_seqs(const char* op, const int32_t* cu, int32_t n_seqs, const int32_t* pool_start) {
    for (int32_t s = 0; s < n_seqs; ++s) {
        const int64_t len = int64_t(cu[s + 1]) - cu[s];
        EMBER_CHECK_ARG(len > 0, "%s: sequence %d is empty", op, s);
        if (pool_start != nullptr)
            EMBER_CHECK_ARG(pool_start[s] >= 0 && pool_start[s] < len,
                            "%s: pool_start %d of sequence %d is outside its %lld tokens", op, pool_start[s], s,
                            static_cast<long long>(len));
    }
}

}  // namespace ember::cpu
