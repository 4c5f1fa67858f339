// CUDA benchmarks for ci/gpu-check.sh. Each prints human-readable lines and, for the summary table,
// lines "RESULT <key> <value> <unit>".
//
//   ember_cuda_bench attention            the mma.sync flash kernel's TFLOP/s (bf16, head_dim
//                                         128) on the shapes, and at B1 S32768 with
//                                         SelfExtend (W = 512) against the same shape without it;
//                                         FLOPs = 4 B H S^2 D (causal: half), whatever SelfExtend
//                                         adds
//   ember_cuda_bench attention wgmma      the same shapes (SelfExtend's left out) on the sm_90a
//                                         wgmma kernel (the default on 9.0), keys <shape>_wgmma
//   ember_cuda_bench matmul               tensor-core matmul vs cuBLASLt (when loadable) and the
//                                         Q8_0 / Q4_K weight paths, Qwen3-0.6B projections at
//                                         m = 16384 (B32 x 512)
//   ember_cuda_bench matmul-small         one query's matmuls (m = 1 to 256, the same
//                                         projections) on every path that applies, as W's read
//                                         rate; RESULT rows for m = 16
//   ember_cuda_bench e2e --dir DIR [--like qwen3-0.6b] [--key KEY] [--batch 32] [--mixed 1]
//                        [--probe-out FILE] [--gguf q8_0|q4_k|q6_k|f16|bf16]
//                                         ember_embed tokens/s on the CUDA backend: B x 512 and
//                                         256 texts of log-normal length (median ~120, max 512) in
//                                         one ragged call; DIR holds a model (written here with
//                                         random weights when missing). --probe-out writes the
//                                         embeddings of a fixed probe batch (ids + floats) for
//                                         ci/gpu/peers.py to compare with PyTorch.
// Timing: CUDA events around the kernels (median of 10 after 3 warm-ups) for kernels; wall clock
// around the synchronous C call (median of 5 after 1 warm-up) end to end.
#include <cuda_runtime.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "attention.cuh"
#include "bench/synth_model.h"
#include "core/dtype.h"
#include "core/half.h"
#include "cublaslt.cuh"
#include "ember/ember.h"
#include "ember/tools.h"
#include "io/json.h"
#include "matmul.cuh"

using namespace ember;
using namespace ember::cuda;

namespace {

#define CK(x)                                                                                       \
    do {                                                                                            \
        cudaError_t e_ = (x);                                                                       \
        if (e_ != cudaSuccess) {                                                                    \
            std::fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
            std::exit(1);                                                                           \
        }                                                                                           \
    } while (0)

// Median milliseconds of fn() over `reps` timed runs after `warm` untimed ones.
double time_ms(const std::function<void()>& fn, int warm = 3, int reps = 10) {
    for (int i = 0; i < warm; ++i) fn();
    CK(cudaDeviceSynchronize());
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        CK(cudaEventRecord(a));
        fn();
        CK(cudaEventRecord(b));
        CK(cudaEventSynchronize(b));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, a, b));
        t.push_back(ms);
    }
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// Device buffer of random bf16 values in [-scale, scale] (never zeros: zeros run faster).
void* random_bf16(size_t n, uint64_t seed, float scale) {
    std::vector<uint16_t> h(n);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(-scale, scale);
    for (auto& x : h) x = f32_to_bf16(u(rng));
    void* d = nullptr;
    CK(cudaMalloc(&d, n * 2));
    CK(cudaMemcpy(d, h.data(), n * 2, cudaMemcpyHostToDevice));
    return d;
}

void* random_bytes(size_t n, uint64_t seed, int32_t dtype) {
    std::vector<uint8_t> h(n);
    std::mt19937_64 rng(seed);
    for (auto& x : h) x = static_cast<uint8_t>(rng());
    const int bb = dtype_info(dtype)->block_bytes;
    const int off = dtype == EMBER_DTYPE_Q6_K ? 208 : 0;
    const uint16_t d = f32_to_f16(0.001f);
    for (size_t b = 0; b + bb <= n; b += bb) std::memcpy(&h[b + off], &d, 2);
    void* p = nullptr;
    CK(cudaMalloc(&p, n));
    CK(cudaMemcpy(p, h.data(), n, cudaMemcpyHostToDevice));
    return p;
}

