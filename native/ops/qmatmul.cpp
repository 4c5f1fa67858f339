#include "ops/qmatmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"
#include "ops/qmatmul_impl.h"
#include "quant/quants.h"

namespace ember::cpu {

using namespace ember::quant;

namespace qmm {

void decode_block_scalar(int32_t dtype, Q8Mode q8, const uint8_t* row, int64_t b, uint8_t q[32], float ac[4]) {
    switch (dtype) {
        case EMBER_DTYPE_Q8_0: {
            BlockQ8_0 blk;
            std::memcpy(&blk, row + b * sizeof(blk), sizeof(blk));
            const float d = f16_to_f32(blk.d);
            for (int i = 0; i < 32; ++i)
                q[i] = static_cast<uint8_t>(q8 == Q8Mode::Offset ? blk.qs[i] + 128 : blk.qs[i]);
            const float c = q8 == Q8Mode::Offset ? -128.0f * d : 0.0f;
            ac[0] = ac[1] = d;
            ac[2] = ac[3] = c;
            return;
        }
        case EMBER_DTYPE_Q4_0: {
            BlockQ4_0 blk;
            std::memcpy(&blk, row + b * sizeof(blk), sizeof(blk));
            const float d = f16_to_f32(blk.d);
            for (int i = 0; i < 16; ++i) {
                q[i] = blk.qs[i] & 0xF;
                q[i + 16] = blk.qs[i] >> 4;
            }
            ac[0] = ac[1] = d;
            ac[2] = ac[3] = -8.0f * d;
            return;
        }
        case EMBER_DTYPE_Q4_K: {
            BlockQ4_K blk;
            std::memcpy(&blk, row + (b / 8) * sizeof(blk), sizeof(blk));
            const int s = static_cast<int>(b % 8);
            uint8_t sc, m;
            q4k_scale_min(s, blk.scales, &sc, &m);
            for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(q4k_quant(blk, 32 * s + i));
            ac[0] = ac[1] = f16_to_f32(blk.d) * sc;
            ac[2] = ac[3] = -f16_to_f32(blk.dmin) * m;
            return;
        }
        case EMBER_DTYPE_Q6_K: {
            BlockQ6_K blk;
            std::memcpy(&blk, row + (b / 8) * sizeof(blk), sizeof(blk));
            const int s = static_cast<int>(b % 8);
            for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(q6k_quant(blk, 32 * s + i));
            const float d = f16_to_f32(blk.d);
            ac[0] = d * blk.scales[2 * s];
            ac[1] = d * blk.scales[2 * s + 1];
            ac[2] = -32.0f * ac[0];
            ac[3] = -32.0f * ac[1];
            return;
        }
        default: EMBER_FAIL(EMBER_ERR_INTERNAL, "qmatmul: no decoder for dtype %d", dtype);
    }
}

void pack_panel_scalar(int32_t dtype, Q8Mode q8, const uint8_t* w, int64_t row_bytes, int ncols, int nr,
                       int64_t nb, uint8_t* out) {
    const int64_t bb = packed_block_bytes(nr);
    std::memset(out, 0, static_cast<size_t>(nb * bb));
    uint8_t q[32];
    float ac[4];
    for (int j = 0; j < ncols; ++j) {
        const uint8_t* row = w + j * row_bytes;
        for (int64_t b = 0; b < nb; ++b) {
            decode_block_scalar(dtype, q8, row, b, q, ac);
            uint8_t* blk = out + b * bb;
            for (int t = 0; t < 8; ++t) std::memcpy(blk + t * 4 * nr + j * 4, q + 4 * t, 4);
            float* f = reinterpret_cast<float*>(blk + 32 * nr);
            for (int h = 0; h < 4; ++h) f[h * nr + j] = ac[h];
        }
    }
}

void tile_scalar(int32_t dtype, Q8Mode q8, int nr, const uint8_t* panel, int64_t nb, const int8_t* const* xq,
                 const float* const* xm, int rows, float* out) {
    const bool is_signed = dtype == EMBER_DTYPE_Q8_0 && q8 == Q8Mode::Signed;
    const int64_t bb = packed_block_bytes(nr);
    std::vector<float> acc(static_cast<size_t>(nr));
    for (int i = 0; i < rows; ++i) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t b = 0; b < nb; ++b) {
            const uint8_t* blk = panel + b * bb;
            const float* f = reinterpret_cast<const float*>(blk + 32 * nr);
            const int8_t* x = xq[i] + b * kBlock;
            const float* m = xm[i] + quant::kActMeta * b;
            for (int j = 0; j < nr; ++j) {
                int32_t s[2] = {0, 0};
                for (int t = 0; t < 8; ++t)
                    for (int e = 0; e < 4; ++e) {
                        const uint8_t v = blk[t * 4 * nr + j * 4 + e];
                        const int32_t wq = is_signed ? static_cast<int8_t>(v) : v;
                        s[t / 4] += wq * x[4 * t + e];
                    }
                acc[j] += m[0] * (f[j] * static_cast<float>(s[0]) + f[nr + j] * static_cast<float>(s[1])) +
                          f[2 * nr + j] * m[1] + f[3 * nr + j] * m[2];
            }
        }
        std::memcpy(out + i * nr, acc.data(), static_cast<size_t>(nr) * sizeof(float));
    }
}

}  // namespace qmm

