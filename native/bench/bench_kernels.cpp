// Throughput of the CPU kernels on model shapes: GFLOP/s for matmul (Qwen3-0.6B projections) and
// attention (16 query heads, 8 kv heads, head_dim 128), with 1 and 2 threads.
//
//   ember_bench_kernels [matmul|attention|all] [--threads=1,2] [--seconds=0.3]
//
// EMBER_ISA=avx2|scalar lowers the instruction set; the one in use is printed first.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "ops/attention.h"
#include "ops/matmul.h"

using namespace ember;

namespace {

double g_seconds = 0.3;

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// Best time of repeated runs of fn (after one warm-up), over about g_seconds in total.
double best_seconds(const std::function<void()>& fn) {
    using clock = std::chrono::steady_clock;
    fn();
    double best = 1e30, total = 0;
    int reps = 0;
    while (total < g_seconds || reps < 3) {
        const auto t0 = clock::now();
        fn();
        const double s = std::chrono::duration<double>(clock::now() - t0).count();
        best = std::min(best, s);
        total += s;
        ++reps;
    }
    return best;
}

// Single-thread FMA throughput: 12 independent chains of vfmadd for `iters` iterations, GFLOP/s.
// The ceiling for the one-thread numbers; on a shared machine it drops with other load, so each
// one-thread result is also given as a share of this peak measured right after it, in runs of the
// same length (both see about the same interference).
__attribute__((target("avx2,fma"))) double fma_gflops_avx2(long iters) {
    __m256 a[12];
    for (auto& v : a) v = _mm256_set1_ps(1.0f);
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < iters; ++i)
#pragma GCC unroll 12
        for (int j = 0; j < 12; ++j) a[j] = _mm256_fmadd_ps(a[j], b, c);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    volatile float sink = 0;
    for (auto& v : a) sink = sink + _mm256_cvtss_f32(v);
    return iters * 12.0 * 2 * 8 / s * 1e-9;
}

__attribute__((target("avx512f"))) double fma_gflops_avx512(long iters) {
    __m512 a[12];
    for (auto& v : a) v = _mm512_set1_ps(1.0f);
    const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < iters; ++i)
#pragma GCC unroll 12
        for (int j = 0; j < 12; ++j) a[j] = _mm512_fmadd_ps(a[j], b, c);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    volatile float sink = 0;
    for (auto& v : a) sink = sink + _mm512_cvtss_f32(v);
    return iters * 12.0 * 2 * 16 / s * 1e-9;
}

double fma_gflops(long iters) {
    if (active_isa() == Isa::Avx512) return fma_gflops_avx512(iters);
    if (active_isa() == Isa::Avx2) return fma_gflops_avx2(iters);
    return 0;  // no FMA on the portable path: no peak to compare with
}

// Best FMA rate over bursts of about `burst` seconds each, for about g_seconds.
double fma_peak(double burst) {
    using clock = std::chrono::steady_clock;
    const long probe = 100000;
    auto t0 = clock::now();
    fma_gflops(probe);
    const double probe_seconds = std::chrono::duration<double>(clock::now() - t0).count();
    const long iters = std::max(probe, static_cast<long>(probe * burst / probe_seconds));
    double best = 0;
    t0 = clock::now();
    for (int reps = 0; reps < 3 || std::chrono::duration<double>(clock::now() - t0).count() < g_seconds; ++reps)
        best = std::max(best, fma_gflops(iters));
    return best;
}

// "GFLOP/s" or, for one thread with a measurable peak, "GFLOP/s (share of peak)".
void print_rate(double gflops, double best_run_seconds, bool one_thread) {
    const double peak = one_thread ? fma_peak(best_run_seconds) : 0;
    if (peak > 0)
        std::printf("  %6.1f (%3.0f%%)", gflops, 100 * gflops / peak);
    else
        std::printf("  %13.1f", gflops);
}

const char* dtype_name(int32_t d) { return d == EMBER_DTYPE_F32 ? "f32" : d == EMBER_DTYPE_BF16 ? "bf16" : "f16"; }