// with_wgmma: the sm_90a wgmma kernel instead of the flash one, on the shapes it takes (its own
// invocation in ci/gpu-check.sh, like the wgmma matmul); rows keyed <shape>_wgmma.
int bench_attention(bool with_wgmma) {
    struct Shape {
        const char* key;
        int B, H, S, D;
        bool causal;
        int window;  // SelfExtend; 0: off
    };
    const Shape shapes[] = {{"attn_b32_s512", 32, 16, 512, 128, false, 0},
                            {"attn_b8_s2048", 8, 16, 2048, 128, false, 0},
                            {"attn_b1_s32768", 1, 16, 32768, 128, false, 0},
                            {"attn_causal_b2_s8192", 2, 16, 8192, 128, true, 0},
                            {"attn_se_b1_s32768", 1, 16, 32768, 128, false, 512},
                            {"attn_causal_b1_s32768", 1, 16, 32768, 128, true, 0},
                            {"attn_causal_se_b1_s32768", 1, 16, 32768, 128, true, 512}};
    std::printf("%-26s %10s %10s\n", "shape", "ms", "TFLOP/s");
    for (const Shape& s : shapes) {
        if (with_wgmma && s.window > 0) continue;  // SelfExtend is not the wgmma kernel's
        const int64_t T = int64_t(s.B) * s.S, W = int64_t(s.H) * s.D;
        void* q = random_bf16(T * W, 1, 1.0f);
        void* k = random_bf16(T * W, 2, 1.0f);
        void* v = random_bf16(T * W, 3, 1.0f);
        void* o = nullptr;
        CK(cudaMalloc(&o, T * W * 2));
        std::vector<int32_t> cu(s.B + 1);
        for (int b = 0; b <= s.B; ++b) cu[b] = b * s.S;
        int32_t* dcu = nullptr;
        CK(cudaMalloc(&dcu, cu.size() * 4));
        CK(cudaMemcpy(dcu, cu.data(), cu.size() * 4, cudaMemcpyHostToDevice));
        AttentionArgs a;
        a.q = Tensor{q, EMBER_DTYPE_BF16, T, W, W};
        a.k = Tensor{k, EMBER_DTYPE_BF16, T, W, W};
        a.v = Tensor{v, EMBER_DTYPE_BF16, T, W, W};
        a.out = Tensor{o, EMBER_DTYPE_BF16, T, W, W};
        a.seqs.cu_seqlens = dcu;
        a.seqs.cu_seqlens_host = cu.data();
        a.seqs.n_seqs = s.B;
        a.seqs.total_tokens = T;
        a.seqs.max_len = s.S;
        a.n_heads = a.n_kv_heads = s.H;
        a.head_dim = s.D;
        a.scale = 1.0f / std::sqrt(float(s.D));
        a.causal = s.causal;
        // SelfExtend's grouped operands: random like q and k (the timing does not depend on them).
        void* grouped[4] = {nullptr, nullptr, nullptr, nullptr};
        if (s.window > 0) {
            for (int i = 0; i < (s.causal ? 2 : 4); ++i) grouped[i] = random_bf16(T * W, 4 + i, 1.0f);
            a.self_extend_window = s.window;
            a.q_group = Tensor{grouped[0], EMBER_DTYPE_BF16, T, W, W};
            a.k_group = Tensor{grouped[1], EMBER_DTYPE_BF16, T, W, W};
            if (!s.causal) {
                a.q_group_future = Tensor{grouped[2], EMBER_DTYPE_BF16, T, W, W};
                a.k_group_future = Tensor{grouped[3], EMBER_DTYPE_BF16, T, W, W};
            }
        }
        const AttentionPath path = with_wgmma ? AttentionPath::Wgmma : AttentionPath::Flash;
        const std::string key = std::string(s.key) + (with_wgmma ? "_wgmma" : "");
        const bool applies = attention_path_applies(a, path);
        std::printf("%-26s path %s%s\n", key.c_str(), attention_path_name(path), applies ? "" : " does not apply");
        bool ok = true;
        std::string err;
        const double ms = applies ? time_ms([&] {
            if (ok && attention_with(a, path, nullptr, &err) != EMBER_OK) ok = false;
        })
                                  : NAN;
        for (void* g : grouped) cudaFree(g);
        if (!ok) {
            std::fprintf(stderr, "attention failed: %s\n", err.c_str());
            return 1;
        }
        if (applies) {
            const double flops = 4.0 * s.B * s.H * double(s.S) * s.S * s.D * (s.causal ? 0.5 : 1.0);
            const double tf = flops / (ms * 1e-3) / 1e12;
            std::printf("%-26s %10.3f %10.1f\n", key.c_str(), ms, tf);
            std::printf("RESULT %s %.1f TFLOP/s\n", key.c_str(), tf);
        }
        cudaFree(q);
        cudaFree(k);
        cudaFree(v);
        cudaFree(o);
        cudaFree(dcu);
    }
    return 0;
}

