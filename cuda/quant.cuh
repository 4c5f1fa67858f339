// Weight decoding shared by the CUDA matmul and embedding kernels: plain types (f32, f16, bf16)
// and the GGUF block types Q8_0, Q4_K and Q6_K, decoded in registers from their file layout
// (/work/shared/specs/gguf.md; ggml's dequantize_row_q8_0 / _q4_K / _q6_K define the values).
// Everything here is __host__ __device__ so the host tests check the decoders bit for bit
// against the reference loops, without a GPU.
//
// Weights are row-major: row j of an n x k matrix is dtype_row_bytes(dtype, k) bytes, blocks
// along k. decode_run<WT, N> decodes the N (8 or 16) consecutive weights k0 .. k0 + N - 1 of a
// row, k0 a multiple of N: such a run never straddles a block, a Q4_K sub-block (32) or a Q6_K
// scale group (16), so each run has one scale (and min).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "ember/kernels.h"

// #pragma unroll inside __host__ __device__ code: for the device pass only (gcc warns on it).
#ifdef __CUDA_ARCH__
#define EMBER_UNROLL _Pragma("unroll")
#else
#define EMBER_UNROLL
#endif

namespace ember::cuda {

// The block layouts, byte for byte (the CPU's native/quant structs use the same layout).
struct BlockQ8_0 {
    uint16_t d;  // f16 scale
    int8_t qs[32];
};
struct BlockQ4_K {
    uint16_t d;     // f16 super-block scale of the sub-block scales
    uint16_t dmin;  // f16 super-block scale of the sub-block mins
    uint8_t scales[12];
    uint8_t qs[128];
};
struct BlockQ6_K {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;  // f16
};
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block is 34 bytes");
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K block is 144 bytes");
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K block is 210 bytes");

template <int WT>
struct WeightTraits;
template <>
struct WeightTraits<EMBER_DTYPE_F32> { static constexpr int block_elems = 1, block_bytes = 4; };
template <>
struct WeightTraits<EMBER_DTYPE_F16> { static constexpr int block_elems = 1, block_bytes = 2; };
template <>
struct WeightTraits<EMBER_DTYPE_BF16> { static constexpr int block_elems = 1, block_bytes = 2; };
template <>
struct WeightTraits<EMBER_DTYPE_Q8_0> { static constexpr int block_elems = 32, block_bytes = 34; };
template <>
struct WeightTraits<EMBER_DTYPE_Q4_K> { static constexpr int block_elems = 256, block_bytes = 144; };
template <>
struct WeightTraits<EMBER_DTYPE_Q6_K> { static constexpr int block_elems = 256, block_bytes = 210; };

__host__ __device__ inline float f16_bits_to_float(uint16_t h) {
#ifdef __CUDA_ARCH__
    return __half2float(__ushort_as_half(h));
#else
    return ember::f16_to_f32(h);
#endif
}

__host__ __device__ inline float bf16_bits_to_float(uint16_t h) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(static_cast<uint32_t>(h) << 16);
#else
    return ember::bf16_to_f32(h);
#endif
}

__host__ __device__ inline uint16_t load_u16(const uint8_t* p) { return *reinterpret_cast<const uint16_t*>(p); }

// Small integers as floats without an integer-to-float conversion: the GPU's conversion unit
// issues at a fraction of the FMA rate (16 results per clock and SM on sm_80 / sm_90 against 64 /
// 128 FMAs), and the tensor-core matmul decodes 16 weights per thread per k tile next to its
// MMAs. The bits 0x4B000000 | u are the float 2^23 + u for u < 2^23, so an OR and an exact
// subtraction give the same value static_cast<float> would (the FasterTransformer / Marlin trick).
__host__ __device__ inline float float_from_bits(uint32_t b) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(b);
#else
    float f;
    memcpy(&f, &b, 4);
    return f;
#endif
}
constexpr uint32_t kMagic23 = 0x4B000000u;  // the float 2^23