namespace {

using qmm::Path;

Path pick_path(Isa isa) {
    if (isa > active_isa()) isa = active_isa();
    if (isa == Isa::Avx512 && cpu_features().avx512_vnni) return Path::Avx512Vnni;
    if (isa >= Isa::Avx2) return Path::Avx2;
    return Path::Scalar;
}

// Rows of activations per micro-kernel call and columns per panel, per path.
int path_mr(Path p) { return p == Path::Avx512Vnni || p == Path::EmulatedVnni ? 8 : 4; }
int path_nr(Path p) { return p == Path::Avx512Vnni || p == Path::EmulatedVnni ? 16 : 8; }

// 64-byte aligned growable buffer: the micro-kernels use aligned loads on packed panels.
class AlignedBuffer {
  public:
    ~AlignedBuffer() { std::free(data_); }
    uint8_t* get(size_t bytes) {
        if (bytes > size_) {
            std::free(data_);
            size_ = (bytes + 63) / 64 * 64;
            data_ = static_cast<uint8_t*>(std::aligned_alloc(64, size_));
            if (data_ == nullptr) {
                size_ = 0;
                EMBER_FAIL(EMBER_ERR_OUT_OF_MEMORY, "qmatmul: cannot allocate %zu bytes of scratch", bytes);
            }
        }
        return data_;
    }