// The Qwen3-0.6B layer's projections (n x k of W), the matmul benchmarks' shapes.
struct Projection {
    const char* name;
    int64_t n, k;
};
constexpr Projection kProjections[] = {{"q_proj", 2048, 1024}, {"kv_proj", 1024, 1024}, {"o_proj", 1024, 2048},
                                       {"gate_up", 3072, 1024}, {"down", 1024, 3072}};

// with_wgmma: also the sm_90a wgmma kernel (its own invocation in ci/gpu-check.sh, so that a
// fault there cannot take the other columns with it).
int bench_matmul(bool with_wgmma) {
    const int64_t M = 16384;
    std::string why;
    const bool have_lt = lt::available(&why);
    if (!have_lt) std::printf("cuBLASLt not loadable (%s): no reference column\n", why.c_str());
    std::printf("%-10s %6s %6s %6s %12s %12s %12s %12s %12s\n", "matmul", "m", "n", "k", "ember bf16", "ember wgmma",
                "cuBLASLt", "ember q8_0", "ember q4_k");
    double sum_e = 0, sum_w = 0, sum_lt = 0, sum_q8 = 0, sum_q4 = 0, flops_all = 0;
    bool failed = false;
    for (const Projection& s : kProjections) {
        void* x = random_bf16(M * s.k, 5, 1.0f);
        void* w = random_bf16(s.n * s.k, 6, 0.05f);
        void* wq8 = random_bytes(static_cast<size_t>(s.n * dtype_row_bytes(EMBER_DTYPE_Q8_0, s.k)), 7, EMBER_DTYPE_Q8_0);
        void* wq4 = random_bytes(static_cast<size_t>(s.n * dtype_row_bytes(EMBER_DTYPE_Q4_K, s.k)), 8, EMBER_DTYPE_Q4_K);
        void* y = nullptr;
        CK(cudaMalloc(&y, M * s.n * 2));
        const Tensor tx{x, EMBER_DTYPE_BF16, M, s.k, s.k}, ty{y, EMBER_DTYPE_BF16, M, s.n, s.n};
        std::string err;
        // NAN when the path fails (reported): the reference column must not sink the run.
        auto run = [&](const Weight& wt, MatmulPath path) {
            const MatmulArgs a{ty, tx, wt, nullptr, false};
            bool ok = true;
            const double ms = time_ms([&] {
                if (ok && matmul_with(a, path, nullptr, &err) != EMBER_OK) {
                    std::fprintf(stderr, "matmul (%s) failed: %s\n", matmul_path_name(path), err.c_str());
                    ok = false;
                }
            });
            if (!ok && path != MatmulPath::CublasLt && path != MatmulPath::Wgmma) failed = true;
            return ok ? ms : NAN;
        };
        const double flops = 2.0 * M * s.n * s.k;
        const double te = run(Weight{w, EMBER_DTYPE_BF16, s.n, s.k}, MatmulPath::TensorCore);
        const double tl = have_lt && !with_wgmma ? run(Weight{w, EMBER_DTYPE_BF16, s.n, s.k}, MatmulPath::CublasLt) : NAN;
        const bool have_wg =
            with_wgmma && matmul_wgmma_applies(MatmulArgs{ty, tx, Weight{w, EMBER_DTYPE_BF16, s.n, s.k}, nullptr, false});
        const double tw = have_wg ? run(Weight{w, EMBER_DTYPE_BF16, s.n, s.k}, MatmulPath::Wgmma) : NAN;
        // With wgmma: the quantized columns on the wgmma path too.
        const MatmulPath qpath = have_wg ? MatmulPath::Wgmma : MatmulPath::TensorCore;
        const double t8 = run(Weight{wq8, EMBER_DTYPE_Q8_0, s.n, s.k}, qpath);
        const double t4 = run(Weight{wq4, EMBER_DTYPE_Q4_K, s.n, s.k}, qpath);
        auto tf = [&](double ms) { return flops / (ms * 1e-3) / 1e12; };
        std::printf("%-10s %6lld %6lld %6lld %12.1f %12.1f %12.1f %12.1f %12.1f  TFLOP/s\n", s.name, (long long)M,
                    (long long)s.n, (long long)s.k, tf(te), have_wg ? tf(tw) : NAN, have_lt ? tf(tl) : NAN, tf(t8), tf(t4));
        sum_e += te;
        sum_w += tw;
        sum_lt += tl;
        sum_q8 += t8;
        sum_q4 += t4;
        flops_all += flops;
        cudaFree(x);
        cudaFree(w);
        cudaFree(wq8);
        cudaFree(wq4);
        cudaFree(y);
    }
    auto tf_all = [&](double ms) { return flops_all / (ms * 1e-3) / 1e12; };
    if (failed) return 1;
    std::printf("RESULT matmul_ember_bf16 %.1f TFLOP/s\n", tf_all(sum_e));
    if (have_lt && std::isfinite(sum_lt)) std::printf("RESULT matmul_cublaslt_bf16 %.1f TFLOP/s\n", tf_all(sum_lt));
    if (std::isfinite(sum_w) && sum_w > 0) std::printf("RESULT matmul_ember_bf16_wgmma %.1f TFLOP/s\n", tf_all(sum_w));
    const char* suffix = with_wgmma ? "_wgmma" : "";
    if (std::isfinite(sum_q8)) std::printf("RESULT matmul_ember_q8_0%s %.1f TFLOP/s\n", suffix, tf_all(sum_q8));
    if (std::isfinite(sum_q4)) std::printf("RESULT matmul_ember_q4_k%s %.1f TFLOP/s\n", suffix, tf_all(sum_q4));
    return 0;
}

