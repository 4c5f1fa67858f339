// GGUF (ggml) block formats for quantized weights, shared by the CPU and CUDA code, with scalar
// reference quantize / dequantize for each. Layouts follow ggml's `block_q8_0` ... `block_q6_K`
// (ggml-common.h) byte for byte, so GGUF tensor data is used in place.
//
// Also the int8 activation format the quantized matmul uses: each row of activations cut into
// blocks of 32, each block one float scale and 32 int8 values in [-127, 127] (llama.cpp's Q8_0
// activation format, with a float scale instead of f16, for every weight type including the
// K-quants whose llama.cpp activation format Q8_K uses one scale per 256).
#pragma once

#include <cstddef>
#include <cstdint>

#include "ember/kernels.h"

namespace ember::quant {

constexpr int kQK8_0 = 32;
constexpr int kQK4_0 = 32;
constexpr int kQK_K = 256;          // super-block of the K-quants
constexpr int kKScaleSize = 12;     // Q4_K packed 6-bit scales and mins

// value = d * qs[i]
struct BlockQ8_0 {
    uint16_t d;  // f16
    int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "block_q8_0 is 34 bytes");

// element j (< 16): d * ((qs[j] & 15) - 8); element j + 16: d * ((qs[j] >> 4) - 8)
struct BlockQ4_0 {
    uint16_t d;  // f16
    uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18, "block_q4_0 is 18 bytes");

// 8 sub-blocks of 32 with 6-bit scale sc and 6-bit min m (packed in `scales`, see
// q4k_scale_min); element value d * sc * q - dmin * m. In each 64-weight span of qs (32 bytes),
// the low nibbles are the first 32 weights and the high nibbles the next 32.
struct BlockQ4_K {
    uint16_t d;     // f16, scale of the scales
    uint16_t dmin;  // f16, scale of the mins
    uint8_t scales[kKScaleSize];
    uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144, "block_q4_K is 144 bytes");

// 16 sub-blocks of 16 with int8 scales; q (6 bits: 4 from ql, 2 from qh) gives
// d * scales[s] * (q - 32). See q6k_value for the bit positions.
struct BlockQ6_K {
    uint8_t ql[kQK_K / 2];
    uint8_t qh[kQK_K / 4];
    int8_t scales[kQK_K / 16];
    uint16_t d;  // f16
};
static_assert(sizeof(BlockQ6_K) == 210, "block_q6_K is 210 bytes");

// Q4_K: the 6-bit scale and min of sub-block j (0..7).
inline void q4k_scale_min(int j, const uint8_t* s, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q4_K: the 4-bit quant of element i (0..255) of a block.
inline int q4k_quant(const BlockQ4_K& b, int i) {
    const int span = i / 64, r = i % 64;
    const uint8_t byte = b.qs[span * 32 + (r % 32)];
    return r < 32 ? (byte & 0xF) : (byte >> 4);
}

// Q6_K: the unsigned 6-bit quant (0..63) of element i (0..255) of a block; value is
// d * scales[i / 16] * (q - 32).
inline int q6k_quant(const BlockQ6_K& b, int i) {
    const int half = i / 128, r = i % 128;  // 128-element halves use ql[64*half..], qh[32*half..]
    const int quarter = r / 32, l = r % 32;
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int lo = (quarter & 1) ? ql[l + 32] : ql[l];
    const int low4 = quarter < 2 ? (lo & 0xF) : (lo >> 4);
    const int high2 = (qh[l] >> (2 * quarter)) & 3;
    return low4 | (high2 << 4);
}

// Scalar reference dequantization of `n` consecutive elements (n a whole number of blocks) of
// any ember_dtype (F32, F16, BF16 and the quantized types) to float. False for an unknown type
// or a partial block.
bool dequantize_row(int32_t dtype, const void* src, float* dst, int64_t n);

// Scalar reference quantization of `n` floats (a whole number of blocks) into `dtype`; every
// ember_dtype is accepted (F32/F16/BF16 convert). False for an unknown type or partial block.
// Q8_0 and Q4_0 round like ggml's reference quantizers; Q4_K and Q6_K search the sub-block
// scale (and Q4_K's min) by weighted least squares over a few candidate grids, as ggml does.
bool quantize_row(int32_t dtype, const float* src, void* dst, int64_t n);

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n);

// ---- int8 activations for the quantized matmul

constexpr int kActBlock = 32;

constexpr int kActMeta = 4;  // floats of per-block data

// Quantizes `k` floats (k a multiple of 32) to k int8 values and per block: scale d, and
// d * (sum of the block's first 16 quants), d * (sum of the last 16), and the sum of those two.
// Values are round-to-nearest(x / d) with d = max|x| / 127; a block of zeros gets d = 0.
// `meta` receives kActMeta floats per block: d, dsum_lo, dsum_hi, dsum_lo + dsum_hi.
void quantize_act_row_ref(const float* x, int64_t k, int8_t* q, float* meta);

}  // namespace ember::quant
