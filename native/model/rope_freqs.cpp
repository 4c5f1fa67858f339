#include "model/rope_freqs.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ember {

namespace {

// Each variant follows transformers' modeling_rope_utils (5.x) operation by operation: tensors
// are float32 there and Python scalars double, so float32 steps are written as float and scalar
// ones as double; that keeps the results within an ulp of transformers' own numbers.

// base^(2j / d) as `base ** (arange(0, d, 2).float() / d)` evaluates it: a float32 power, the
// Python base rounded to float32 first (it matters for dynamic NTK's computed bases), computed
// here in double and rounded once.
float pair_power(double base, int32_t j, int32_t dim) {
    const float exponent = static_cast<float>(2 * j) / static_cast<float>(dim);
    return static_cast<float>(std::pow(static_cast<double>(static_cast<float>(base)), static_cast<double>(exponent)));
}

// 1 / base^(2j / d) for the rot_dim / 2 pairs (a float32 reciprocal of the power).
std::vector<float> default_inv_freq(double base, int32_t dim) {
    std::vector<float> inv(static_cast<size_t>(dim / 2));
    for (int32_t j = 0; j < dim / 2; ++j) inv[j] = 1.0f / pair_power(base, j, dim);
    return inv;
}

double require_factor(const RopeConfig& r) {
    if (!(r.factor > 0.0) || !std::isfinite(r.factor))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "RoPE scaling \"%s\" needs a factor > 0", r.type.c_str());
    return r.factor;
}

// NTK-aware base for a factor: base * factor^(d / (d - 2)), the closed form that keeps the lowest
// frequency's wavelength scaled by exactly `factor`.
double ntk_base(double base, double factor, int32_t dim) {
    if (dim <= 2) EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "NTK RoPE scaling needs a rotary dimension above 2");
    return base * std::pow(factor, static_cast<double>(dim) / static_cast<double>(dim - 2));
}

// YaRN (Peng et al. 2023): pairs that turn more than beta_fast times within the original context
// keep their frequency (extrapolation), pairs that turn fewer than beta_slow times are divided by
// the factor (interpolation), a linear ramp in between.
RopeFrequencies yarn(const RopeConfig& r, int32_t dim, int64_t max_positions) {
    const int64_t original = rope_trained_context(r, max_positions);
    const double factor = r.factor > 0.0 ? r.factor : static_cast<double>(max_positions) / static_cast<double>(original);
    if (!(factor > 0.0) || !std::isfinite(factor))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "RoPE scaling \"yarn\" needs a factor > 0");
    auto mscale = [](double scale, double m) { return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
    double attention = r.attention_factor;
    if (attention == 0.0)
        attention = r.mscale != 0.0 && r.mscale_all_dim != 0.0 ? mscale(factor, r.mscale) / mscale(factor, r.mscale_all_dim)
                                                               : mscale(factor, 1.0);
    // Pair index at which a pair makes `rotations` turns over the original context (fractional).
    auto correction_dim = [&](double rotations) {
        return static_cast<double>(dim) * std::log(static_cast<double>(original) / (rotations * 2.0 * M_PI)) /
               (2.0 * std::log(r.theta));
    };
    double low = correction_dim(r.beta_fast), high = correction_dim(r.beta_slow);
    if (r.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high) high += 0.001;  // transformers' guard against a zero-width ramp
    const float flow = static_cast<float>(low), fwidth = static_cast<float>(high - low);

    RopeFrequencies f;
    f.inv_freq.resize(static_cast<size_t>(dim / 2));
    const float ffactor = static_cast<float>(factor);
    for (int32_t j = 0; j < dim / 2; ++j) {
        const float pos_freq = pair_power(r.theta, j, dim);
        const float extrapolation = 1.0f / pos_freq;
        const float interpolation = 1.0f / (ffactor * pos_freq);
        const float ramp = std::clamp((static_cast<float>(j) - flow) / fwidth, 0.0f, 1.0f);
        const float keep = 1.0f - ramp;  // share of the extrapolated (unscaled) frequency
        f.inv_freq[j] = interpolation * (1.0f - keep) + extrapolation * keep;
    }
    f.attention_factor = static_cast<float>(attention);
    return f;
}

// Llama 3.1: wavelengths longer than original / low_freq_factor are divided by the factor,
// shorter than original / high_freq_factor kept, a smooth blend in between.
RopeFrequencies llama3(const RopeConfig& r, int32_t dim, int64_t max_positions) {
    const double factor = require_factor(r);
    const double original = static_cast<double>(rope_trained_context(r, max_positions));
    const double low = r.low_freq_factor, high = r.high_freq_factor;
    if (!(low > 0.0) || !(high > low))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "RoPE scaling \"llama3\" needs 0 < low_freq_factor < high_freq_factor");
    const float low_wavelen = static_cast<float>(original / low), high_wavelen = static_cast<float>(original / high);
    const float ffactor = static_cast<float>(factor), forig = static_cast<float>(original);
    const float flow = static_cast<float>(low), fwidth = static_cast<float>(high - low);
    RopeFrequencies f;
    f.inv_freq = default_inv_freq(r.theta, dim);
    for (float& inv : f.inv_freq) {
        const float wavelen = static_cast<float>(2.0 * M_PI) / inv;
        const float scaled = wavelen > low_wavelen ? inv / ffactor : inv;
        if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
            const float smooth = (forig / wavelen - flow) / fwidth;
            inv = (1.0f - smooth) * scaled / ffactor + smooth * scaled;
        } else {
            inv = scaled;
        }
    }
    return f;
}

}  // namespace