// One query's matmuls: m = 1 to 256 rows on the Qwen3-0.6B projections (bf16 W), every path that
// applies, as W's read rate (its bytes over the time; x and y are small at these m). One 16-token
// query took 4.3 ms end to end on an H200, where reading the weights once takes 0.25 ms: this says
// how much of that the matmuls are, and on which path. Each timing covers 20 launches in a row, so
// the launch gaps stay out of it.
int bench_matmul_small() {
    const MatmulPath paths[] = {MatmulPath::SmallM, MatmulPath::TensorCore, MatmulPath::Wgmma, MatmulPath::CublasLt};
    constexpr int kLaunches = 20;
    const bool have_lt = lt::available();
    std::printf("%-8s %6s %-12s %10s %10s\n", "matmul", "m", "path", "us", "W GB/s");
    double bytes16 = 0, t16_default = 0, t16_lt = 0;
    for (int64_t m : {1, 8, 16, 64, 256}) {
        for (const Projection& s : kProjections) {
            void* x = random_bf16(static_cast<size_t>(m * s.k), 5, 1.0f);
            void* w = random_bf16(static_cast<size_t>(s.n * s.k), 6, 0.05f);
            void* y = nullptr;
            CK(cudaMalloc(&y, static_cast<size_t>(m * s.n * 2)));
            MatmulArgs a{Tensor{y, EMBER_DTYPE_BF16, m, s.n, s.n}, Tensor{x, EMBER_DTYPE_BF16, m, s.k, s.k},
                         Weight{w, EMBER_DTYPE_BF16, s.n, s.k}, nullptr, false};
            const MatmulPath chosen = choose_matmul(a);
            const double w_bytes = 2.0 * s.n * s.k;
            for (MatmulPath path : paths) {
                if (!matmul_path_applies(a, path) || (path == MatmulPath::CublasLt && !have_lt)) continue;
                std::string err;
                bool ok = true;
                const double us = 1e3 / kLaunches * time_ms([&] {
                    for (int i = 0; i < kLaunches && ok; ++i) ok = matmul_with(a, path, nullptr, &err) == EMBER_OK;
                });
                if (!ok) {
                    std::fprintf(stderr, "matmul %s m %lld (%s): %s\n", s.name, (long long)m, matmul_path_name(path),
                                 err.c_str());
                    if (path != MatmulPath::CublasLt) return 1;  // the reference may fail; Ember's paths may not
                    continue;
                }
                std::printf("%-8s %6lld %-12s %10.2f %10.1f%s\n", s.name, (long long)m, matmul_path_name(path), us,
                            w_bytes / (us * 1e-6) / 1e9, path == chosen ? "  (default)" : "");
                if (m == 16 && path == chosen) t16_default += us;
                if (m == 16 && path == MatmulPath::CublasLt) t16_lt += us;
            }
            if (m == 16) bytes16 += w_bytes;
            cudaFree(x);
            cudaFree(w);
            cudaFree(y);
        }
    }
    std::printf("RESULT matmul_m16_default %.1f GB/s\n", bytes16 / (t16_default * 1e-6) / 1e9);
    if (t16_lt > 0) std::printf("RESULT matmul_m16_cublaslt %.1f GB/s\n", bytes16 / (t16_lt * 1e-6) / 1e9);
    return 0;
}