void bench_matmul(const std::vector<int>& threads) {
    std::printf("\nmatmul y[m,n] = x[m,k] W[n,k]^T: GFLOP/s (2mnk / best time), one thread also as a share of\n"
                "the FMA peak measured next to it; m=1: weight bytes streamed per second\n");
    std::printf("%-6s %5s %5s %5s", "dtype", "m", "k", "n");
    for (int t : threads) std::printf("  %13s%-2d", "threads=", t);
    std::printf("\n");
    const int64_t ms[] = {1, 128, 512, 2048};
    const int64_t kn[][2] = {{1024, 2048}, {1024, 1024}, {1024, 3072}, {3072, 1024}};
    std::vector<ThreadPool*> pools;
    for (int t : threads) pools.push_back(new ThreadPool(t));
    for (int32_t dtype : {EMBER_DTYPE_F32, EMBER_DTYPE_BF16, EMBER_DTYPE_F16}) {
        for (const auto& s : kn) {
            const int64_t k = s[0], n = s[1];
            std::vector<float> wf = random_floats(static_cast<size_t>(n * k), 2);
            std::vector<uint16_t> wh;
            if (dtype != EMBER_DTYPE_F32)
                for (float v : wf) wh.push_back(dtype == EMBER_DTYPE_BF16 ? f32_to_bf16(v) : f32_to_f16(v));
            const void* w = dtype == EMBER_DTYPE_F32 ? static_cast<const void*>(wf.data()) : wh.data();
            const double w_bytes = static_cast<double>(n * k) * (dtype == EMBER_DTYPE_F32 ? 4 : 2);
            for (int64_t m : ms) {
                std::vector<float> x = random_floats(static_cast<size_t>(m * k), 1), y(static_cast<size_t>(m * n));
                ember_matmul_params p{x.data(), k, w, dtype, nullptr, y.data(), n, m, n, k, 0};
                std::printf("%-6s %5lld %5lld %5lld", dtype_name(dtype), static_cast<long long>(m),
                            static_cast<long long>(k), static_cast<long long>(n));
                for (ThreadPool* pool : pools) {
                    const double sec = best_seconds([&] { cpu::matmul(p, *pool); });
                    const double gflops = 2.0 * m * n * k / sec * 1e-9;
                    if (m == 1)
                        std::printf("  %6.1f %5.1fGB/s", gflops, w_bytes / sec * 1e-9);
                    else
                        print_rate(gflops, sec, pool->size() == 1);
                    std::fflush(stdout);
                }
                std::printf("\n");
            }
        }
    }
    for (ThreadPool* pool : pools) delete pool;
}

void bench_attention(const std::vector<int>& threads) {
    const int32_t heads = 16, kv_heads = 8, d = 128;
    std::printf("\nattention, %d heads / %d kv heads, head_dim %d, one sequence: GFLOP/s "
                "(4 d heads x visible (query, key) pairs / best time)\n", heads, kv_heads, d);
    std::printf("%-7s %5s", "causal", "L");
    for (int t : threads) std::printf("  %13s%-2d", "threads=", t);
    std::printf("\n");
    std::vector<ThreadPool*> pools;
    for (int t : threads) pools.push_back(new ThreadPool(t));
    for (int causal : {1, 0}) {
        for (int32_t L : {128, 512, 2048}) {
            std::vector<float> q = random_floats(static_cast<size_t>(L) * heads * d, 1);
            std::vector<float> k = random_floats(static_cast<size_t>(L) * kv_heads * d, 2);
            std::vector<float> v = random_floats(static_cast<size_t>(L) * kv_heads * d, 3);
            std::vector<float> out(q.size());
            const int32_t cu[2] = {0, L};
            ember_attention_params p{q.data(), k.data(), v.data(), out.data(), heads * d, kv_heads * d,
                                     kv_heads * d, heads * d, cu, 1, heads, kv_heads, d,
                                     1.0f / std::sqrt(static_cast<float>(d)), causal};
            const double pairs = causal ? 0.5 * L * (L + 1.0) : 1.0 * L * L;
            std::printf("%-7s %5d", causal ? "yes" : "no", L);
            for (ThreadPool* pool : pools) {
                const double sec = best_seconds([&] { cpu::attention(p, *pool); });
                print_rate(4.0 * d * heads * pairs / sec * 1e-9, sec, pool->size() == 1);
                std::fflush(stdout);
            }
            std::printf("\n");
        }
    }
    for (ThreadPool* pool : pools) delete pool;
}

}  // namespace

int main(int argc, char** argv) {
    std::string what = "all";
    std::vector<int> threads{1, 2};
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--threads=", 0) == 0) {
            threads.clear();
            for (const char* s = a.c_str() + 10; *s;) {
                threads.push_back(std::atoi(s));
                while (*s && *s != ',') ++s;
                if (*s == ',') ++s;
            }
        } else if (a.rfind("--seconds=", 0) == 0) {
            g_seconds = std::atof(a.c_str() + 10);
        } else if (a == "matmul" || a == "attention" || a == "all") {
            what = a;
        } else {
            std::fprintf(stderr, "usage: %s [matmul|attention|all] [--threads=1,2] [--seconds=0.3]\n", argv[0]);
            return 2;
        }
    }
    std::printf("cpu: %s, %d hardware threads, kernels: %s\n", cpu_model().c_str(),
                ThreadPool::hardware_threads(), isa_name(active_isa()));
    if (active_isa() != Isa::Scalar) std::printf("fma peak, one thread: %.1f GFLOP/s\n", fma_peak(0.05));
    if (what == "matmul" || what == "all") bench_matmul(threads);
    if (what == "attention" || what == "all") bench_attention(threads);
    return 0;
}