// u - bias as a float, u < 2^23 (bias 0: the value; 32: Q6_K's offset).
__host__ __device__ inline float float_from_small(uint32_t u, float bias = 0.0f) {
    return float_from_bits(kMagic23 | u) - (8388608.0f + bias);
}

// The int8 in the low byte of b as a float: b ^ 0x80 is the int8 plus 128.
__host__ __device__ inline float float_from_s8(uint32_t b) {
    return float_from_bits(kMagic23 | ((b ^ 0x80u) & 0xffu)) - 8388736.0f;  // 2^23 + 128
}

// ggml's get_scale_min_k4: the 6-bit scale and min of Q4_K sub-block j (0..7).
__host__ __device__ inline void q4k_scale_min(int j, const uint8_t* s, int& sc, int& m) {
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// The raw bytes of a run of N weights of a quantized row, split from the arithmetic so that a
// kernel can issue the loads of the next tile, compute on the current one, and only then decode
// (load() only reads memory; decode() only computes).
template <int WT, int N>
struct QuantRun;

// Q8_0: block b holds weights 32 b .. 32 b + 31: f16 d, then 32 int8 (the block is 2-byte aligned
// at best, so the bytes are read as 16-bit words).
template <int N>
struct QuantRun<EMBER_DTYPE_Q8_0, N> {
    uint16_t d;
    uint16_t q[N / 2];
    __host__ __device__ void load(const uint8_t* row, int64_t k0) {
        const uint8_t* blk = row + (k0 / 32) * 34;
        d = load_u16(blk);
        const uint8_t* p = blk + 2 + (k0 % 32);
EMBER_UNROLL
        for (int i = 0; i < N / 2; ++i) q[i] = load_u16(p + 2 * i);
    }
    __host__ __device__ void decode(float (&out)[N]) const {
        const float s = f16_bits_to_float(d);
EMBER_UNROLL
        for (int i = 0; i < N / 2; ++i) {
            out[2 * i] = s * float_from_s8(q[i]);
            out[2 * i + 1] = s * float_from_s8(static_cast<uint32_t>(q[i]) >> 8);
        }
    }
};

// Q4_K: super-block of 256; weight e = 64 p + 32 hi + l is nibble `hi` of qs[32 p + l], in
// sub-block 2 p + hi, value d * sc * q - dmin * m. The run's qs bytes are N-byte aligned
// (144 b + 16 + 32 p + l with l % N == 0) and read as 32-bit words.
template <int N>
struct QuantRun<EMBER_DTYPE_Q4_K, N> {
    uint32_t dd;  // d | dmin << 16
    uint8_t sc, m;
    uint8_t hi;
    uint32_t qs[N / 4];
    __host__ __device__ void load(const uint8_t* row, int64_t k0) {
        const uint8_t* blk = row + (k0 / 256) * 144;
        const int e = static_cast<int>(k0 % 256), p = e / 64, l = e % 32;
        hi = static_cast<uint8_t>((e / 32) % 2);
        dd = static_cast<uint32_t>(load_u16(blk)) | (static_cast<uint32_t>(load_u16(blk + 2)) << 16);
        int s, mn;
        q4k_scale_min(2 * p + hi, blk + 4, s, mn);
        sc = static_cast<uint8_t>(s);
        m = static_cast<uint8_t>(mn);
        const uint32_t* q = reinterpret_cast<const uint32_t*>(blk + 16 + 32 * p + l);
EMBER_UNROLL
        for (int i = 0; i < N / 4; ++i) qs[i] = q[i];
    }
    __host__ __device__ void decode(float (&out)[N]) const {
        const float d = f16_bits_to_float(static_cast<uint16_t>(dd & 0xffffu)) * static_cast<float>(sc);
        const float mn = f16_bits_to_float(static_cast<uint16_t>(dd >> 16)) * static_cast<float>(m);
        const int shift = hi ? 4 : 0;
EMBER_UNROLL
        for (int i = 0; i < N; ++i) {
            const uint32_t nib = (qs[i / 4] >> (8 * (i % 4) + shift)) & 0xFu;
            out[i] = d * float_from_small(nib) - mn;
        }
    }
};

// Q6_K: super-block of 256; weight e = 128 n + 32 qq + l has its low 4 bits in
// ql[64 n + 32 (qq & 1) + l] (low nibble for qq < 2, high for qq >= 2), its high 2 bits in
// qh[32 n + l] >> 2 qq, scale scales[8 n + 2 qq + l / 16]: value d * scale * (q - 32). The block
// is 2-byte aligned at best: bytes are read as 16-bit words.
template <int N>
struct QuantRun<EMBER_DTYPE_Q6_K, N> {
    uint16_t d;
    int8_t scale;
    uint8_t qq;
    uint16_t ql[N / 2], qh[N / 2];
    __host__ __device__ void load(const uint8_t* row, int64_t k0) {
        const uint8_t* blk = row + (k0 / 256) * 210;
        const int e = static_cast<int>(k0 % 256), n = e / 128, l = e % 32;
        qq = static_cast<uint8_t>((e % 128) / 32);
        const uint8_t* pl = blk + 64 * n + 32 * (qq & 1) + l;
        const uint8_t* ph = blk + 128 + 32 * n + l;
EMBER_UNROLL
        for (int i = 0; i < N / 2; ++i) {
            ql[i] = load_u16(pl + 2 * i);
            qh[i] = load_u16(ph + 2 * i);
        }
        scale = static_cast<int8_t>(blk[192 + 8 * n + 2 * qq + l / 16]);
        d = load_u16(blk + 208);
    }
    __host__ __device__ void decode(float (&out)[N]) const {
        const float s = f16_bits_to_float(d) * static_cast<float>(scale);
        const int lshift = 4 * (qq >> 1), hshift = 2 * qq;
EMBER_UNROLL
        for (int i = 0; i < N / 2; ++i) {
EMBER_UNROLL
            for (int j = 0; j < 2; ++j) {
                const uint32_t lo = ((j ? ql[i] >> 8 : ql[i]) >> lshift) & 0xFu;
                const uint32_t h = ((j ? qh[i] >> 8 : qh[i]) >> hshift) & 3u;
                out[2 * i + j] = s * float_from_small(lo | (h << 4), 32.0f);
            }
        }
    }
};

// Weights k0 .. k0 + N - 1 of the row at `row` (N = 8 or 16, k0 % N == 0). Plain types read the
// run with 16-byte loads: the caller guarantees row + k0 * element size is 16-byte aligned.
template <int WT, int N>
__host__ __device__ inline void decode_run(const uint8_t* row, int64_t k0, float (&out)[N]) {
    static_assert(N == 8 || N == 16, "runs of 8 or 16 weights");
    if constexpr (WT == EMBER_DTYPE_F32) {
        const float4* p = reinterpret_cast<const float4*>(row + k0 * 4);
EMBER_UNROLL
        for (int i = 0; i < N / 4; ++i) {
            const float4 v = p[i];
            out[4 * i] = v.x;
            out[4 * i + 1] = v.y;
            out[4 * i + 2] = v.z;
            out[4 * i + 3] = v.w;
        }
    } else if constexpr (WT == EMBER_DTYPE_F16 || WT == EMBER_DTYPE_BF16) {
        const uint4* p = reinterpret_cast<const uint4*>(row + k0 * 2);
EMBER_UNROLL
        for (int i = 0; i < N / 8; ++i) {
            const uint4 v = p[i];
            const uint32_t w[4] = {v.x, v.y, v.z, v.w};
EMBER_UNROLL
            for (int j = 0; j < 4; ++j) {
                const uint16_t lo = static_cast<uint16_t>(w[j] & 0xffffu), hi = static_cast<uint16_t>(w[j] >> 16);
                out[8 * i + 2 * j] = WT == EMBER_DTYPE_F16 ? f16_bits_to_float(lo) : bf16_bits_to_float(lo);
                out[8 * i + 2 * j + 1] = WT == EMBER_DTYPE_F16 ? f16_bits_to_float(hi) : bf16_bits_to_float(hi);
            }
        }
    } else {
        QuantRun<WT, N> run;
        run.load(row, k0);
        run.decode(out);
    }
}

// One weight (any position): the simple path of the SIMT kernels and the embedding gather.
template <int WT>
__host__ __device__ inline float decode_one(const uint8_t* row, int64_t k) {
    if constexpr (WT == EMBER_DTYPE_F32) {
        return reinterpret_cast<const float*>(row)[k];
    } else if constexpr (WT == EMBER_DTYPE_F16) {
        return f16_bits_to_float(reinterpret_cast<const uint16_t*>(row)[k]);
    } else if constexpr (WT == EMBER_DTYPE_BF16) {
        return bf16_bits_to_float(reinterpret_cast<const uint16_t*>(row)[k]);
    } else if constexpr (WT == EMBER_DTYPE_Q8_0) {
        const uint8_t* blk = row + (k / 32) * 34;
        return f16_bits_to_float(load_u16(blk)) * float_from_s8(blk[2 + k % 32]);
    } else if constexpr (WT == EMBER_DTYPE_Q4_K) {
        const uint8_t* blk = row + (k / 256) * 144;
        const int e = static_cast<int>(k % 256), p = e / 64, hi = (e / 32) % 2, l = e % 32;
        int sc, m;
        q4k_scale_min(2 * p + hi, blk + 4, sc, m);
        const uint8_t byte = blk[16 + 32 * p + l];
        const uint32_t nib = hi ? byte >> 4 : byte & 0xF;
        return f16_bits_to_float(load_u16(blk)) * static_cast<float>(sc) * float_from_small(nib) -
               f16_bits_to_float(load_u16(blk + 2)) * static_cast<float>(m);
    } else {
        static_assert(WT == EMBER_DTYPE_Q6_K, "unknown weight type");
        const uint8_t* blk = row + (k / 256) * 210;
        const int e = static_cast<int>(k % 256), n = e / 128, qq = (e % 128) / 32, l = e % 32;
        const uint32_t lo = (blk[64 * n + 32 * (qq & 1) + l] >> (4 * (qq >> 1))) & 0xFu;
        const uint32_t h = (blk[128 + 32 * n + l] >> (2 * qq)) & 3u;
        const float d = f16_bits_to_float(load_u16(blk + 208)) * float_from_s8(blk[192 + 8 * n + 2 * qq + l / 16]);
        return d * float_from_small(lo | (h << 4), 32.0f);
    }
}

// Bytes of one row of k weights of type WT (k a whole number of blocks).
template <int WT>
__host__ __device__ constexpr int64_t weight_row_bytes(int64_t k) {
    return k / WeightTraits<WT>::block_elems * WeightTraits<WT>::block_bytes;
}

// Calls f(std::integral_constant-like tag) for the weight type: f(WeightTag<WT>{}).
template <int WT>
struct WeightTag {
    static constexpr int value = WT;
};

template <class F>
auto with_weight_type(int32_t dtype, F&& f) -> decltype(f(WeightTag<EMBER_DTYPE_F32>{})) {
    switch (dtype) {
        case EMBER_DTYPE_F32: return f(WeightTag<EMBER_DTYPE_F32>{});
        case EMBER_DTYPE_F16: return f(WeightTag<EMBER_DTYPE_F16>{});
        case EMBER_DTYPE_BF16: return f(WeightTag<EMBER_DTYPE_BF16>{});
        case EMBER_DTYPE_Q8_0: return f(WeightTag<EMBER_DTYPE_Q8_0>{});
        case EMBER_DTYPE_Q4_K: return f(WeightTag<EMBER_DTYPE_Q4_K>{});
        case EMBER_DTYPE_Q6_K: return f(WeightTag<EMBER_DTYPE_Q6_K>{});
        default: return f(WeightTag<-1>{});
    }
}

}  // namespace ember::cuda
