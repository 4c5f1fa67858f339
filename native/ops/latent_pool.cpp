#include "ops/latent_pool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"
#include "ops/common.h"
#include "ops/gelu.h"
#include "ops/layernorm.h"
#include "ops/matmul.h"
#include "ops/swiglu_impl.h"  // the vector exp

namespace ember::cpu {

namespace {

bool weight_type_ok(int32_t dtype) {
    return dtype == EMBER_DTYPE_F32 || dtype == EMBER_DTYPE_F16 || dtype == EMBER_DTYPE_BF16;
}

// Row j of an n x k weight matrix as double.
void weight_row(const void* w, int32_t dtype, int64_t k, int64_t j, double* dst) {
    for (int64_t c = 0; c < k; ++c) {
        const int64_t i = j * k + c;
        switch (dtype) {
            case EMBER_DTYPE_F32: dst[c] = static_cast<const float*>(w)[i]; break;
            case EMBER_DTYPE_F16: dst[c] = f16_to_f32(static_cast<const uint16_t*>(w)[i]); break;
            default: dst[c] = bf16_to_f32(static_cast<const uint16_t*>(w)[i]); break;
        }
    }
}

// The whole matrix as double, row-major (the twin reads every weight once per token).
std::vector<double> weight_matrix(const void* w, int32_t dtype, int64_t n, int64_t k) {
    std::vector<double> out(static_cast<size_t>(n * k));
    for (int64_t j = 0; j < n; ++j) weight_row(w, dtype, k, j, out.data() + j * k);
    return out;
}

void layernorm_double(const double* x, int64_t d, const float* w, const float* b, double eps, double* y) {
    double mean = 0;
    for (int64_t c = 0; c < d; ++c) mean += x[c];
    mean /= d;
    double var = 0;
    for (int64_t c = 0; c < d; ++c) var += (x[c] - mean) * (x[c] - mean);
    const double inv = 1.0 / std::sqrt(var / d + eps);
    for (int64_t c = 0; c < d; ++c) y[c] = (x[c] - mean) * inv * w[c] + b[c];
}

// Tokens per block of the fast kernel: about 8M floats of block buffers (32 MiB), at least 32
// tokens so the GEMMs see enough rows to reuse each packed weight panel, at most 512.
// NV-Embed-v2: 2 * 4096 + 8 * 512 + 2 * 16384 = 45056 floats per token -> 186 tokens.
int64_t block_tokens(const ember_latent_pool_params& p, int64_t total) {
    const int64_t per_token = 2 * int64_t(p.dim) + int64_t(p.n_heads) * p.n_latents + 2 * int64_t(p.ffn_dim);
    const int64_t mc = std::clamp<int64_t>((int64_t(8) << 20) / per_token, 32, 512);
    return std::max<int64_t>(1, std::min(mc, total));
}

struct Aligned {
    struct Free {
        void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float, Free> ptr;
    explicit Aligned(int64_t floats) {
        const size_t bytes = ((static_cast<size_t>(floats) * sizeof(float) + 63) / 64) * 64;
        ptr.reset(static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64))));
        if (!ptr) EMBER_FAIL(EMBER_ERR_OUT_OF_MEMORY, "latent_pool: cannot allocate %zu bytes", bytes);
    }
    float* get() const { return ptr.get(); }
};

// softmax(scale * s) in place over each head's n_latents scores, for rows [r0, r1) of s.
void softmax_rows(const ember_latent_pool_params& p, float* s, int64_t stride, int64_t r0, int64_t r1,
                  void (*vexp)(const float*, float*, int64_t)) {
    const int64_t r = p.n_latents;
    for (int64_t row = r0; row < r1; ++row) {
        for (int32_t h = 0; h < p.n_heads; ++h) {
            float* v = s + row * stride + h * r;
            float mx = v[0];
            for (int64_t j = 1; j < r; ++j) mx = std::max(mx, v[j]);
            for (int64_t j = 0; j < r; ++j) v[j] = (v[j] - mx) * p.scale;
            vexp(v, v, r);
            double sum = 0;
            for (int64_t j = 0; j < r; ++j) sum += v[j];
            const float inv = static_cast<float>(1.0 / sum);
            for (int64_t j = 0; j < r; ++j) v[j] *= inv;
        }
    }
}

ember_matmul_params mm(const float* x, int64_t x_stride, const void* w, int32_t w_dtype, const float* bias, float* y,
                       int64_t y_stride, int64_t m, int64_t n, int64_t k, bool accumulate) {
    ember_matmul_params q{};
    q.x = x;
    q.x_stride = x_stride;
    q.w = w;
    q.w_dtype = w_dtype;
    q.bias = bias;
    q.y = y;
    q.y_stride = y_stride;
    q.m = m;
    q.n = n;
    q.k = k;
    q.accumulate = accumulate ? 1 : 0;
    return q;
}

}  // namespace

