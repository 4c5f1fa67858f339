// Internals of the quantized matmul shared by its ISA variants (qmatmul.cpp, qmatmul_avx2.cpp,
// qmatmul_avx512vnni.cpp). Not a public interface: include ops/qmatmul.h instead.
//
// Scheme (the usual GEMM packing, on int8):
//  1. Activations x[m, k] are quantized once per call to int8, per block of 32 (quant/quants.h
//     kActBlock): per block a float scale d and the scaled sums of its two 16-element halves
//     (and of the whole block).
//  2. Weights are packed on the fly, one panel of NR output columns at a time (8 for AVX2, 16 for
//     AVX-512), into a layout where a SIMD register holds 4 consecutive k-elements of each of the
//     NR columns (column j in 32-bit lane j). Each 32-block of k in a panel is
//         q[8][NR][4]    quant bytes: step t (0..7) holds k-elements 4t..4t+3 of every column
//         a[2][NR]       float scale of the block's first / second 16 elements
//         c[2][NR]       float coefficient of the activation half-sums (offset and min terms)
//     so that for column j and activation row i, block b contributes
//         d_ib * (a_lo_j * Σ_lo q*xq + a_hi_j * Σ_hi q*xq) + c_lo_j * dsum_lo_ib + c_hi_j * dsum_hi_ib.
//     Every GGUF type maps onto this: Q8_0 (q signed, c = 0; or q + 128 unsigned with
//     c = -128 d), Q4_0 (nibble, c = -8 d), Q4_K (nibble, a = d*sc, c = -dmin*m), Q6_K (6-bit,
//     a per 16-half = d*scale, c = -32 a).
//  3. A micro-kernel multiplies MR activation rows by one panel: a broadcast of 4 activation bytes
//     times the panel register gives NR partial dot products at once (AVX2 maddubs/madd,
//     AVX-512 VNNI vpdpbusd), converted to float once per 32-block (per 16-half for Q6_K).
//  Weight panels are packed per thread into a buffer that stays in L2, and all activation rows
//  are run against it, so no weight matrix is ever expanded (to float or otherwise) as a whole.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu::qmm {

constexpr int kBlock = 32;  // k-elements per packed block (== quant::kActBlock)

// Packed block size in bytes for a panel of `nr` columns.
constexpr int64_t packed_block_bytes(int nr) { return int64_t(48) * nr; }

// How Q8_0 weights are packed: signed bytes (AVX2 / scalar: maddubs needs |w| and sign(x, w)) or
// offset to unsigned (VNNI: vpdpbusd takes the unsigned side from the weights).
enum class Q8Mode { Signed, Offset };

// Activations are passed to the kernels as per-row pointers: xq[i] to the row's k int8 values,
// xm[i] to its quant::kActMeta floats per block (quant/quants.h quantize_act_row_ref).

// Packs columns [0, ncols) of a panel (ncols <= nr; missing columns are zero) from `w`
// (rows of `row_bytes` bytes in GGUF block layout, first row = first column of the panel), all
// nb = k / 32 blocks, into `out` (nb * packed_block_bytes(nr) bytes).
void pack_panel_scalar(int32_t dtype, Q8Mode q8, const uint8_t* w, int64_t row_bytes, int ncols, int nr,
                       int64_t nb, uint8_t* out);
// Decodes 32-block b of one weight row: 32 quant bytes (signed for Q8_0/Signed, else unsigned) and
// a_lo, a_hi, c_lo, c_hi.
void decode_block_scalar(int32_t dtype, Q8Mode q8, const uint8_t* row, int64_t b, uint8_t q[32], float ac[4]);

// Scalar micro-kernel: out[rows][nr] = the panel's contribution for activation rows
// x_rows[0..rows) (pointers to row starts of Acts.q / Acts.meta). Reads any panel width and Q8_0
// mode, so it also checks the AVX-512 panel layout on machines without AVX-512.
void tile_scalar(int32_t dtype, Q8Mode q8, int nr, const uint8_t* panel, int64_t nb, const int8_t* const* xq,
                 const float* const* xm, int rows, float* out);

// The kernel paths. EmulatedVnni runs the AVX-512 VNNI path's packing (16 columns, Q8_0 offset
// to unsigned) and blocking (8 rows) with the scalar micro-kernel: tests use it to check that
// layout where the CPU lacks AVX-512.
enum class Path { Scalar, Avx2, Avx512Vnni, EmulatedVnni };
void qmatmul_path(const ember_matmul_params& p, ThreadPool& pool, Path path);

// AVX2 (qmatmul_avx2.cpp): nr = 8, MR = 4.
void quantize_acts_avx2(const float* x, int64_t k, int8_t* q, float* meta);
void pack_panel_avx2(int32_t dtype, Q8Mode q8, const uint8_t* w, int64_t row_bytes, int ncols, int nr, int lane0,
                     int64_t nb, uint8_t* out);
void tile_avx2(int32_t dtype, const uint8_t* panel, int64_t nb, const int8_t* const* xq, const float* const* xm,
               int rows, float* out);

// Up to kGemvMaxRows activation rows: dot products straight from the GGUF blocks of columns
// [j0, j1) (no packing: for so few rows the packing would cost more than the products).
// out[i * out_stride + (j - j0)] for rows i < rows.
constexpr int kGemvMaxRows = 4;
void gemv_avx2(int32_t dtype, const uint8_t* w, int64_t row_bytes, int64_t j0, int64_t j1, int64_t nb,
               const int8_t* const* xq, const float* const* xm, int rows, float* out, int64_t out_stride);

// AVX-512 VNNI (qmatmul_avx512vnni.cpp): nr = 16, MR = 8.
void tile_avx512(int32_t dtype, const uint8_t* panel, int64_t nb, const int8_t* const* xq, const float* const* xm,
                 int rows, float* out);

}  // namespace ember::cpu::qmm
