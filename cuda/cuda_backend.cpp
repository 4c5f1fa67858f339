// The CUDA backend: every Backend op on the GPU, memory from a caching pool, weights uploaded once.
//
// Precision modes (EMBER_CUDA_PRECISION, read when the backend is made):
//   fast (default)  activations in bf16 between ops, f32 inside every kernel (accumulators,
//                   softmax, norms); f32 weights are converted to bf16 at upload, bf16 / f16 /
//                   quantized weights stay as stored. Matmuls and attention use tensor cores.
//   fp32            activations and weights as f32 / as stored, f32 arithmetic on CUDA cores:
//                   the mode the 1e-4 golden check runs in.
//
// Threads: one CUDA stream per calling thread (created on its first call, destroyed with the
// backend), so concurrent calls on one model run concurrently and each call's work is ordered on
// its own stream; download / synchronize wait for the calling thread's stream only. Buffers are
// per call except the RoPE table the decoder shares between calls; the pool's cross-stream rule
// (memory_pool.cuh) keeps a freed block away from new work until every stream has passed it.
// Every CUDA error becomes an ember::Error; an out-of-memory error leaves the backend usable.
//
// CUDA graphs (on unless EMBER_CUDA_GRAPHS=0): record() captures the calling thread's stream into
// a graph (thread-local capture mode, so other threads' calls go on as usual) and replay()
// launches it there. Launching costs a few microseconds per kernel on the host; a short batch's forward pass
// is hundreds of kernels that each run for less than that, so a replay is what lets a single
// query run at the speed of the device. Any failure while recording ends the capture and
// returns no recording: the caller runs the ops directly, and an error they hold is reported then.
#include <cuda_runtime.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "activation.cuh"
#include "attention.cuh"
#include "backend/backend.h"
#include "copy_rows.cuh"
#include "core/dtype.h"
#include "core/error.h"
#include "cublaslt.cuh"
#include "cuda_backend.cuh"
#include "embed.cuh"
#include "matmul.cuh"
#include "memory_pool.cuh"
#include "norm.cuh"
#include "pool.cuh"
#include "rope.cuh"
#include "softmax.cuh"

namespace ember {
namespace cuda {

namespace {

std::atomic<uint64_t> g_backend_ids{1};

void check(cudaError_t err, const char* what) {
    if (err == cudaSuccess) return;
    (void)cudaGetLastError();
    const ember_status s = err == cudaErrorMemoryAllocation ? EMBER_ERR_OUT_OF_MEMORY : EMBER_ERR_INTERNAL;
    throw Error(s, format("CUDA %s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err)));
}

class CudaBackend final : public Backend {
  public:
    CudaBackend(int device, const Settings& settings)
        : device_(device), precision_(settings.precision), graphs_(settings.graphs), cublaslt_(settings.cublaslt),
          pool_(device) {
        check(cudaSetDevice(device), "cudaSetDevice");
        cudaDeviceProp prop{};
        check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
        name_ = prop.name;
        cc_major_ = prop.major;
        cc_minor_ = prop.minor;
        sms_ = prop.multiProcessorCount;
        memory_ = prop.totalGlobalMem;
        if (cc_major_ < 8)
            EMBER_FAIL(EMBER_ERR_BACKEND_UNAVAILABLE,
                       "CUDA device %d (%s) has compute capability %d.%d; Ember's kernels need 8.0 (Ampere) or newer",
                       device, name_.c_str(), cc_major_, cc_minor_);
    }

    ~CudaBackend() override {
        cudaSetDevice(device_);
        cudaDeviceSynchronize();
        std::lock_guard<std::mutex> lock(streams_mu_);
        for (auto& kv : streams_) cudaStreamDestroy(kv.second);
        (void)cudaGetLastError();
    }

    BackendKind kind() const override { return BackendKind::Cuda; }
    std::string describe() const override {
        return format("cuda:%d (%s, sm_%d%d, %d SMs, %.0f GiB, %s%s%s)", device_, name_.c_str(), cc_major_,
                      cc_minor_, sms_, memory_ / 1073741824.0,
                      precision_ == Precision::Fast ? "bf16 activations, tensor cores" : "fp32 compute",
                      graphs_ ? ", CUDA graphs" : "",
                      !cublaslt_ ? "" : lt::available() ? ", cuBLASLt matmuls" : ", cuBLASLt requested, not loadable");
    }
    int32_t activation_dtype() const override {
        return precision_ == Precision::Fast ? EMBER_DTYPE_BF16 : EMBER_DTYPE_F32;
    }
    int threads() const override { return 1; }

    Buffer alloc(size_t bytes) override { return Buffer(this, pool_.alloc(bytes, stream()), bytes); }
    void release(void* data) noexcept override {
        cudaStream_t s = nullptr;
        try {
            s = stream();
        } catch (...) {
        }
        pool_.release(data, s);
    }
    void upload(void* dst, const void* src, size_t bytes) override {
        if (bytes == 0) return;
        cudaStream_t s = stream();
        check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s), "upload");
        check(cudaStreamSynchronize(s), "upload (synchronize)");
    }
    void download(void* dst, const void* src, size_t bytes) override {
        if (bytes == 0) return;
        cudaStream_t s = stream();
        check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s), "download");
        check(cudaStreamSynchronize(s), "download (synchronize)");
    }
    void synchronize() override { check(cudaStreamSynchronize(stream()), "synchronize"); }

