#include "quant/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"

namespace ember::quant {

namespace {

inline float h2f(uint16_t h) { return f16_to_f32(h); }
inline uint16_t f2h(float f) { return f32_to_f16(f); }

// Round to nearest, ties away from zero (ggml's nearest_int rounds ties to even through a float
// trick; the difference only shows on exact .5 values and does not matter for the format).
inline int nearest_int(float v) { return static_cast<int>(std::lround(v)); }

constexpr float kGroupMaxEps = 1e-15f;

// Weighted least-squares fit of x ~ scale * L + min with L in [0, nmax], min <= 0, trying the
// grid spacings (nmax + rmin + rdelta * s) / (max - min) for s = 0..nstep and keeping the one with
// the smallest weighted squared error. Returns the scale; *neg_min receives -min (>= 0).
// After ggml's make_qkx2_quants (ggml-quants.c).
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min, float rmin,
                    float rdelta, int nstep) {
    float mn = x[0], mx = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; ++i) {
        mn = std::min(mn, x[i]);
        mx = std::max(mx, x[i]);
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0) mn = 0;
    if (!(mx > mn)) {  // constant block (or NaN): all quants 0
        std::memset(L, 0, static_cast<size_t>(n));
        *neg_min = -mn;
        return 0.0f;
    }
    float iscale = nmax / (mx - mn);
    float scale = 1.0f / iscale;
    float best = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::clamp(nearest_int(iscale * (x[i] - mn)), 0, nmax);
        L[i] = static_cast<uint8_t>(l);
        const float d = scale * l + mn - x[i];
        best += w[i] * d * d;
    }
    uint8_t aux[32];
    for (int s = 0; s <= nstep; ++s) {
        iscale = (rmin + rdelta * s + nmax) / (mx - mn);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::clamp(nearest_int(iscale * (x[i] - mn)), 0, nmax);
            aux[i] = static_cast<uint8_t>(l);
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0;
            for (int i = 0; i < n; ++i) {
                const float d = this_scale * aux[i] + this_min - x[i];
                err += w[i] * d * d;
            }
            if (err < best) {
                std::memcpy(L, aux, static_cast<size_t>(n));
                best = err;
                scale = this_scale;
                mn = this_min;
            }
        }
    }
    *neg_min = -mn;
    return scale;
}

// Symmetric fit x ~ scale * (L - nmax) with L - nmax in [-nmax, nmax - 1], weights x^2, trying
// 19 grid spacings around nmax / max|x|. After ggml's make_qx_quants (rmse_type 1).
float fit_scale_symmetric(int n, int nmax, const float* x, int8_t* L) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (!(amax >= kGroupMaxEps)) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.0f;
    }
    auto trial = [&](float iscale, float* sumlx, float* suml2, bool store) {
        *sumlx = *suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            *sumlx += w * x[i] * l;
            *suml2 += w * l * l;
            if (store) L[i] = static_cast<int8_t>(l + nmax);
        }
    };
    float sumlx, suml2;
    trial(-nmax / max, &sumlx, &suml2, true);
    float scale = suml2 > 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int s = -9; s <= 9; ++s) {
        if (s == 0) continue;
        const float iscale = -(nmax + 0.1f * s) / max;
        trial(iscale, &sumlx, &suml2, false);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            trial(iscale, &sumlx, &suml2, true);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

}  // namespace

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
    for (int64_t b = 0; b < n / kQK8_0; ++b, x += kQK8_0) {
        float amax = 0;
        for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = f2h(d);
        for (int j = 0; j < kQK8_0; ++j) {
            const float v = std::clamp(x[j] * id, -127.0f, 127.0f);
            y[b].qs[j] = static_cast<int8_t>(std::isfinite(v) ? std::lround(v) : 0);
        }
    }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
    for (int64_t b = 0; b < n / kQK4_0; ++b, x += kQK4_0) {
        float amax = 0, max = 0;  // max: the value of largest magnitude, with its sign
        for (int j = 0; j < kQK4_0; ++j) {
            if (std::fabs(x[j]) > amax) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = f2h(d);
        auto q = [&](float v) {
            const float t = std::clamp(v * id + 8.5f, 0.0f, 15.99f);
            return static_cast<uint8_t>(std::isfinite(t) ? static_cast<int>(t) : 8);
        };
        for (int j = 0; j < kQK4_0 / 2; ++j)
            y[b].qs[j] = static_cast<uint8_t>(q(x[j]) | (q(x[j + 16]) << 4));
    }
}

