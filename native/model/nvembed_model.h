// NV-Embed (v1 / v2): a bidirectional Mistral (`embedding_model.*`) and the latent-attention
// pooler (`latent_attention_model.*`), as published (config.json with text_config and
// latent_attention_config).
#pragma once

#include <memory>

#include "backend/backend.h"
#include "io/json.h"
#include "model/families.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace ember {

// `opts`: the long-context overrides for the backbone (apply_long_context_options).
std::unique_ptr<Model> make_nvembed_model(const Json& config, const Family& family, const ember_load_options& opts,
                                          std::unique_ptr<Backend> backend, std::unique_ptr<WeightSource> weights);

// The latent block's attention weights as stored (host memory), and the fold that turns them into
// the kernel's score / value matrices (see ember_latent_pool_params):
//   C = LayerNorm(latents; ctx_norm_weight, ctx_norm_bias, eps), K_h / V_h = C Wk_h^T / C Wv_h^T,
//   score_w rows [h r, (h+1) r) = K_h Wq_h,  value_w columns [h r, (h+1) r) = Wout_h V_h^T.
// Computed once at load with the backend's matmul, head by head (at NV-Embed-v2's size about
// 4 x 69 GMAC in all: K, V and the two folds), so each token later costs two dim x (heads r)
// products instead of the heads * head_dim wide Q and output projections.
struct LatentRaw {
    int32_t n_latents = 0, dim = 0, n_heads = 0, head_dim = 0;
    float eps = 1e-5f;
    const float* latents = nullptr;  // n_latents x dim, f32
    const float* ctx_norm_weight = nullptr;
    const float* ctx_norm_bias = nullptr;
    const void* wq = nullptr;    // n_heads * head_dim rows of dim
    int32_t wq_dtype = EMBER_DTYPE_F32;
    const void* wkv = nullptr;   // 2 * n_heads * head_dim rows of dim: K rows, then V rows
    int32_t wkv_dtype = EMBER_DTYPE_F32;
    const void* wout = nullptr;  // dim rows of n_heads * head_dim
    int32_t wout_dtype = EMBER_DTYPE_F32;
};

struct LatentFold {
    Buffer score_w;  // backend memory, f32, n_heads * n_latents rows of dim
    Buffer value_w;  // backend memory, f32, dim rows of n_heads * n_latents
};

LatentFold fold_latent_attention(Backend& backend, const LatentRaw& raw);

}  // namespace ember