    bool records() const override { return graphs_; }
    std::unique_ptr<Recording> record(const std::function<void()>& ops, std::string* why) override;

    Weight adopt_weight(const void* host, int32_t dtype, int64_t n, int64_t k, Buffer& storage) override {
        const int64_t row_bytes = dtype_row_bytes(dtype, k);
        if (row_bytes < 0) EMBER_FAIL(EMBER_ERR_INTERNAL, "adopt_weight: dtype %d with %lld columns", dtype, (long long)k);
        const size_t bytes = static_cast<size_t>(n * row_bytes);
        cudaStream_t s = stream();
        if (precision_ == Precision::Fast && dtype == EMBER_DTYPE_F32) {
            // bf16 for the tensor cores: upload f32 in chunks through a staging block, convert.
            storage = Buffer(this, pool_.alloc_exact(static_cast<size_t>(n * k) * 2, s), static_cast<size_t>(n * k) * 2);
            const int64_t total = n * k, chunk = int64_t(16) << 20;  // elements per step
            Buffer stage = alloc(static_cast<size_t>(std::min(total, chunk)) * 4);
            for (int64_t e0 = 0; e0 < total; e0 += chunk) {
                const int64_t m = std::min(chunk, total - e0);
                upload(stage.data(), static_cast<const float*>(host) + e0, static_cast<size_t>(m) * 4);
                std::string err;
                throw_if(convert(static_cast<uint16_t*>(storage.data()) + e0, EMBER_DTYPE_BF16, stage.data(),
                                 EMBER_DTYPE_F32, m, s, &err),
                         err);
                synchronize();  // the stage is overwritten next
            }
            return Weight{storage.data(), EMBER_DTYPE_BF16, n, k};
        }
        storage = Buffer(this, pool_.alloc_exact(bytes, s), bytes);
        upload(storage.data(), host, bytes);
        return Weight{storage.data(), dtype, n, k};
    }

