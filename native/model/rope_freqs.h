// The one place RoPE inverse frequencies are computed (every scaling variant lands here), and the
// cos/sin tables the rope kernels read.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace ember {

struct RopeFrequencies {
    std::vector<float> inv_freq;  // rot_dim / 2 values, float32 as transformers keeps them
    float attention_factor = 1.0f;  // multiplies cos and sin (YaRN); 1 otherwise
};

// `seq_len` matters only for dynamic scaling (the sequence's own length); `max_positions` is
// the model's max_position_embeddings. Throws MODEL_UNSUPPORTED for unknown variants and
// MODEL_MALFORMED for parameters that give no usable frequencies.
RopeFrequencies compute_rope_frequencies(const RopeConfig& rope, int32_t rot_dim, int64_t max_positions,
                                         int64_t seq_len);

// Per-pair divisors that turn the plain frequencies (base `rope.theta`) into `rope`'s: what
// llama.cpp's converter writes to GGUF as rope_freqs.weight for Llama 3 scaling. Loading them back
// (RopeConfig::freq_factors on a "default" config) gives `rope`'s frequencies within an ulp.
std::vector<float> rope_freq_factors(const RopeConfig& rope, int32_t rot_dim, int64_t max_positions);

// The context the model was trained for, which scaling extends from: original_max_positions when
// the config gives it, else max_positions.
int64_t rope_trained_context(const RopeConfig& rope, int64_t max_positions);

// Whether the frequencies depend on the sequence length (dynamic NTK): then every sequence longer
// than the trained context needs a table of its own.
bool rope_depends_on_length(const RopeConfig& rope);

// Tables for positions [0, rows): cos[p * half + j] = cos(p * inv_freq[j]) * attention_factor.
// The angle is the float32 product p * inv_freq[j] (as transformers forms it); cos and sin of
// that angle are evaluated in double and rounded once.
void build_rope_table(const RopeFrequencies& f, int64_t rows, std::vector<float>& cos, std::vector<float>& sin);
// The same rows appended after what the vectors already hold (several tables in one array).
void append_rope_table(const RopeFrequencies& f, int64_t rows, std::vector<float>& cos, std::vector<float>& sin);

}  // namespace ember
