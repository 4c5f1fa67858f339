// The attention entry point: argument checks and the one function that picks a path.
#include "attention.cuh"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace ember::cuda {

const char* attention_path_name(AttentionPath p) {
    switch (p) {
        case AttentionPath::Flash: return "flash";
        case AttentionPath::Wgmma: return "wgmma";
        case AttentionPath::Generic: return "generic";
    }
    return "?";
}

ember_status validate_attention(const AttentionArgs& a, std::string* error) {
    EMBER_CU_REQUIRE(a.n_heads > 0 && a.n_kv_heads > 0 && a.head_dim > 0,
                     "attention: n_heads (%d), n_kv_heads (%d) and head_dim (%d) must be positive", a.n_heads,
                     a.n_kv_heads, a.head_dim);
    EMBER_CU_REQUIRE(a.n_heads % a.n_kv_heads == 0, "attention: %d query heads are not a multiple of %d kv heads",
                     a.n_heads, a.n_kv_heads);
    EMBER_CU_REQUIRE(a.head_dim <= kAttentionGenericMaxHeadDim, "attention: head_dim %d is above %d", a.head_dim,
                     kAttentionGenericMaxHeadDim);
    // The kernels take the running max of unscaled scores and mask with -inf: both need scale > 0.
    EMBER_CU_REQUIRE(std::isfinite(a.scale) && a.scale > 0.0f, "attention: scale (%g) must be finite and positive",
                     static_cast<double>(a.scale));
    const int32_t dt = a.q.dtype;
    EMBER_CU_REQUIRE(dt == EMBER_DTYPE_F32 || dt == EMBER_DTYPE_BF16, "attention: dtype %d (f32 or bf16)", dt);
    EMBER_CU_REQUIRE(a.k.dtype == dt && a.v.dtype == dt && a.out.dtype == dt,
                     "attention: q, k, v and out must share one dtype");
    const int64_t qw = int64_t(a.n_heads) * a.head_dim, kw = int64_t(a.n_kv_heads) * a.head_dim;
    EMBER_CU_REQUIRE(a.q.cols == qw && a.out.cols == qw && a.k.cols == kw && a.v.cols == kw,
                     "attention: widths q %lld, out %lld, k %lld, v %lld do not match the heads", (long long)a.q.cols,
                     (long long)a.out.cols, (long long)a.k.cols, (long long)a.v.cols);
    EMBER_CU_REQUIRE(a.seqs.n_seqs >= 0 && a.seqs.cu_seqlens_host != nullptr, "attention: no cu_seqlens");
    if (a.seqs.n_seqs == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(a.seqs.cu_seqlens != nullptr, "attention: cu_seqlens (device) is null");
    const int32_t* cu = a.seqs.cu_seqlens_host;
    EMBER_CU_REQUIRE(cu[0] == 0, "attention: cu_seqlens[0] must be 0");
    int64_t max_len = 0;
    for (int32_t s = 0; s < a.seqs.n_seqs; ++s) {
        EMBER_CU_REQUIRE(cu[s + 1] >= cu[s], "attention: cu_seqlens decreases at sequence %d", s);
        max_len = std::max<int64_t>(max_len, cu[s + 1] - cu[s]);
    }
    const int64_t rows = cu[a.seqs.n_seqs];
    EMBER_CU_REQUIRE(a.q.rows >= rows && a.k.rows >= rows && a.v.rows >= rows && a.out.rows >= rows,
                     "attention: the batch spans %lld rows, a tensor holds fewer", (long long)rows);
    EMBER_CU_REQUIRE(a.seqs.max_len >= max_len, "attention: max_len %lld is below the longest sequence (%lld)",
                     (long long)a.seqs.max_len, (long long)max_len);
    EMBER_CU_REQUIRE(a.q.data && a.k.data && a.v.data && a.out.data, "attention: null pointer");
    EMBER_CU_REQUIRE(a.q.stride >= qw && a.out.stride >= qw && a.k.stride >= kw && a.v.stride >= kw,
                     "attention: a row stride is smaller than its row");
    EMBER_CU_REQUIRE(a.self_extend_window >= 0 && a.length_scaling_base >= 0,
                     "attention: self_extend_window (%d) and length_scaling_base (%d) must not be negative",
                     a.self_extend_window, a.length_scaling_base);
    if (a.self_extend_window > 0) {
        const Tensor* qs[2] = {&a.q_group, a.causal ? nullptr : &a.q_group_future};
        const Tensor* ks[2] = {&a.k_group, a.causal ? nullptr : &a.k_group_future};
        for (int i = 0; i < 2; ++i) {
            if (qs[i] == nullptr) continue;
            EMBER_CU_REQUIRE(qs[i]->data && ks[i]->data, "attention: SelfExtend's grouped q / k are null");
            EMBER_CU_REQUIRE(qs[i]->dtype == dt && ks[i]->dtype == dt, "attention: grouped q / k must share q's dtype");
            EMBER_CU_REQUIRE(qs[i]->cols == qw && ks[i]->cols == kw && qs[i]->stride >= qw && ks[i]->stride >= kw &&
                                 qs[i]->rows >= rows && ks[i]->rows >= rows,
                             "attention: grouped q / k do not match q / k's shape");
        }
    }
    return EMBER_OK;
}

bool attention_path_applies(const AttentionArgs& a, AttentionPath path) {
    switch (path) {
        case AttentionPath::Flash: return attention_flash_applies(a);
        case AttentionPath::Wgmma: return attention_wgmma_applies(a);
        case AttentionPath::Generic: return true;
    }
    return false;
}

AttentionPath choose_attention(const AttentionArgs& a) {
    if (env_equals("EMBER_CUDA_ATTENTION", "generic")) return AttentionPath::Generic;
    // wgmma: 1.27-1.49x the mma.sync kernel on an H200 (BENCHMARKS.md).
    if (!env_equals("EMBER_CUDA_ATTENTION", "flash") && attention_wgmma_applies(a)) return AttentionPath::Wgmma;
    return attention_flash_applies(a) ? AttentionPath::Flash : AttentionPath::Generic;
}

ember_status attention_with(const AttentionArgs& a, AttentionPath path, cudaStream_t stream, std::string* error) {
    EMBER_CU_TRY(validate_attention(a, error));
    if (a.seqs.n_seqs == 0 || a.seqs.cu_seqlens_host[a.seqs.n_seqs] == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(attention_path_applies(a, path), "attention: the %s path does not apply to these operands",
                     attention_path_name(path));
    switch (path) {
        case AttentionPath::Flash: return attention_flash(a, stream, error);
        case AttentionPath::Wgmma: return attention_wgmma(a, stream, error);
        case AttentionPath::Generic: break;
    }
    return attention_generic(a, stream, error);
}

ember_status attention(const AttentionArgs& a, cudaStream_t stream, std::string* error) {
    EMBER_CU_TRY(validate_attention(a, error));
    if (a.seqs.n_seqs == 0 || a.seqs.cu_seqlens_host[a.seqs.n_seqs] == 0) return EMBER_OK;
    return attention_with(a, choose_attention(a), stream, error);
}

}  // namespace ember::cuda