    // --- ops ---------------------------------------------------------------------------------
    void embed_rows(const Tensor& out, const Weight& table, const int32_t* ids) override {
        run([&](cudaStream_t s, std::string* e) { return cuda::embed_rows(out, table, ids, s, e); });
    }
    void matmul(const Tensor& y, const Tensor& x, const Weight& w, const float* bias, bool accumulate) override {
        const MatmulArgs a{y, x, w, bias, accumulate, cublaslt_};
        run([&](cudaStream_t s, std::string* e) { return cuda::matmul(a, s, e); });
    }
    void rmsnorm(const Tensor& x, const Tensor* residual, const float* weight, float eps, const Tensor& y) override {
        run([&](cudaStream_t s, std::string* e) { return cuda::rmsnorm(x, residual, weight, eps, y, s, e); });
    }
    void rope(const Tensor& x, int32_t n_heads, int32_t head_dim, const RopeTable& table, const Seqs& seqs,
              bool interleaved, const RopePositions& positions) override {
        run([&](cudaStream_t s, std::string* e) {
            return cuda::rope(x, n_heads, head_dim, table, seqs, interleaved, positions, s, e);
        });
    }
    void attention(const Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, const Seqs& seqs, int32_t n_heads,
                   int32_t n_kv_heads, int32_t head_dim, float scale, bool causal, const AttentionExtras& extras) override {
        AttentionArgs a;
        a.out = out;
        a.q = q;
        a.k = k;
        a.v = v;
        a.seqs = seqs;
        a.n_heads = n_heads;
        a.n_kv_heads = n_kv_heads;
        a.head_dim = head_dim;
        a.scale = scale;
        a.causal = causal;
        a.self_extend_window = extras.window;
        a.q_group = extras.q_group;
        a.k_group = extras.k_group;
        a.q_group_future = extras.q_group_future;
        a.k_group_future = extras.k_group_future;
        a.length_scaling_base = extras.length_scaling_base;
        run([&](cudaStream_t s, std::string* e) { return cuda::attention(a, s, e); });
    }
    void swiglu(const Tensor& out, const Tensor& gate, const Tensor& up) override {
        run([&](cudaStream_t s, std::string* e) { return cuda::swiglu(out, gate, up, s, e); });
    }
    void pool(const Tensor& out, const Tensor& x, const Seqs& seqs, const int32_t* pool_start, int32_t mode) override {
        run([&](cudaStream_t s, std::string* e) { return cuda::pool(out, x, seqs, pool_start, mode, s, e); });
    }
    void layernorm(const Tensor& x, const float* weight, const float* bias, float eps, const Tensor& y) override {
        run([&](cudaStream_t s, std::string* e) { return cuda::layernorm(x, weight, bias, eps, y, s, e); });
    }
    void gelu(const Tensor& out, const Tensor& gate, const Tensor* up) override {
        run([&](cudaStream_t s, std::string* e) { return cuda::gelu(out, gate, up, s, e); });
    }
    void embed_abs(const Tensor& out, const AbsEmbedTables& tables, const int32_t* ids, const Seqs& seqs) override {
        run([&](cudaStream_t s, std::string* e) { return cuda::embed_abs(out, tables, ids, seqs, s, e); });
    }
    void copy_rows(const Tensor& dst, const int32_t* dst_rows, const Tensor& src, const int32_t* src_rows,
                   int64_t n) override {
        run([&](cudaStream_t s, std::string* e) { return cuda::copy_rows(dst, dst_rows, src, src_rows, n, s, e); });
    }
    void latent_pool(const Tensor& out, const Tensor* token_out, const Tensor& x, const Seqs& seqs, const int32_t* pool_start,
                     const LatentBlock& b) override;

  private:
    class Graph final : public Recording {
      public:
        Graph(CudaBackend& owner, cudaGraphExec_t exec) : owner_(owner), exec_(exec) {}
        ~Graph() override {
            cudaGraphExecDestroy(exec_);  // a launch still in flight completes first
            (void)cudaGetLastError();
        }
        void replay() override { check(cudaGraphLaunch(exec_, owner_.stream()), "cudaGraphLaunch"); }

      private:
        CudaBackend& owner_;
        cudaGraphExec_t exec_;
    };

    template <class F>
    void run(F&& f) {
        cudaStream_t s = stream();
        std::string err;
        throw_if(f(s, &err), err);
    }

    // The calling thread's stream on this backend's device (created on first use).
    cudaStream_t stream() {
        int cur = -1;
        if (cudaGetDevice(&cur) != cudaSuccess || cur != device_) check(cudaSetDevice(device_), "cudaSetDevice");
        thread_local struct {
            uint64_t owner = 0;
            cudaStream_t stream = nullptr;
        } cache;
        if (cache.owner == id_) return cache.stream;
        std::lock_guard<std::mutex> lock(streams_mu_);
        auto it = streams_.find(std::this_thread::get_id());
        cudaStream_t s = nullptr;
        if (it != streams_.end()) {
            s = it->second;
        } else {
            check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
            streams_.emplace(std::this_thread::get_id(), s);
            pool_.add_stream(s);
        }
        cache.owner = id_;
        cache.stream = s;
        return s;
    }

