// The wgmma matmul's tiling and shared-memory layout (matmul_wgmma.cu), as host / device
// functions so that tests/test_cuda_host.cpp can check the layout without a GPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common.cuh"

namespace ember::cuda::wgmma {

constexpr int kBM = 128, kBN = 256, kBK = 64, kStages = 4, kThreads = 256;
constexpr int kATileBytes = kBM * kBK * 2;
constexpr int kBTileBytes = kBN * kBK * 2;
constexpr int kStageBytes = kATileBytes + kBTileBytes;
constexpr size_t kSmemBytes = static_cast<size_t>(kStages) * kStageBytes + 1024;  // + alignment slack
static_assert(kStages >= 3, "one wgmma group in flight needs a slot of its own");
static_assert(kATileBytes % 1024 == 0 && kStageBytes % 1024 == 0, "tiles on 1024-byte swizzle atoms");

// Byte offset of 16-byte chunk `chunk` (0..7) of tile row `row` in the K-major 128-byte swizzle.
__host__ __device__ constexpr int sw128_offset(int row, int chunk) { return row * 128 + ((chunk ^ (row & 7)) << 4); }

// Shared-memory matrix descriptor (PTX ISA, "Matrix Descriptor Format"): start address >> 4 in
// bits 0-13, leading byte offset >> 4 in bits 16-29 (unused by swizzled K-major layouts: 1),
// stride byte offset >> 4 in bits 32-45 (1024: the next 8 rows), base offset 0 (atoms
// 1024-aligned), swizzle mode in bits 62-63 (1: 128 bytes).
__host__ __device__ constexpr uint64_t sw128_desc(uint32_t smem_byte_address) {
    return static_cast<uint64_t>((smem_byte_address & 0x3FFFF) >> 4) | (uint64_t(1) << 16) |
           (uint64_t(1024 >> 4) << 32) | (uint64_t(1) << 62);
}

}  // namespace ember::cuda::wgmma
