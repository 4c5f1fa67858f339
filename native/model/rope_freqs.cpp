#include "model/rope_freqs.h"

#include <cmath>

#include "core/error.h"

namespace ember {

RopeFrequencies compute_rope_frequencies(const RopeConfig& rope, int32_t rot_dim, int64_t max_positions,
                                         int64_t seq_len) {
    (void)max_positions;
    (void)seq_len;
    if (rot_dim <= 0 || rot_dim % 2 != 0)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "rotary dimension %d must be even and positive", rot_dim);
    RopeFrequencies f;
    const int32_t half = rot_dim / 2;
    f.inv_freq.resize(half);
    // transformers: 1 / base ** (arange(0, dim, 2).float() / dim), all in float32.
    for (int32_t j = 0; j < half; ++j) {
        const float exponent = static_cast<float>(2 * j) / static_cast<float>(rot_dim);
        const float power = static_cast<float>(std::pow(rope.theta, static_cast<double>(exponent)));
        f.inv_freq[j] = 1.0f / power;
    }
    if (rope.type == "default") return f;
    EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "RoPE scaling type \"%s\" is not supported", rope.type.c_str());
}

void build_rope_table(const RopeFrequencies& f, int64_t rows, std::vector<float>& cos, std::vector<float>& sin) {
    const size_t half = f.inv_freq.size();
    cos.resize(static_cast<size_t>(rows) * half);
    sin.resize(cos.size());
    for (int64_t p = 0; p < rows; ++p) {
        for (size_t j = 0; j < half; ++j) {
            const float angle = static_cast<float>(p) * f.inv_freq[j];
            cos[p * half + j] = static_cast<float>(std::cos(static_cast<double>(angle)) * f.attention_factor);
            sin[p * half + j] = static_cast<float>(std::sin(static_cast<double>(angle)) * f.attention_factor);
        }
    }
}

}  // namespace ember