    const int device_;
    const Precision precision_;
    const bool graphs_;
    const bool cublaslt_;
    const uint64_t id_ = g_backend_ids.fetch_add(1);
    std::string name_;
    int cc_major_ = 0, cc_minor_ = 0, sms_ = 0;
    size_t memory_ = 0;
    DevicePool pool_;
    std::mutex streams_mu_;
    std::unordered_map<std::thread::id, cudaStream_t> streams_;
};

std::unique_ptr<Recording> CudaBackend::record(const std::function<void()>& ops, std::string* why) {
    auto fail = [&](const std::string& reason) -> std::unique_ptr<Recording> {
        if (why) *why = reason;
        return nullptr;
    };
    if (!graphs_) return fail("CUDA graphs are off (load option or EMBER_CUDA_GRAPHS=0)");
    cudaStream_t s = stream();
    check(cudaStreamSynchronize(s), "synchronize before recording");  // the pool's rule for a capturing stream
    pool_.set_capturing(s, true);
    cudaError_t err = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        pool_.set_capturing(s, false);
        return fail(format("cudaStreamBeginCapture: %s", cudaGetErrorString(err)));
    }
    std::string failure;
    try {
        ops();
    } catch (const std::exception& e) {
        failure = e.what();
    } catch (...) {
        failure = "unknown exception while recording";
    }
    cudaGraph_t graph = nullptr;
    err = cudaStreamEndCapture(s, &graph);  // ends the capture whether or not it was invalidated
    pool_.set_capturing(s, false);
    if (failure.empty() && err != cudaSuccess) failure = format("cudaStreamEndCapture: %s", cudaGetErrorString(err));
    cudaGraphExec_t exec = nullptr;
    if (failure.empty()) {
        err = cudaGraphInstantiate(&exec, graph, 0);
        if (err != cudaSuccess) {
            failure = format("cudaGraphInstantiate: %s", cudaGetErrorString(err));
            exec = nullptr;
        }
    }
    if (graph != nullptr) cudaGraphDestroy(graph);
    (void)cudaGetLastError();
    if (!failure.empty()) return fail(failure);
    return std::make_unique<Graph>(*this, exec);
}

