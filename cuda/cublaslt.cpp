// cuBLASLt through dlopen: the handful of entry points and enum values Ember uses, declared here
// (values from cublasLt.h / library_types.h, stable across CUDA 11-13).
#include "cublaslt.cuh"

#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>

#include "core/dtype.h"

namespace ember::cuda::lt {
namespace {

using Status = int;  // cublasStatus_t; 0 = CUBLAS_STATUS_SUCCESS
using Handle = void*;
using MatmulDesc = void*;
using Layout = void*;
using Preference = void*;

struct Algo {
    uint64_t data[8];
};
struct HeuristicResult {
    Algo algo;
    size_t workspace_size;
    Status state;
    float waves_count;
    int reserved[4];
};

constexpr int kCudaR32F = 0;        // CUDA_R_32F
constexpr int kCudaR16BF = 14;      // CUDA_R_16BF
constexpr int kComputeF32 = 68;     // CUBLAS_COMPUTE_32F
constexpr int kDescTransA = 3;      // CUBLASLT_MATMUL_DESC_TRANSA
constexpr int kDescTransB = 4;      // CUBLASLT_MATMUL_DESC_TRANSB
constexpr int kOpN = 0, kOpT = 1;   // CUBLAS_OP_N, CUBLAS_OP_T
constexpr int kPrefMaxWorkspace = 1;  // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
constexpr size_t kWorkspaceBytes = size_t(32) << 20;

struct Api {
    void* lib = nullptr;
    Status (*create)(Handle*) = nullptr;
    Status (*desc_create)(MatmulDesc*, int, int) = nullptr;
    Status (*desc_set)(MatmulDesc, int, const void*, size_t) = nullptr;
    Status (*layout_create)(Layout*, int, uint64_t, uint64_t, int64_t) = nullptr;
    Status (*pref_create)(Preference*) = nullptr;
    Status (*pref_set)(Preference, int, const void*, size_t) = nullptr;
    Status (*pref_destroy)(Preference) = nullptr;
    Status (*desc_destroy)(MatmulDesc) = nullptr;
    Status (*layout_destroy)(Layout) = nullptr;
    Status (*heuristic)(Handle, MatmulDesc, Layout, Layout, Layout, Layout, Preference, int, HeuristicResult*, int*) = nullptr;
    Status (*matmul)(Handle, MatmulDesc, const void*, const void*, Layout, const void*, Layout, const void*, const void*,
                     Layout, void*, Layout, const Algo*, void*, size_t, cudaStream_t) = nullptr;
    Handle handle = nullptr;
    std::string error;
};

template <class F>
bool sym(void* lib, const char* name, F& f) {
    f = reinterpret_cast<F>(dlsym(lib, name));
    return f != nullptr;
}

Api& api() {
    static Api a = [] {
        Api r;
        const char* env = std::getenv("EMBER_CUBLASLT_LIB");
        const char* names[] = {env && *env ? env : nullptr, "libcublasLt.so.13"};
        for (const char* n : names) {
            if (n == nullptr) continue;
            r.lib = dlopen(n, RTLD_NOW | RTLD_LOCAL);
            if (r.lib) break;
        }
        if (!r.lib) {
            const char* e = dlerror();
            r.error = std::string("cannot load libcublasLt.so.13: ") + (e ? e : "?");
            return r;
        }
        const bool ok = sym(r.lib, "cublasLtCreate", r.create) && sym(r.lib, "cublasLtMatmulDescCreate", r.desc_create) &&
                        sym(r.lib, "cublasLtMatmulDescSetAttribute", r.desc_set) &&
                        sym(r.lib, "cublasLtMatrixLayoutCreate", r.layout_create) &&
                        sym(r.lib, "cublasLtMatmulPreferenceCreate", r.pref_create) &&
                        sym(r.lib, "cublasLtMatmulPreferenceSetAttribute", r.pref_set) &&
                        sym(r.lib, "cublasLtMatmulPreferenceDestroy", r.pref_destroy) &&
                        sym(r.lib, "cublasLtMatmulDescDestroy", r.desc_destroy) &&
                        sym(r.lib, "cublasLtMatrixLayoutDestroy", r.layout_destroy) &&
                        sym(r.lib, "cublasLtMatmulAlgoGetHeuristic", r.heuristic) && sym(r.lib, "cublasLtMatmul", r.matmul);
        if (!ok) {
            r.error = "libcublasLt lacks an expected entry point";
            r.lib = nullptr;
            return r;
        }
        if (r.create(&r.handle) != 0) {
            r.error = "cublasLtCreate failed";
            r.lib = nullptr;
        }
        return r;
    }();
    return a;
}

// One cached plan per shape: descriptors and the chosen algorithm (never freed: a handful).
struct Plan {
    MatmulDesc desc = nullptr;
    Layout a = nullptr, b = nullptr, c = nullptr;
    HeuristicResult h{};
};
// (m, n, k, x stride, y stride, accumulate, device, workspace bytes)
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int, int, size_t>;

std::mutex g_mutex;
std::map<Key, Plan> g_plans;
std::map<std::pair<int, cudaStream_t>, void*> g_workspaces;

}  // namespace

bool available(std::string* why) {
    Api& a = api();
    if (why) *why = a.error;
    return a.lib != nullptr;
}

bool applies(const MatmulArgs& a) {
    return a.x.dtype == EMBER_DTYPE_BF16 && a.y.dtype == EMBER_DTYPE_BF16 && a.w.dtype == EMBER_DTYPE_BF16 &&
           a.bias == nullptr && a.x.rows > 0 && a.w.n > 0 && a.w.k > 0 && available();
}

ember_status matmul(const MatmulArgs& m, cudaStream_t stream, std::string* error) {
    EMBER_CU_REQUIRE(applies(m), "matmul: cuBLASLt does not apply (%s)",
                     available() ? "needs bf16 x, W, y and no bias" : api().error.c_str());
    Api& A = api();
    int dev = 0;
    EMBER_CU_TRY(cuda_status(cudaGetDevice(&dev), "cuBLASLt: cudaGetDevice", error));
    // A matmul recorded into a CUDA graph takes no workspace: the graph may be replayed on another
    // thread's stream while this stream runs direct work in this stream's workspace, and
    // cudaMalloc is not allowed while capturing.
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    EMBER_CU_TRY(cuda_status(cudaStreamIsCapturing(stream, &capture), "cuBLASLt: cudaStreamIsCapturing", error));
    const size_t ws_bytes = capture == cudaStreamCaptureStatusNone ? kWorkspaceBytes : 0;
    std::lock_guard<std::mutex> lock(g_mutex);
    void* ws = nullptr;
    if (ws_bytes > 0) {
        void*& stream_ws = g_workspaces[{dev, stream}];
        if (stream_ws == nullptr)
            EMBER_CU_TRY(cuda_status(cudaMalloc(&stream_ws, kWorkspaceBytes), "cuBLASLt workspace", error));
        ws = stream_ws;
    }
    // Row-major y[m, n] = x[m, k] W[n, k]^T is column-major y^T (n x m) = W^T' ... i.e.
    // D (n x m, ld y_stride) = op(A) B with A = W as a k x n column-major matrix (ld k), op = T,
    // and B = x as k x m column-major (ld x_stride).
    const int64_t M = m.x.rows, N = m.w.n, K = m.w.k;
    const Key key{M, N, K, m.x.stride, m.y.stride, m.accumulate ? 1 : 0, dev, ws_bytes};
    auto it = g_plans.find(key);
    if (it == g_plans.end()) {
        Plan p;
        const int ta = kOpT, tb = kOpN;
        bool ok = A.desc_create(&p.desc, kComputeF32, kCudaR32F) == 0 &&
                  A.desc_set(p.desc, kDescTransA, &ta, sizeof(ta)) == 0 &&
                  A.desc_set(p.desc, kDescTransB, &tb, sizeof(tb)) == 0 &&
                  A.layout_create(&p.a, kCudaR16BF, static_cast<uint64_t>(K), static_cast<uint64_t>(N), K) == 0 &&
                  A.layout_create(&p.b, kCudaR16BF, static_cast<uint64_t>(K), static_cast<uint64_t>(M), m.x.stride) == 0 &&
                  A.layout_create(&p.c, kCudaR16BF, static_cast<uint64_t>(N), static_cast<uint64_t>(M), m.y.stride) == 0;
        Preference pref = nullptr;
        const uint64_t max_ws = ws_bytes;
        int found = 0;
        ok = ok && A.pref_create(&pref) == 0 && A.pref_set(pref, kPrefMaxWorkspace, &max_ws, sizeof(max_ws)) == 0 &&
             A.heuristic(A.handle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &p.h, &found) == 0 && found > 0;
        if (pref != nullptr) A.pref_destroy(pref);
        if (!ok) {
            for (Layout l : {p.a, p.b, p.c})
                if (l != nullptr) A.layout_destroy(l);
            if (p.desc != nullptr) A.desc_destroy(p.desc);
            return fail(EMBER_ERR_INTERNAL, format("cuBLASLt: no algorithm for %lld x %lld x %lld", (long long)M,
                                                   (long long)N, (long long)K), error);
        }
        it = g_plans.emplace(key, p).first;
    }
    const Plan& p = it->second;
    const float alpha = 1.0f, beta = m.accumulate ? 1.0f : 0.0f;
    const Status s = A.matmul(A.handle, p.desc, &alpha, m.w.data, p.a, m.x.data, p.b, &beta, m.y.data, p.c, m.y.data, p.c,
                              &p.h.algo, ws, ws_bytes, stream);
    if (s != 0) return fail(EMBER_ERR_INTERNAL, format("cublasLtMatmul failed with status %d", s), error);
    return EMBER_OK;
}

}  // namespace ember::cuda::lt