// --- end to end ------------------------------------------------------------------------------

// 256 lengths, log-normal with median 120 (sigma 0.7), clamped to [4, 512]: a 64-bit LCG and
// Box-Muller, written identically in ci/gpu/peers.py so both sides embed the same workload.
std::vector<int> mixed_lengths() {
    uint64_t state = 1234;
    auto uniform = [&] {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (static_cast<double>(state >> 11) + 0.5) / 9007199254740992.0;  // (0, 1)
    };
    std::vector<int> out;
    while (out.size() < 256) {
        const double u1 = uniform(), u2 = uniform();
        const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
        out.push_back(std::clamp(static_cast<int>(std::floor(std::exp(std::log(120.0) + 0.7 * z) + 0.5)), 4, 512));
    }
    return out;
}

// Median seconds of `reps` ember_embed calls after `warm` untimed ones; the last call's embeddings
// in *last when asked.
double embed_seconds(ember_model* m, const std::vector<int32_t>& ids, const std::vector<int32_t>& cu, int hidden,
                     int warm, int reps, std::vector<float>* last = nullptr) {
    ember_batch b{};
    b.token_ids = ids.data();
    b.cu_seqlens = cu.data();
    b.n_seqs = static_cast<int32_t>(cu.size()) - 1;
    std::vector<float> out(static_cast<size_t>(b.n_seqs) * hidden);
    std::vector<double> t;
    for (int r = 0; r < warm + reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        if (ember_embed(m, &b, nullptr, out.data(), out.size()) != EMBER_OK) {
            std::fprintf(stderr, "embed failed: %s\n", ember_last_error());
            std::exit(1);
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r >= warm) t.push_back(s);
    }
    std::sort(t.begin(), t.end());
    if (last != nullptr) *last = std::move(out);
    return t[t.size() / 2];
}

// ember_model_runtime's JSON (an empty object when it cannot be had).
Json model_runtime(const ember_model* m) {
    size_t needed = 0;
    if (ember_model_runtime(m, nullptr, 0, &needed) != EMBER_OK) return Json::object();
    std::string text(needed + 256, '\0');
    if (ember_model_runtime(m, text.data(), text.size(), &needed) != EMBER_OK || needed > text.size()) return Json::object();
    text.resize(needed - 1);
    try {
        return parse_json(text, "ember_model_runtime");
    } catch (const Error&) {
        return Json::object();
    }
}