void validate(const ember_latent_pool_params& p) {
    const int64_t rows = check_cu_seqlens("latent_pool", p.cu_seqlens, p.n_seqs);
    EMBER_CHECK_ARG(p.dim > 0 && p.n_heads > 0 && p.n_latents > 0 && p.ffn_dim > 0,
                    "latent_pool: dim (%d), n_heads (%d), n_latents (%d) and ffn_dim (%d) must be positive", p.dim,
                    p.n_heads, p.n_latents, p.ffn_dim);
    EMBER_CHECK_ARG(std::isfinite(p.scale) && p.scale > 0.0f, "latent_pool: scale must be finite and positive");
    EMBER_CHECK_ARG(std::isfinite(p.eps) && p.eps >= 0.0f, "latent_pool: eps must be finite and >= 0");
    EMBER_CHECK_ARG(weight_type_ok(p.score_w_dtype) && weight_type_ok(p.value_w_dtype) && weight_type_ok(p.w0_dtype) &&
                        weight_type_ok(p.w2_dtype),
                    "latent_pool: weights must be f32, f16 or bf16");
    EMBER_CHECK_ARG(p.norm_weight && p.norm_bias && p.ffn_norm_weight && p.ffn_norm_bias && p.score_w && p.value_w &&
                        p.w0 && p.w2,
                    "latent_pool: a weight is null");
    check_rows("latent_pool: x", p.x, rows, p.dim, p.x_stride);
    check_rows("latent_pool: out", p.out, p.n_seqs, p.dim, p.dim);
    if (p.token_out != nullptr) check_rows("latent_pool: token_out", p.token_out, rows, p.dim, p.token_out_stride);
    check_pooled_seqs("latent_pool", p.cu_seqlens, p.n_seqs, p.pool_start);
}

void latent_pool(const ember_latent_pool_params& p, ThreadPool& pool) {
    validate(p);
    if (p.n_seqs == 0) return;
    const int64_t d = p.dim, hr = int64_t(p.n_heads) * p.n_latents, f = p.ffn_dim;
    const int64_t first = p.cu_seqlens[0], total = p.cu_seqlens[p.n_seqs] - first;
    const int64_t mc = block_tokens(p, total);
    auto vexp = kernels_for(active_isa(), kSwigluSse, kSwigluAvx2, kSwigluAvx512).exp;

    // Block buffers: normalised rows, scores, the two feed-forward halves [a | g], and the
    // residual stream (unless the caller wants every token's rows: then it lives in token_out).
    Aligned xn(mc * d), scores(mc * hr), ffn(mc * 2 * f);
    std::unique_ptr<Aligned> own_h;
    if (p.token_out == nullptr) own_h = std::make_unique<Aligned>(mc * d);
    std::vector<double> acc(static_cast<size_t>(p.n_seqs * d), 0.0);

    for (int64_t t0 = first; t0 < first + total; t0 += mc) {
        const int64_t m = std::min(mc, first + total - t0);
        float* h = own_h ? own_h->get() : p.token_out + t0 * p.token_out_stride;
        const int64_t hs = own_h ? d : p.token_out_stride;
        const float* x = p.x + t0 * p.x_stride;

        // X = LayerNorm(x); H = x (the residual).
        ember_layernorm_params ln{x, p.x_stride, p.norm_weight, p.norm_bias, xn.get(), d, m, p.dim, p.eps};
        layernorm(ln, pool);
        pool.parallel_for(m, std::max<int64_t>(1, 16384 / d), [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) std::memcpy(h + r * hs, x + r * p.x_stride, sizeof(float) * d);
        });
        // Scores against every head's latents at once, softmax per head, then values and the
        // output projection in one GEMM accumulated onto the residual.
        matmul(mm(xn.get(), d, p.score_w, p.score_w_dtype, nullptr, scores.get(), hr, m, hr, d, false), pool);
        pool.parallel_for(m, 1, [&](int64_t r0, int64_t r1) { softmax_rows(p, scores.get(), hr, r0, r1, vexp); });
        matmul(mm(scores.get(), hr, p.value_w, p.value_w_dtype, nullptr, h, hs, m, d, hr, true), pool);
        // Feed-forward: [a | g] = LN(H1) w0^T + b0; a *= gelu(g) in place; H += a w2^T + b2.
        ember_layernorm_params ln2{h, hs, p.ffn_norm_weight, p.ffn_norm_bias, xn.get(), d, m, p.dim, p.eps};
        layernorm(ln2, pool);
        matmul(mm(xn.get(), d, p.w0, p.w0_dtype, p.b0, ffn.get(), 2 * f, m, 2 * f, d, false), pool);
        ember_gelu_params g{ffn.get() + f, 2 * f, ffn.get(), 2 * f, ffn.get(), 2 * f, m, f};
        gelu(g, pool);
        matmul(mm(ffn.get(), 2 * f, p.w2, p.w2_dtype, p.b2, h, hs, m, d, f, true), pool);

        // The masked mean: add the block's pooled rows into each sequence's accumulator.
        const int32_t* cu = p.cu_seqlens;
        const int32_t s_first = static_cast<int32_t>(std::upper_bound(cu, cu + p.n_seqs + 1, t0) - cu) - 1;
        pool.parallel_for(d, 64, [&](int64_t c0, int64_t c1) {
            for (int32_t s = s_first; s < p.n_seqs && cu[s] < t0 + m; ++s) {
                const int64_t from = std::max<int64_t>(t0, cu[s] + (p.pool_start ? p.pool_start[s] : 0));
                const int64_t to = std::min<int64_t>(t0 + m, cu[s + 1]);
                double* a = acc.data() + s * d;
                for (int64_t t = from; t < to; ++t) {
                    const float* row = h + (t - t0) * hs;
                    for (int64_t c = c0; c < c1; ++c) a[c] += row[c];
                }
            }
        });
    }
    for (int32_t s = 0; s < p.n_seqs; ++s) {
        const double n = p.cu_seqlens[s + 1] - p.cu_seqlens[s] - (p.pool_start ? p.pool_start[s] : 0);
        for (int64_t c = 0; c < d; ++c) p.out[s * d + c] = static_cast<float>(acc[s * d + c] / n);
    }
}

