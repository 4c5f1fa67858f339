#include "softmax.cuh"

#include <algorithm>
#include <cmath>

namespace ember::cuda {
namespace {

constexpr int kWarps = 8;

// One warp per (row, group): max, sum of exp((v - max) scale), then the normalised values (exp
// computed twice rather than rounding an intermediate to the row type).
template <class T>
__global__ void __launch_bounds__(kWarps * 32)
    softmax_groups_kernel(T* s, int64_t stride, int64_t rows, int groups, int width, float scale) {
    const int lane = threadIdx.x % 32;
    const int64_t units = rows * groups;
    for (int64_t u = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32; u < units;
         u += static_cast<int64_t>(gridDim.x) * kWarps) {
        T* v = s + (u / groups) * stride + (u % groups) * static_cast<int64_t>(width);
        float mx = -INFINITY;
        for (int j = lane; j < width; j += 32) mx = fmaxf(mx, to_f(v[j]));
        mx = warp_max(mx);
        float sum = 0.0f;
        for (int j = lane; j < width; j += 32) sum += expf((to_f(v[j]) - mx) * scale);
        const float inv = 1.0f / warp_sum(sum);
        for (int j = lane; j < width; j += 32) v[j] = from_f<T>(expf((to_f(v[j]) - mx) * scale) * inv);
    }
}

}  // namespace

ember_status softmax_groups(const Tensor& s, int32_t groups, int32_t width, float scale, cudaStream_t stream,
                            std::string* error) {
    EMBER_CU_REQUIRE(groups > 0 && width > 0 && s.cols == int64_t(groups) * width && s.stride >= s.cols,
                     "softmax: rows of %lld are not %d groups of %d", (long long)s.cols, groups, width);
    EMBER_CU_REQUIRE(std::isfinite(scale) && scale > 0.0f, "softmax: scale must be finite and positive");
    if (s.rows == 0) return EMBER_OK;
    EMBER_CU_REQUIRE(s.data != nullptr, "softmax: null pointer");
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(ceil_div(s.rows * groups, kWarps), int64_t(1) << 20));
    return with_act_type(s.dtype, "softmax", error, [&](auto tag) -> ember_status {
        using T = typename decltype(tag)::type;
        softmax_groups_kernel<T><<<blocks, kWarps * 32, 0, stream>>>(static_cast<T*>(s.data), s.stride, s.rows, groups, width,
                                                                     scale);
        return launched("softmax", error);
    });
}

}  // namespace ember::cuda
