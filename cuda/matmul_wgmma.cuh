// The wgmma matmul's tiling (matmul_wgmma.cu), for the kernel and for tests/test_cuda_host.cpp;
// the layout and descriptors are wgmma.cuh's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common.cuh"
#include "wgmma.cuh"

namespace ember::cuda::wgmma {

constexpr int kBM = 128, kBN = 256, kBK = 64, kStages = 4, kThreads = 256;
constexpr int kATileBytes = kBM * kBK * 2;
constexpr int kBTileBytes = kBN * kBK * 2;
constexpr int kStageBytes = kATileBytes + kBTileBytes;
constexpr size_t kSmemBytes = static_cast<size_t>(kStages) * kStageBytes + 1024;  // + alignment slack
static_assert(kStages >= 3, "one wgmma group in flight needs a slot of its own");
static_assert(kATileBytes % 1024 == 0 && kStageBytes % 1024 == 0, "tiles on 1024-byte swizzle atoms");

}  // namespace ember::cuda::wgmma