int bench_e2e(int argc, char** argv) {
    std::string dir, like = "qwen3-0.6b", probe_out, key = "qwen3_0.6b", gguf;
    int batch = 32, query = 0;
    bool mixed = true;
    for (int i = 2; i < argc; i += 2) {
        const std::string k = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "missing value for %s\n", k.c_str());
            return 2;
        }
        const std::string v = argv[i + 1];
        if (k == "--dir") dir = v;
        else if (k == "--like") like = v;
        else if (k == "--probe-out") probe_out = v;
        else if (k == "--key") key = v;
        else if (k == "--gguf") gguf = v;
        else if (k == "--batch") batch = std::atoi(v.c_str());
        else if (k == "--mixed") mixed = v != "0";
        else if (k == "--query") query = std::atoi(v.c_str());
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (dir.empty()) dir = "/tmp/ember-bench-" + like + "-bf16";
    struct stat st;
    if (stat((dir + "/config.json").c_str(), &st) != 0) {
        // No model there yet: random weights of a decoder shape Ember can write. A folder that
        // holds a model (any family, e.g. NV-Embed written by ci/gpu/peers.py) is used as it is,
        // --like then only names it.
        const bench::ModelShape* shape = bench::find_shape(like);
        if (shape == nullptr) {
            std::fprintf(stderr, "unknown shape %s (and no model in %s)\n", like.c_str(), dir.c_str());
            return 2;
        }
        bench::synth_model(*shape, "bf16", dir);
    }
    std::string path = dir;
    if (!gguf.empty()) {  // the same weights converted to a GGUF type: its speed next to bf16's
        int32_t dt = -1;
        for (int32_t t : {EMBER_DTYPE_F16, EMBER_DTYPE_BF16, EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_K, EMBER_DTYPE_Q6_K})
            if (gguf == dtype_info(t)->name) dt = t;
        if (dt < 0) {
            std::fprintf(stderr, "--gguf: unknown type %s\n", gguf.c_str());
            return 2;
        }
        path = dir + "." + gguf + ".gguf";
        const auto c0 = std::chrono::steady_clock::now();
        if (ember_convert(dir.c_str(), path.c_str(), dt) != EMBER_OK) {
            std::fprintf(stderr, "convert failed: %s\n", ember_last_error());
            return 1;
        }
        std::printf("converted to %s in %.1f s\n", path.c_str(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count());
    }
    ember_load_options o;
    ember_load_options_init(&o);
    o.backend = EMBER_BACKEND_CUDA;
    ember_model* m = nullptr;
    const auto l0 = std::chrono::steady_clock::now();
    if (ember_model_load(path.c_str(), &o, &m) != EMBER_OK) {
        std::fprintf(stderr, "load failed: %s\n", ember_last_error());
        return 1;
    }
    std::printf("loaded %s in %.1f s\n", path.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - l0).count());
    ember_model_info info;
    ember_model_get_info(m, &info);
    std::mt19937 rng(7);
    auto random_ids = [&](int64_t n) {
        std::vector<int32_t> ids(static_cast<size_t>(n));
        for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(info.vocab_size));
        return ids;
    };
    // B x 512.
    {
        std::vector<int32_t> cu(batch + 1);
        for (int b = 0; b <= batch; ++b) cu[b] = b * 512;
        const std::vector<int32_t> ids = random_ids(int64_t(batch) * 512);
        const double s = embed_seconds(m, ids, cu, info.embedding_size, 1, 5);
        std::printf("%s B%d x 512: %.1f ms, %.0f tokens/s\n", like.c_str(), batch, s * 1e3, batch * 512 / s);
        std::printf("RESULT e2e_%s_b%dx512 %.0f tok/s\n", key.c_str(), batch, batch * 512 / s);
    }
    // 256 texts of mixed length, the same lengths ci/gpu/peers.py draws (mixed_lengths()).
    if (mixed) {
        std::vector<int32_t> cu{0};
        for (int len : mixed_lengths()) cu.push_back(cu.back() + len);
        const std::vector<int32_t> ids = random_ids(cu.back());
        const double s = embed_seconds(m, ids, cu, info.embedding_size, 1, 5);
        std::printf("%s 256 mixed texts (%d tokens): %.1f ms, %.0f useful tokens/s\n", like.c_str(), cu.back(), s * 1e3,
                    cu.back() / s);
        std::printf("RESULT e2e_%s_mixed256 %.0f tok/s\n", key.c_str(), cu.back() / s);
    }
    // Probe batch for the cross-check with PyTorch: 4 sequences of 64, 17, 200, 5 tokens.
    if (!probe_out.empty()) {
        std::mt19937 pr(99);
        std::vector<int32_t> cu{0}, ids;
        for (int len : {64, 17, 200, 5}) {
            for (int i = 0; i < len; ++i) ids.push_back(static_cast<int32_t>(pr() % static_cast<uint32_t>(info.vocab_size)));
            cu.push_back(static_cast<int32_t>(ids.size()));
        }
        ember_batch b{};
        b.token_ids = ids.data();
        b.cu_seqlens = cu.data();
        b.n_seqs = 4;
        std::vector<float> out(4 * static_cast<size_t>(info.embedding_size));
        if (ember_embed(m, &b, nullptr, out.data(), out.size()) != EMBER_OK) {
            std::fprintf(stderr, "probe embed failed: %s\n", ember_last_error());
            return 1;
        }
        FILE* f = std::fopen(probe_out.c_str(), "w");
        if (!f) return 1;
        // Text: a line of lengths, a line of ids, then one line of floats per sequence.
        for (size_t s = 0; s + 1 < cu.size(); ++s) std::fprintf(f, "%d ", cu[s + 1] - cu[s]);
        std::fprintf(f, "\n");
        for (int32_t id : ids) std::fprintf(f, "%d ", id);
        std::fprintf(f, "\n");
        for (int s = 0; s < 4; ++s) {
            for (int c = 0; c < info.embedding_size; ++c) std::fprintf(f, "%.8g ", out[s * info.embedding_size + c]);
            std::fprintf(f, "\n");
        }
        std::fclose(f);
    }
    // One query of `query` tokens at a time (an online search request): launch-bound, so this is
    // where CUDA graphs pay. The same weights loaded without graphs and with them (the load option);
    // the warm-up covers the first call (direct) and the second (recorded).
    int rc = 0;
    if (query > 0) {
        // Two loads of the same weights: CUDA graphs off, and on.
        ember_model_free(m);
        m = nullptr;
        ember_model* g = nullptr;
        ember_load_options off = o, on = o;
        off.cuda_graphs = EMBER_SWITCH_OFF;
        on.cuda_graphs = EMBER_SWITCH_ON;
        ember_status st = ember_model_load(path.c_str(), &off, &m);
        if (st == EMBER_OK) st = ember_model_load(path.c_str(), &on, &g);
        if (st != EMBER_OK) {
            std::fprintf(stderr, "load for the one-query rows failed: %s\n", ember_last_error());
            ember_model_free(m);
            return 1;
        }
        const std::vector<int32_t> cu{0, query}, ids = random_ids(query);
        std::vector<float> plain_out, graphs_out;
        constexpr int kWarm = 5, kReps = 50;
        const double plain = embed_seconds(m, ids, cu, info.embedding_size, kWarm, kReps, &plain_out);
        const double graphs = embed_seconds(g, ids, cu, info.embedding_size, kWarm, kReps, &graphs_out);
        const Json rt = model_runtime(g);
        ember_model_free(g);
        std::printf("%s 1 query x %d tokens: %.3f ms, with CUDA graphs %.3f ms (%.2fx)\n", like.c_str(), query,
                    plain * 1e3, graphs * 1e3, plain / graphs);
        std::printf("RESULT e2e_%s_query%d %.1f queries/s\n", key.c_str(), query, 1.0 / plain);
        // The graphs row counts only if every call after the first was a replay (the first runs
        // directly, the second records and replays) and the replays gave the direct pass's
        // embeddings bit for bit (same kernels, same grids).
        const Json* gr = json_find(rt, "graphs");
        const int64_t replayed = gr ? json_int_or(*gr, "replayed", 0, "runtime") : 0;
        const std::string failure = gr ? json_string_or(*gr, "last_failure", "", "runtime") : "no runtime counters";
        const bool same = plain_out.size() == graphs_out.size() &&
                          std::memcmp(plain_out.data(), graphs_out.data(), plain_out.size() * sizeof(float)) == 0;
        std::printf("CUDA graphs: %lld replays%s%s; embeddings %s the direct pass's\n", static_cast<long long>(replayed),
                    failure.empty() ? "" : ", last failure: ", failure.c_str(), same ? "equal" : "DIFFER from");
        if (replayed == kWarm + kReps - 1 && failure.empty() && same) {
            std::printf("RESULT e2e_%s_query%d_graphs %.1f queries/s\n", key.c_str(), query, 1.0 / graphs);
        } else {
            std::fprintf(stderr, "CUDA graphs: %s\n", same ? "the timed calls were not all replays" : "replayed embeddings differ");
            rc = 1;
        }
    }
    ember_model_free(m);
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string what = argc > 1 ? argv[1] : "";
    int dev_count = 0;
    if (cudaGetDeviceCount(&dev_count) != cudaSuccess || dev_count == 0) {
        std::fprintf(stderr, "no CUDA device\n");
        return 77;
    }
    cudaDeviceProp prop{};
    CK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s, sm_%d%d, %d SMs\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    if (what == "attention") return bench_attention(argc > 2 && std::string(argv[2]) == "wgmma");
    if (what == "matmul") return bench_matmul(argc > 2 && std::string(argv[2]) == "wgmma");
    if (what == "matmul-small") return bench_matmul_small();
    if (what == "e2e") return bench_e2e(argc, argv);
    std::fprintf(stderr, "usage: %s attention [wgmma] | matmul [wgmma] | matmul-small | e2e --dir DIR [--like SHAPE] [--key KEY] [--batch N] [--mixed 0|1] [--query TOKENS] [--probe-out FILE]\n", argv[0]);
    return 2;
}
