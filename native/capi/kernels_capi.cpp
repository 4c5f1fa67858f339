// C ABI entry points for single kernels (tests, benchmarks, Java kernel checks).
#include <map>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "core/thread_pool.h"
#include "ember/kernels.h"
#include "ops/attention.h"
#include "ops/copy_rows.h"
#include "ops/embed_abs.h"
#include "ops/gelu.h"
#include "ops/latent_pool.h"
#include "ops/layernorm.h"
#include "ops/matmul.h"
#include "ops/pool.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

namespace {

// Pools are kept per thread count for the life of the process: kernel calls are frequent in
// benchmarks and thread start-up would dominate small shapes.
ember::ThreadPool& pool_for(int32_t threads) {
    static std::mutex mutex;
    static std::map<int32_t, std::unique_ptr<ember::ThreadPool>> pools;
    if (threads <= 0) threads = ember::ThreadPool::hardware_threads();
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = pools[threads];
    if (!slot) slot = std::make_unique<ember::ThreadPool>(threads);
    return *slot;
}

template <class Params, class Fast, class Ref>
ember_status run(int32_t impl, const Params* p, int32_t threads, Fast fast, Ref ref) {
    return ember::guarded([&] {
        EMBER_CHECK_ARG(p != nullptr, "kernel parameters are null");
        if (impl == EMBER_IMPL_REFERENCE) {
            ref(*p);
        } else if (impl == EMBER_IMPL_FAST) {
            fast(*p, pool_for(threads));
        } else {
            EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "unknown kernel implementation %d", impl);
        }
    });
}

}  // namespace

using namespace ember;

extern "C" {

EMBER_API ember_status ember_kernel_matmul(int32_t impl, const ember_matmul_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::matmul(q, tp); },
               [](auto& q) { cpu::matmul_ref(q); });
}
EMBER_API ember_status ember_kernel_rmsnorm(int32_t impl, const ember_rmsnorm_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::rmsnorm(q, tp); },
               [](auto& q) { cpu::rmsnorm_ref(q); });
}
EMBER_API ember_status ember_kernel_rope(int32_t impl, const ember_rope_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::rope(q, tp); },
               [](auto& q) { cpu::rope_ref(q); });
}
EMBER_API ember_status ember_kernel_attention(int32_t impl, const ember_attention_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::attention(q, tp); },
               [](auto& q) { cpu::attention_ref(q); });
}
EMBER_API ember_status ember_kernel_swiglu(int32_t impl, const ember_swiglu_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::swiglu(q, tp); },
               [](auto& q) { cpu::swiglu_ref(q); });
}
EMBER_API ember_status ember_kernel_pool(int32_t impl, const ember_pool_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::pool(q, tp); },
               [](auto& q) { cpu::pool_ref(q); });
}

EMBER_API ember_status ember_kernel_layernorm(int32_t impl, const ember_layernorm_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::layernorm(q, tp); },
               [](auto& q) { cpu::layernorm_ref(q); });
}
EMBER_API ember_status ember_kernel_gelu(int32_t impl, const ember_gelu_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::gelu(q, tp); },
               [](auto& q) { cpu::gelu_ref(q); });
}
EMBER_API ember_status ember_kernel_embed_abs(int32_t impl, const ember_embed_abs_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::embed_abs(q, tp); },
               [](auto& q) { cpu::embed_abs_ref(q); });
}
EMBER_API ember_status ember_kernel_copy_rows(int32_t impl, const ember_copy_rows_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::copy_rows(q, tp); },
               [](auto& q) { cpu::copy_rows_ref(q); });
}
EMBER_API ember_status ember_kernel_latent_pool(int32_t impl, const ember_latent_pool_params* p, int32_t threads) {
    return run(impl, p, threads, [](auto& q, ThreadPool& tp) { cpu::latent_pool(q, tp); },
               [](auto& q) { cpu::latent_pool_ref(q); });
}

}  // extern "C"