int64_t rope_trained_context(const RopeConfig& rope, int64_t max_positions) {
    return rope.original_max_positions > 0 ? rope.original_max_positions : max_positions;
}

bool rope_depends_on_length(const RopeConfig& rope) { return rope.type == "dynamic"; }

RopeFrequencies compute_rope_frequencies(const RopeConfig& rope, int32_t rot_dim, int64_t max_positions,
                                         int64_t seq_len) {
    if (rot_dim <= 0 || rot_dim % 2 != 0)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "rotary dimension %d must be even and positive", rot_dim);
    if (max_positions <= 0) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "max_position_embeddings must be positive");
    const std::string& t = rope.type;
    RopeFrequencies f;
    if (t == "default") {
        f.inv_freq = default_inv_freq(rope.theta, rot_dim);
    } else if (t == "linear") {
        // Dividing the frequencies is dividing the positions: position interpolation.
        const float factor = static_cast<float>(require_factor(rope));
        f.inv_freq = default_inv_freq(rope.theta, rot_dim);
        for (float& inv : f.inv_freq) inv /= factor;
    } else if (t == "ntk") {
        f.inv_freq = default_inv_freq(ntk_base(rope.theta, require_factor(rope), rot_dim), rot_dim);
    } else if (t == "dynamic") {
        // The NTK base for this sequence: unchanged up to the context the model was trained for,
        // then base * (factor * L / Lmax - (factor - 1))^(d / (d - 2)).
        const double factor = require_factor(rope);
        const double lmax = static_cast<double>(rope_trained_context(rope, max_positions));
        const double len = std::max(static_cast<double>(seq_len), lmax);
        f.inv_freq = default_inv_freq(ntk_base(rope.theta, factor * len / lmax - (factor - 1.0), rot_dim), rot_dim);
    } else if (t == "yarn") {
        f = yarn(rope, rot_dim, max_positions);
    } else if (t == "llama3") {
        f = llama3(rope, rot_dim, max_positions);
    } else {
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED,
                   "RoPE scaling type \"%s\" is not supported (supported: default, linear, ntk, dynamic, yarn, llama3)",
                   t.c_str());
    }
    if (!rope.freq_factors.empty()) {
        // llama.cpp's rule (ggml_rope_ext's freq_factors): each pair's angle divided by its factor.
        if (rope.freq_factors.size() != f.inv_freq.size())
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "RoPE frequency factors: %zu values for %zu frequency pairs",
                       rope.freq_factors.size(), f.inv_freq.size());
        for (size_t j = 0; j < f.inv_freq.size(); ++j) {
            const float factor = rope.freq_factors[j];
            if (!std::isfinite(factor) || !(factor > 0.0f))
                EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "RoPE frequency factor %zu is %g (must be finite and positive)", j,
                           static_cast<double>(factor));
            f.inv_freq[j] = static_cast<float>(static_cast<double>(f.inv_freq[j]) / factor);
        }
    }
    for (float inv : f.inv_freq)
        if (!std::isfinite(inv) || !(inv > 0.0f))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "RoPE \"%s\" with base %g gives a non-positive frequency", t.c_str(),
                       rope.theta);
    if (!std::isfinite(f.attention_factor) || !(f.attention_factor > 0.0f))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "RoPE attention factor %g is not positive", f.attention_factor);
    return f;
}

std::vector<float> rope_freq_factors(const RopeConfig& rope, int32_t rot_dim, int64_t max_positions) {
    RopeConfig plain;
    plain.theta = rope.theta;
    const RopeFrequencies base = compute_rope_frequencies(plain, rot_dim, max_positions, 0);
    const RopeFrequencies scaled = compute_rope_frequencies(rope, rot_dim, max_positions, 0);
    std::vector<float> factors(base.inv_freq.size());
    for (size_t j = 0; j < factors.size(); ++j)
        factors[j] = static_cast<float>(static_cast<double>(base.inv_freq[j]) / scaled.inv_freq[j]);
    return factors;
}

void build_rope_table(const RopeFrequencies& f, int64_t rows, std::vector<float>& cos, std::vector<float>& sin) {
    cos.clear();
    sin.clear();
    append_rope_table(f, rows, cos, sin);
}

void append_rope_table(const RopeFrequencies& f, int64_t rows, std::vector<float>& cos, std::vector<float>& sin) {
    const size_t half = f.inv_freq.size(), at = cos.size();
    cos.resize(at + static_cast<size_t>(rows) * half);
    sin.resize(cos.size());
    float* c = cos.data() + at;
    float* s = sin.data() + at;
    for (int64_t p = 0; p < rows; ++p) {
        for (size_t j = 0; j < half; ++j) {
            const float angle = static_cast<float>(p) * f.inv_freq[j];
            c[p * half + j] = static_cast<float>(std::cos(static_cast<double>(angle)) * f.attention_factor);
            s[p * half + j] = static_cast<float>(std::sin(static_cast<double>(angle)) * f.attention_factor);
        }
    }
}

}  // namespace ember