  private:
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

struct Scratch {
    AlignedBuffer packed;
    std::vector<float> tile;
};

Scratch& thread_scratch() {
    thread_local Scratch s;
    return s;
}

}  // namespace

bool qmatmul_supports(int32_t dtype) {
    return dtype == EMBER_DTYPE_Q8_0 || dtype == EMBER_DTYPE_Q4_0 || dtype == EMBER_DTYPE_Q4_K ||
           dtype == EMBER_DTYPE_Q6_K;
}

void qmatmul_validate(const ember_matmul_params& p) {
    EMBER_CHECK_ARG(qmatmul_supports(p.w_dtype), "qmatmul: weight dtype %d is not a quantized type", p.w_dtype);
    EMBER_CHECK_ARG(p.m >= 0 && p.n >= 0 && p.k >= 0, "qmatmul: negative size (m %lld, n %lld, k %lld)",
                    (long long)p.m, (long long)p.n, (long long)p.k);
    const DtypeInfo* info = dtype_info(p.w_dtype);
    EMBER_CHECK_ARG(p.k % info->block_elems == 0, "qmatmul: k = %lld is not a multiple of the %s block size %d",
                    (long long)p.k, info->name, info->block_elems);
    if (p.m == 0 || p.n == 0) return;
    EMBER_CHECK_ARG(p.x != nullptr && p.w != nullptr && p.y != nullptr, "qmatmul: null x, w or y");
    EMBER_CHECK_ARG(p.x_stride >= p.k && p.y_stride >= p.n, "qmatmul: strides (x %lld, y %lld) below k %lld / n %lld",
                    (long long)p.x_stride, (long long)p.y_stride, (long long)p.k, (long long)p.n);
    EMBER_CHECK_ARG(p.k < (int64_t(1) << 31) && p.n < (int64_t(1) << 40) && p.m < (int64_t(1) << 40) &&
                        p.m * p.k < (int64_t(1) << 46),
                    "qmatmul: sizes too large");
}

void qmatmul(const ember_matmul_params& p, ThreadPool& pool) { qmatmul(p, pool, active_isa()); }

void qmatmul(const ember_matmul_params& p, ThreadPool& pool, Isa isa) { qmm::qmatmul_path(p, pool, pick_path(isa)); }

void qmm::qmatmul_path(const ember_matmul_params& p, ThreadPool& pool, Path path) {
    qmatmul_validate(p);
    const int64_t m = p.m, n = p.n, k = p.k;
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                float* y = p.y + i * p.y_stride + j;
                *y = (p.accumulate ? *y : 0.0f) + (p.bias ? p.bias[j] : 0.0f);
            }
        return;
    }
    // Never enter code the CPU cannot run, whatever the caller asked for.
    if (path == Path::Avx512Vnni && pick_path(Isa::Avx512) != Path::Avx512Vnni) path = Path::Avx2;
    if (path != Path::Scalar && active_isa() < Isa::Avx2) path = Path::Scalar;  // AVX2 packing needed
    const int MR = path_mr(path), NR = path_nr(path);
    const int64_t nb = k / qmm::kBlock;
    const int64_t row_bytes = dtype_row_bytes(p.w_dtype, k);
    const uint8_t* w = static_cast<const uint8_t*>(p.w);
    const qmm::Q8Mode q8 =
        path == Path::Avx512Vnni || path == Path::EmulatedVnni ? qmm::Q8Mode::Offset : qmm::Q8Mode::Signed;

    // 1. Activations to int8, in the calling thread's scratch (kept between calls).
    thread_local AlignedBuffer act_q, act_meta;
    int8_t* const xq = reinterpret_cast<int8_t*>(act_q.get(static_cast<size_t>(m * k)));
    float* const xm = reinterpret_cast<float*>(act_meta.get(static_cast<size_t>(m * nb * quant::kActMeta) * sizeof(float)));
    pool.parallel_for(m, std::max<int64_t>(1, 16384 / k), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* x = p.x + r * p.x_stride;
            if (path == Path::Scalar)
                quantize_act_row_ref(x, k, xq + r * k, xm + r * nb * quant::kActMeta);
            else
                qmm::quantize_acts_avx2(x, k, xq + r * k, xm + r * nb * quant::kActMeta);
        }
    });

    // 2a. A few rows: no packing (AVX2 kernel on both SIMD paths).
    if (m <= qmm::kGemvMaxRows && (path == Path::Avx2 || path == Path::Avx512Vnni)) {
        const int64_t cols = std::max<int64_t>(16, (n + pool.size() * 4 - 1) / (pool.size() * 4));
        pool.parallel_for((n + cols - 1) / cols, 1, [&](int64_t c0, int64_t c1) {
            const int8_t* xqp[qmm::kGemvMaxRows];
            const float* xmp[qmm::kGemvMaxRows];
            for (int64_t r = 0; r < m; ++r) {
                xqp[r] = xq + r * k;
                xmp[r] = xm + r * nb * quant::kActMeta;
            }
            const int64_t j0 = c0 * cols, j1 = std::min(n, c1 * cols);
            std::vector<float> out(static_cast<size_t>(m * (j1 - j0)));
            qmm::gemv_avx2(p.w_dtype, w, row_bytes, j0, j1, nb, xqp, xmp, static_cast<int>(m), out.data(), j1 - j0);
            for (int64_t r = 0; r < m; ++r) {
                float* y = p.y + r * p.y_stride;
                const float* o = out.data() + r * (j1 - j0);
                for (int64_t j = j0; j < j1; ++j) {
                    const float v = o[j - j0] + (p.bias ? p.bias[j] : 0.0f);
                    y[j] = p.accumulate ? y[j] + v : v;
                }
            }
        });
        return;
    }

    // 2b. Column panels in groups small enough for L2, several groups per thread for balance.
    const int64_t panels = (n + NR - 1) / NR;
    const int64_t panel_bytes = nb * qmm::packed_block_bytes(NR);
    int64_t group = std::max<int64_t>(1, (192 << 10) / panel_bytes);
    const int64_t want_tasks = int64_t(pool.size()) * 4;
    group = std::max<int64_t>(1, std::min(group, (panels + want_tasks - 1) / want_tasks));
    const int64_t tasks = (panels + group - 1) / group;

    pool.parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
        Scratch& s = thread_scratch();
        uint8_t* packed = s.packed.get(static_cast<size_t>(group * panel_bytes));
        s.tile.resize(static_cast<size_t>(MR * NR));
        std::vector<const int8_t*> xqp(MR);
        std::vector<const float*> xmp(MR);
        for (int64_t task = t0; task < t1; ++task) {
            const int64_t pan0 = task * group, pan1 = std::min(panels, pan0 + group);
            for (int64_t pn = pan0; pn < pan1; ++pn) {
                const int64_t j0 = pn * NR;
                const int ncols = static_cast<int>(std::min<int64_t>(NR, n - j0));
                uint8_t* dst = packed + (pn - pan0) * panel_bytes;
                const uint8_t* src = w + j0 * row_bytes;
                if (path == Path::Scalar) {
                    qmm::pack_panel_scalar(p.w_dtype, q8, src, row_bytes, ncols, NR, nb, dst);
                } else {
                    for (int half = 0; half < NR / 8; ++half) {
                        const int c0 = half * 8;
                        const int nc = std::max(0, std::min(8, ncols - c0));
                        qmm::pack_panel_avx2(p.w_dtype, q8, src + c0 * row_bytes, row_bytes, nc, NR, c0, nb, dst);
                    }
                }
            }
            for (int64_t i0 = 0; i0 < m; i0 += MR) {
                const int rows = static_cast<int>(std::min<int64_t>(MR, m - i0));
                for (int r = 0; r < rows; ++r) {
                    xqp[r] = xq + (i0 + r) * k;
                    xmp[r] = xm + (i0 + r) * nb * quant::kActMeta;
                }
                for (int64_t pn = pan0; pn < pan1; ++pn) {
                    const uint8_t* panel = packed + (pn - pan0) * panel_bytes;
                    float* out = s.tile.data();
                    switch (path) {
                        case Path::Avx512Vnni: qmm::tile_avx512(p.w_dtype, panel, nb, xqp.data(), xmp.data(), rows, out); break;
                        case Path::Avx2: qmm::tile_avx2(p.w_dtype, panel, nb, xqp.data(), xmp.data(), rows, out); break;
                        default: qmm::tile_scalar(p.w_dtype, q8, NR, panel, nb, xqp.data(), xmp.data(), rows, out); break;
                    }
                    const int64_t j0 = pn * NR;
                    const int ncols = static_cast<int>(std::min<int64_t>(NR, n - j0));
                    for (int r = 0; r < rows; ++r) {
                        float* y = p.y + (i0 + r) * p.y_stride + j0;
                        const float* o = out + r * NR;
                        if (p.accumulate) {
                            for (int j = 0; j < ncols; ++j) y[j] += o[j] + (p.bias ? p.bias[j0 + j] : 0.0f);
                        } else {
                            for (int j = 0; j < ncols; ++j) y[j] = o[j] + (p.bias ? p.bias[j0 + j] : 0.0f);
                        }
                    }
                }
            }
        }
    });
}

void qmatmul_ref(const ember_matmul_params& p) {
    qmatmul_validate(p);
    const int64_t row_bytes = dtype_row_bytes(p.w_dtype, p.k);
    std::vector<float> wrow(static_cast<size_t>(p.k));
    for (int64_t j = 0; j < p.n; ++j) {
        dequantize_row(p.w_dtype, static_cast<const uint8_t*>(p.w) + j * row_bytes, wrow.data(), p.k);
        for (int64_t i = 0; i < p.m; ++i) {
            const float* x = p.x + i * p.x_stride;
            double s = 0.0;
            for (int64_t e = 0; e < p.k; ++e) s += static_cast<double>(x[e]) * wrow[e];
            if (p.bias) s += p.bias[j];
            float* y = p.y + i * p.y_stride + j;
            *y = p.accumulate ? static_cast<float>(*y + s) : static_cast<float>(s);
        }
    }
}

}  // namespace ember::cpu