void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n) {
    uint8_t L[kQK_K];
    float weights[32], mins[kQK_K / 32], scales[kQK_K / 32];
    for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
        BlockQ4_K& out = y[b];
        float sum_x2 = 0;
        for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
        const float av_x = std::sqrt(sum_x2 / kQK_K);
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < kQK_K / 32; ++j) {
            for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
            scales[j] = fit_scale_min(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], -1.0f, 0.1f, 20);
            max_scale = std::max(max_scale, scales[j]);
            max_min = std::max(max_min, mins[j]);
        }
        const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
        const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
        std::memset(out.scales, 0, sizeof(out.scales));
        for (int j = 0; j < kQK_K / 32; ++j) {
            const int ls = std::clamp(nearest_int(inv_scale * scales[j]), 0, 63);
            const int lm = std::clamp(nearest_int(inv_min * mins[j]), 0, 63);
            if (j < 4) {
                out.scales[j] = static_cast<uint8_t>(ls);
                out.scales[j + 4] = static_cast<uint8_t>(lm);
            } else {
                out.scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
                out.scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
                out.scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
            }
        }
        out.d = f2h(max_scale / 63.0f);
        out.dmin = f2h(max_min / 63.0f);
        // Requantize against the rounded scales actually stored.
        for (int j = 0; j < kQK_K / 32; ++j) {
            uint8_t sc, m;
            q4k_scale_min(j, out.scales, &sc, &m);
            const float d = h2f(out.d) * sc;
            if (d == 0.0f) continue;
            const float dm = h2f(out.dmin) * m;
            for (int l = 0; l < 32; ++l) {
                const float v = (x[32 * j + l] + dm) / d;
                L[32 * j + l] = static_cast<uint8_t>(std::isfinite(v) ? std::clamp(nearest_int(v), 0, 15) : 0);
            }
        }
        for (int j = 0; j < kQK_K; j += 64)
            for (int l = 0; l < 32; ++l)
                out.qs[j / 2 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
}

void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n) {
    int8_t L[kQK_K];
    float scales[kQK_K / 16];
    for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
        BlockQ6_K& out = y[b];
        float max_scale = 0, max_abs_scale = 0;
        for (int s = 0; s < kQK_K / 16; ++s) {
            scales[s] = fit_scale_symmetric(16, 32, x + 16 * s, L + 16 * s);
            if (std::fabs(scales[s]) > max_abs_scale) {
                max_abs_scale = std::fabs(scales[s]);
                max_scale = scales[s];
            }
        }
        std::memset(&out, 0, sizeof(out));
        if (!(max_abs_scale >= kGroupMaxEps)) continue;  // all zero
        const float iscale = -128.0f / max_scale;
        out.d = f2h(1.0f / iscale);
        for (int s = 0; s < kQK_K / 16; ++s)
            out.scales[s] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[s])));
        for (int s = 0; s < kQK_K / 16; ++s) {
            const float d = h2f(out.d) * out.scales[s];
            if (d == 0.0f) {
                for (int l = 0; l < 16; ++l) L[16 * s + l] = 32;
                continue;
            }
            for (int l = 0; l < 16; ++l) {
                const float v = x[16 * s + l] / d;
                L[16 * s + l] = static_cast<int8_t>((std::isfinite(v) ? std::clamp(nearest_int(v), -32, 31) : 0) + 32);
            }
        }
        for (int j = 0; j < kQK_K; j += 128) {
            uint8_t* ql = out.ql + j / 2;
            uint8_t* qh = out.qh + j / 4;
            for (int l = 0; l < 32; ++l) {
                const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }
}

bool dequantize_row(int32_t dtype, const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    switch (dtype) {
        case EMBER_DTYPE_F32:
            std::memcpy(dst, p, static_cast<size_t>(n) * 4);
            return true;
        case EMBER_DTYPE_F16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                dst[i] = f16_to_f32(h);
            }
            return true;
        case EMBER_DTYPE_BF16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                dst[i] = bf16_to_f32(h);
            }
            return true;
        case EMBER_DTYPE_Q8_0: {
            if (n % kQK8_0) return false;
            BlockQ8_0 b;
            for (int64_t i = 0; i < n / kQK8_0; ++i) {
                std::memcpy(&b, p + i * sizeof(b), sizeof(b));
                const float d = h2f(b.d);
                for (int j = 0; j < kQK8_0; ++j) dst[i * kQK8_0 + j] = d * b.qs[j];
            }
            return true;
        }
        case EMBER_DTYPE_Q4_0: {
            if (n % kQK4_0) return false;
            BlockQ4_0 b;
            for (int64_t i = 0; i < n / kQK4_0; ++i) {
                std::memcpy(&b, p + i * sizeof(b), sizeof(b));
                const float d = h2f(b.d);
                float* o = dst + i * kQK4_0;
                for (int j = 0; j < 16; ++j) {
                    o[j] = d * ((b.qs[j] & 0xF) - 8);
                    o[j + 16] = d * ((b.qs[j] >> 4) - 8);
                }
            }
            return true;
        }
        case EMBER_DTYPE_Q4_K: {
            if (n % kQK_K) return false;
            BlockQ4_K b;
            for (int64_t i = 0; i < n / kQK_K; ++i) {
                std::memcpy(&b, p + i * sizeof(b), sizeof(b));
                const float d = h2f(b.d), dmin = h2f(b.dmin);
                float* o = dst + i * kQK_K;
                for (int s = 0; s < 8; ++s) {
                    uint8_t sc, m;
                    q4k_scale_min(s, b.scales, &sc, &m);
                    const float d1 = d * sc, m1 = dmin * m;
                    for (int l = 0; l < 32; ++l) o[32 * s + l] = d1 * q4k_quant(b, 32 * s + l) - m1;
                }
            }
            return true;
        }
        case EMBER_DTYPE_Q6_K: {
            if (n % kQK_K) return false;
            BlockQ6_K b;
            for (int64_t i = 0; i < n / kQK_K; ++i) {
                std::memcpy(&b, p + i * sizeof(b), sizeof(b));
                const float d = h2f(b.d);
                float* o = dst + i * kQK_K;
                for (int e = 0; e < kQK_K; ++e) o[e] = d * b.scales[e / 16] * (q6k_quant(b, e) - 32);
            }
            return true;
        }
        default: return false;
    }
}