void latent_pool_ref(const ember_latent_pool_params& p) {
    validate(p);
    const int64_t d = p.dim, r = p.n_latents, hr = int64_t(p.n_heads) * r, f = p.ffn_dim;
    const std::vector<double> sw = weight_matrix(p.score_w, p.score_w_dtype, hr, d),
                              vw = weight_matrix(p.value_w, p.value_w_dtype, d, hr),
                              w0 = weight_matrix(p.w0, p.w0_dtype, 2 * f, d), w2 = weight_matrix(p.w2, p.w2_dtype, d, f);
    std::vector<double> x(d), xn(d), s(hr), h1(d), y(d), g(2 * f), a(f), h2(d), mean(d);
    for (int32_t seq = 0; seq < p.n_seqs; ++seq) {
        const int64_t start = p.cu_seqlens[seq], end = p.cu_seqlens[seq + 1];
        const int64_t pooled_from = start + (p.pool_start ? p.pool_start[seq] : 0);
        std::fill(mean.begin(), mean.end(), 0.0);
        for (int64_t t = start; t < end; ++t) {
            for (int64_t c = 0; c < d; ++c) x[c] = p.x[t * p.x_stride + c];
            layernorm_double(x.data(), d, p.norm_weight, p.norm_bias, p.eps, xn.data());
            // Attention over the latents, head by head.
            for (int64_t k = 0; k < hr; ++k) {
                double dot = 0;
                for (int64_t c = 0; c < d; ++c) dot += xn[c] * sw[k * d + c];
                s[k] = dot * p.scale;
            }
            for (int32_t hd = 0; hd < p.n_heads; ++hd) {
                double* v = s.data() + hd * r;
                const double mx = *std::max_element(v, v + r);
                double sum = 0;
                for (int64_t j = 0; j < r; ++j) sum += (v[j] = std::exp(v[j] - mx));
                for (int64_t j = 0; j < r; ++j) v[j] /= sum;
            }
            for (int64_t i = 0; i < d; ++i) {
                double o = 0;
                for (int64_t k = 0; k < hr; ++k) o += s[k] * vw[i * hr + k];
                h1[i] = x[i] + o;
            }
            // GEGLU feed-forward.
            layernorm_double(h1.data(), d, p.ffn_norm_weight, p.ffn_norm_bias, p.eps, y.data());
            for (int64_t o = 0; o < 2 * f; ++o) {
                double v = p.b0 ? p.b0[o] : 0.0;
                for (int64_t c = 0; c < d; ++c) v += y[c] * w0[o * d + c];
                g[o] = v;
            }
            for (int64_t k = 0; k < f; ++k) a[k] = g[k] * 0.5 * g[f + k] * std::erfc(-g[f + k] / std::sqrt(2.0));
            for (int64_t i = 0; i < d; ++i) {
                double v = h1[i] + (p.b2 ? p.b2[i] : 0.0);
                for (int64_t k = 0; k < f; ++k) v += a[k] * w2[i * f + k];
                h2[i] = v;
                if (p.token_out != nullptr) p.token_out[t * p.token_out_stride + i] = static_cast<float>(v);
                if (t >= pooled_from) mean[i] += v;
            }
        }
        for (int64_t i = 0; i < d; ++i) p.out[seq * d + i] = static_cast<float>(mean[i] / (end - pooled_from));
    }
}

}  // namespace ember::cpu