// NV-Embed's latent block from the backend's own ops (see ember_latent_pool_params for the math):
// LayerNorm, scores against the folded latent keys, per-head softmax, values folded into the
// output projection (accumulated onto the residual), GEGLU feed-forward (accumulated), masked mean.
// Rows go through in chunks that bound the wide intermediates (scores, [a | g]) to ~256 MiB; the
// residual stream H (every token, activation dtype) is pooled at the end. In the fast mode the
// f32 folded matrices are converted to bf16 per call (2 x heads x latents x dim elements).
void CudaBackend::latent_pool(const Tensor& out, const Tensor* token_out, const Tensor& x, const Seqs& seqs,
                              const int32_t* pool_start, const LatentBlock& b) {
    const int64_t d = b.dim, hr = int64_t(b.n_heads) * b.n_latents, f = b.ffn_dim;
    if (x.cols != d || out.cols != d || (token_out && token_out->cols != d))
        EMBER_FAIL(EMBER_ERR_INTERNAL, "latent_pool: tensors of width %lld for a block of dim %d", (long long)x.cols, b.dim);
    if (seqs.n_seqs == 0) return;
    const int64_t T = seqs.cu_seqlens_host[seqs.n_seqs];
    const int32_t A = activation_dtype();
    const size_t es = static_cast<size_t>(dtype_info(A)->block_bytes);
    cudaStream_t s = stream();
    std::string err;

    // Weights in the types the matmuls want.
    Buffer sw_buf, vw_buf, w0_buf, w2_buf;
    auto as_act = [&](const Weight& w, Buffer& buf) -> Weight {
        if (precision_ != Precision::Fast || w.dtype != EMBER_DTYPE_F32) return w;
        buf = alloc(static_cast<size_t>(w.n * w.k) * 2);
        throw_if(convert(buf.data(), EMBER_DTYPE_BF16, w.data, EMBER_DTYPE_F32, w.n * w.k, s, &err), err);
        return Weight{buf.data(), EMBER_DTYPE_BF16, w.n, w.k};
    };
    const Weight score_w = as_act(b.score_w, sw_buf), value_w = as_act(b.value_w, vw_buf), w0 = as_act(b.w0, w0_buf),
                 w2 = as_act(b.w2, w2_buf);

    Buffer h_buf = alloc(static_cast<size_t>(T * d) * es);
    const Tensor H{h_buf.data(), A, T, d, d};
    copy_rows(H, nullptr, x, nullptr, T);

    const int64_t per_row = (d + hr + 2 * f) * static_cast<int64_t>(es);
    const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(T, (int64_t(256) << 20) / per_row));
    Buffer xn_buf = alloc(static_cast<size_t>(chunk * d) * es), s_buf = alloc(static_cast<size_t>(chunk * hr) * es),
           f_buf = alloc(static_cast<size_t>(chunk * 2 * f) * es);
    for (int64_t t0 = 0; t0 < T; t0 += chunk) {
        const int64_t m = std::min(chunk, T - t0);
        const Tensor xv = x.rows_view(t0, m), hv = H.rows_view(t0, m);
        const Tensor XN{xn_buf.data(), A, m, d, d}, S{s_buf.data(), A, m, hr, hr}, F{f_buf.data(), A, m, 2 * f, 2 * f};
        layernorm(xv, b.norm_weight, b.norm_bias, b.eps, XN);
        matmul(S, XN, score_w, nullptr, false);
        run([&](cudaStream_t st, std::string* e) { return softmax_groups(S, b.n_heads, b.n_latents, b.scale, st, e); });
        matmul(hv, S, value_w, nullptr, /*accumulate=*/true);
        layernorm(hv, b.ffn_norm_weight, b.ffn_norm_bias, b.eps, XN);
        matmul(F, XN, w0, b.b0, false);
        const Tensor a = F.cols_view(0, f), g = F.cols_view(f, f);
        gelu(a, g, &a);  // a * gelu(g), in place over a
        matmul(hv, a, w2, b.b2, /*accumulate=*/true);
    }
    pool(out, H, seqs, pool_start, EMBER_POOLING_MEAN);
    if (token_out) copy_rows(*token_out, nullptr, H, nullptr, T);
}

}  // namespace

Precision precision_from_env() {
    const char* v = std::getenv("EMBER_CUDA_PRECISION");
    if (v == nullptr || *v == '\0' || std::strcmp(v, "fast") == 0 || std::strcmp(v, "bf16") == 0) return Precision::Fast;
    if (std::strcmp(v, "fp32") == 0 || std::strcmp(v, "f32") == 0) return Precision::Fp32;
    EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "EMBER_CUDA_PRECISION=%s: expected fast or fp32", v);
}

namespace {
// An on / off environment variable: "1" / "on", "0" / "off", `unset` when unset or empty.
bool switch_from_env(const char* name, bool unset) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return unset;
    if (std::strcmp(v, "1") == 0 || std::strcmp(v, "on") == 0) return true;
    if (std::strcmp(v, "0") == 0 || std::strcmp(v, "off") == 0) return false;
    EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "%s=%s: expected 0 / off or 1 / on", name, v);
}
}  // namespace

bool graphs_from_env() { return switch_from_env("EMBER_CUDA_GRAPHS", true); }

bool cublaslt_from_env() { return switch_from_env("EMBER_CUBLASLT", false); }

Settings resolve_settings(const CudaSettings& requested) {
    auto on = [](int32_t sw, bool (*from_env)()) { return sw == EMBER_SWITCH_DEFAULT ? from_env() : sw == EMBER_SWITCH_ON; };
    Settings s;
    s.precision = requested.precision == EMBER_CUDA_PRECISION_DEFAULT ? precision_from_env()
                  : requested.precision == EMBER_CUDA_PRECISION_FP32  ? Precision::Fp32
                                                                      : Precision::Fast;
    s.graphs = on(requested.graphs, graphs_from_env);
    s.cublaslt = on(requested.cublaslt, cublaslt_from_env);
    return s;
}

std::unique_ptr<Backend> make_backend(int device, const Settings& settings) {
    return std::make_unique<CudaBackend>(device, settings);
}

}  // namespace cuda
}  // namespace ember
