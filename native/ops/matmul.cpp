#include "ops/matmul.h"
#include "ops/qmatmul.h"

#include <algorithm>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"
#include "core/scratch.h"
#include "ops/common.h"

#define EMBER_MATMUL_INSTANTIATE
#include "ops/matmul_impl.h"

namespace ember::cpu {

// The portable kernels: the same templates as matmul_avx2.cpp, on SSE2.
extern const MatmulKernels kMatmulSse = make_matmul_kernels<VecSse>();

namespace {

// The weight types the kernels implement (with_format in ops/simd/vec.h knows them). Known but
// missing types (quantized) are reported as unsupported rather than invalid. Adding a type: its
// format struct and case in ops/simd/vec.h, and its dequantization in weight_row below.
bool weight_type_implemented(int32_t dtype) {
    return with_format(dtype, [](auto) {});
}

// Row j of W converted to float, for the reference (its own scalar conversions, independent of
// the kernels' vector ones).
void weight_row(int32_t dtype, const void* row, int64_t k, float* dst) {
    switch (dtype) {
        case EMBER_DTYPE_F32: std::copy_n(static_cast<const float*>(row), k, dst); break;
        case EMBER_DTYPE_BF16:
            for (int64_t i = 0; i < k; ++i) dst[i] = bf16_to_f32(static_cast<const uint16_t*>(row)[i]);
            break;
        case EMBER_DTYPE_F16:
            for (int64_t i = 0; i < k; ++i) dst[i] = f16_to_f32(static_cast<const uint16_t*>(row)[i]);
            break;
        default: EMBER_FAIL(EMBER_ERR_INTERNAL, "matmul_ref: weight type %d slipped past validate", dtype);
    }
}

// Up to this many rows the product is memory-bound on W: stream it once with dot products (at 8
// rows both kernels run at about the same speed on Zen 3; packing W costs more than it saves below).
constexpr int64_t kGemvMaxRows = 8;

struct MatmulPlan {
    bool gemv;
    int64_t mt, nt;  // output tile (gemv: nt columns per task, all rows)
};

// How the fast kernel splits y into tasks, for `threads` threads.
MatmulPlan plan_matmul(int64_t m, int64_t n, int threads) {
    const int64_t want = 2 * static_cast<int64_t>(threads);  // tasks, for load balance
    if (m <= kGemvMaxRows) return {true, m, std::max<int64_t>(48, round_up(ceil_div(n, 4 * want), 3))};
    // Tiles of up to 512 x 256: each packed W panel is reused by up to 512 rows, each x block by
    // 256 columns. Narrow the tiles (multiples of 32, any panel width divides them) until every
    // thread has work.
    int64_t nt = 256, mt = std::min<int64_t>(m, 512);
    while (nt > 32 && ceil_div(m, mt) * ceil_div(n, nt) < want) nt /= 2;
    while (mt > 48 && ceil_div(m, mt) * ceil_div(n, nt) < want) mt = round_up(mt / 2, 6);
    return {false, mt, nt};
}

}  // namespace

void validate(const ember_matmul_params& p) {
    EMBER_CHECK_ARG(p.m >= 0 && p.n >= 0 && p.k >= 0, "matmul: negative size (m=%lld, n=%lld, k=%lld)",
                    static_cast<long long>(p.m), static_cast<long long>(p.n), static_cast<long long>(p.k));
    const DtypeInfo* info = dtype_info(p.w_dtype);
    EMBER_CHECK_ARG(info != nullptr, "matmul: unknown weight dtype %d", p.w_dtype);
    if (!weight_type_implemented(p.w_dtype))
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "matmul: %s weights are not supported yet", info->name);
    if (p.m == 0 || p.n == 0) return;
    EMBER_CHECK_ARG(p.k > 0, "matmul: k must be positive for a %lld x %lld output",
                    static_cast<long long>(p.m), static_cast<long long>(p.n));
    const int64_t row_bytes = dtype_row_bytes(p.w_dtype, p.k);
    EMBER_CHECK_ARG(row_bytes > 0, "matmul: k=%lld is not a whole number of %s blocks",
                    static_cast<long long>(p.k), info->name);
    check_rows("matmul: x", p.x, p.m, p.k, p.x_stride);
    check_rows("matmul: y", p.y, p.m, p.n, p.y_stride);
    EMBER_CHECK_ARG(p.w != nullptr, "matmul: w is null");
    int64_t w_bytes = 0;
    EMBER_CHECK_ARG(!__builtin_mul_overflow(p.n, row_bytes, &w_bytes), "matmul: W size overflows");
}

void matmul(const ember_matmul_params& p, ThreadPool& pool) { matmul(p, pool, active_isa()); }

void matmul(const ember_matmul_params& p, ThreadPool& pool, Isa isa) {
    // GGUF block types have their own integer kernels (ops/qmatmul).
    if (qmatmul_supports(p.w_dtype)) {
        qmatmul(p, pool, isa);
        return;
    }
    matmul_with(p, pool, kernels_for(isa, kMatmulSse, kMatmulAvx2, kMatmulAvx512));
}

void matmul_with(const ember_matmul_params& p, ThreadPool& pool, const MatmulKernels& kern) {
    validate(p);
    if (p.m == 0 || p.n == 0) return;
    const int64_t row_bytes = dtype_row_bytes(p.w_dtype, p.k);
    const MatmulPlan plan = plan_matmul(p.m, p.n, pool.size());
    const int64_t n_tiles = ceil_div(p.n, plan.nt);
    if (plan.gemv) {
        pool.parallel_for(n_tiles, 1, [&](int64_t begin, int64_t end) {
            kern.gemv(p, row_bytes, begin * plan.nt, std::min(p.n, end * plan.nt));
        });
        return;
    }
    const int64_t m_tiles = ceil_div(p.m, plan.mt);
    pool.parallel_for(m_tiles * n_tiles, 1, [&](int64_t begin, int64_t end) {
        float* scratch = thread_scratch(static_cast<size_t>(plan.nt * kMatmulKc));
        for (int64_t t = begin; t < end; ++t) {
            const int64_t mi = t % m_tiles, ni = t / m_tiles;
            const int64_t m0 = mi * plan.mt, n0 = ni * plan.nt;
            kern.gemm(p, row_bytes, m0, std::min(p.m, m0 + plan.mt), n0, std::min(p.n, n0 + plan.nt),
                      scratch);
        }
    });
}

void matmul_ref(const ember_matmul_params& p) {
    if (qmatmul_supports(p.w_dtype)) {
        qmatmul_ref(p);
        return;
    }
    validate(p);
    if (p.m == 0 || p.n == 0) return;
    const int64_t row_bytes = dtype_row_bytes(p.w_dtype, p.k);
    std::vector<float> w(static_cast<size_t>(p.k));
    for (int64_t j = 0; j < p.n; ++j) {
        weight_row(p.w_dtype, static_cast<const unsigned char*>(p.w) + j * row_bytes, p.k, w.data());
        for (int64_t i = 0; i < p.m; ++i) {
            const float* x = p.x + i * p.x_stride;
            double s = 0.0;
            for (int64_t q = 0; q < p.k; ++q) s += static_cast<double>(x[q]) * w[q];
            if (p.bias != nullptr) s += p.bias[j];
            float& y = p.y[i * p.y_stride + j];
            y = static_cast<float>(p.accumulate ? y + s : s);
        }
    }
}

}  // namespace ember::cpu