bool quantize_row(int32_t dtype, const float* src, void* dst, int64_t n) {
    uint8_t* p = static_cast<uint8_t*>(dst);
    switch (dtype) {
        case EMBER_DTYPE_F32: std::memcpy(p, src, static_cast<size_t>(n) * 4); return true;
        case EMBER_DTYPE_F16:
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = f32_to_f16(src[i]);
                std::memcpy(p + 2 * i, &h, 2);
            }
            return true;
        case EMBER_DTYPE_BF16:
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = f32_to_bf16(src[i]);
                std::memcpy(p + 2 * i, &h, 2);
            }
            return true;
        // The block structs have alignment 1 or 2 and the writers hand aligned buffers, but go
        // through a local block to stay independent of the destination's alignment.
        case EMBER_DTYPE_Q8_0:
            if (n % kQK8_0) return false;
            for (int64_t i = 0; i < n / kQK8_0; ++i) {
                BlockQ8_0 b;
                quantize_row_q8_0(src + i * kQK8_0, &b, kQK8_0);
                std::memcpy(p + i * sizeof(b), &b, sizeof(b));
            }
            return true;
        case EMBER_DTYPE_Q4_0:
            if (n % kQK4_0) return false;
            for (int64_t i = 0; i < n / kQK4_0; ++i) {
                BlockQ4_0 b;
                quantize_row_q4_0(src + i * kQK4_0, &b, kQK4_0);
                std::memcpy(p + i * sizeof(b), &b, sizeof(b));
            }
            return true;
        case EMBER_DTYPE_Q4_K:
            if (n % kQK_K) return false;
            for (int64_t i = 0; i < n / kQK_K; ++i) {
                BlockQ4_K b;
                quantize_row_q4_k(src + i * kQK_K, &b, kQK_K);
                std::memcpy(p + i * sizeof(b), &b, sizeof(b));
            }
            return true;
        case EMBER_DTYPE_Q6_K:
            if (n % kQK_K) return false;
            for (int64_t i = 0; i < n / kQK_K; ++i) {
                BlockQ6_K b;
                quantize_row_q6_k(src + i * kQK_K, &b, kQK_K);
                std::memcpy(p + i * sizeof(b), &b, sizeof(b));
            }
            return true;
        default: return false;
    }
}

void quantize_act_row_ref(const float* x, int64_t k, int8_t* q, float* meta) {
    for (int64_t b = 0; b < k / kActBlock; ++b) {
        const float* xb = x + b * kActBlock;
        int8_t* qb = q + b * kActBlock;
        float amax = 0;
        for (int j = 0; j < kActBlock; ++j) amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 127.0f / amax : 0.0f;
        int sum_lo = 0, sum_hi = 0;
        for (int j = 0; j < kActBlock; ++j) {
            const float v = std::clamp(xb[j] * id, -127.0f, 127.0f);
            const int qi = std::isfinite(v) ? static_cast<int>(std::nearbyint(v)) : 0;
            qb[j] = static_cast<int8_t>(qi);
            (j < 16 ? sum_lo : sum_hi) += qi;
        }
        float* mb = meta + kActMeta * b;
        mb[0] = d;
        mb[1] = d * static_cast<float>(sum_lo);
        mb[2] = d * static_cast<float>(sum_hi);
        mb[3] = mb[1] + mb[2];
    }
}

}  // namespace ember::quant
