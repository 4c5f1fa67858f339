// Softmax over groups of a row, in place: each row of `s` holds `groups` groups of `width`
// scores; every group becomes softmax(scale * group) (NV-Embed's latent attention: one group per
// cross-attention head over its n_latents scores). f32 arithmetic; f32 or bf16 rows.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"
#include "common.cuh"

namespace ember::cuda {

ember_status softmax_groups(const Tensor& s, int32_t groups, int32_t width, float scale, cudaStream_t stream,
                            std::string* error);

}  // namespace ember::cuda
