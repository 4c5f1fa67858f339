// GFLOP/s of the quantized matmul on the projection shapes of one decoder layer.
//   ember_bench_qmatmul [--like qwen3-0.6b] [--types q8_0,q4_0,q4_k,q6_k] [--m 1,128,512]
//                       [--threads 1,2] [--repeat 5] [--isa avx512|avx2|scalar] [--per-shape]
// Each configuration runs the layer's seven projections (q, k, v, o, gate, up, down) back to
// back; the time is the median over repeats after one warm-up, GFLOP/s = 2 m n k / time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/synth_model.h"
#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "ops/qmatmul.h"
#include "quant/quants.h"

using namespace ember;

namespace {

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(item);
    return out;
}

int32_t parse_type(const std::string& t) {
    if (t == "q8_0") return EMBER_DTYPE_Q8_0;
    if (t == "q4_0") return EMBER_DTYPE_Q4_0;
    if (t == "q4_k") return EMBER_DTYPE_Q4_K;
    if (t == "q6_k") return EMBER_DTYPE_Q6_K;
    return -1;
}

struct Shape {
    const char* name;
    int64_t n, k;
};

}  // namespace

int main(int argc, char** argv) {
    std::string like = "qwen3-0.6b", types = "q8_0,q4_0,q4_k,q6_k", ms = "1,128,512", threads_arg = "1,2", isa_arg;
    int repeat = 5;
    bool per_shape = false;
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i];
        if (k == "--per-shape") { per_shape = true; continue; }
        if (i + 1 >= argc) { std::fprintf(stderr, "missing value for %s\n", k.c_str()); return 2; }
        std::string v = argv[++i];
        if (k == "--like") like = v;
        else if (k == "--types") types = v;
        else if (k == "--m") ms = v;
        else if (k == "--threads") threads_arg = v;
        else if (k == "--repeat") repeat = std::max(1, std::atoi(v.c_str()));
        else if (k == "--isa") isa_arg = v;
        else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
    }
    const bench::ModelShape* s = bench::find_shape(like);
    if (s == nullptr) { std::fprintf(stderr, "unknown shape %s\n", like.c_str()); return 2; }
    Isa isa = active_isa();
    if (isa_arg == "avx2") isa = std::min(isa, Isa::Avx2);
    else if (isa_arg == "scalar") isa = Isa::Scalar;
    const bool vnni = isa == Isa::Avx512 && cpu_features().avx512_vnni;
    const int64_t H = s->hidden, Q = int64_t(s->heads) * s->head_dim, KV = int64_t(s->kv_heads) * s->head_dim,
                  F = s->ffn;
    const Shape shapes[] = {{"q", Q, H}, {"k", KV, H}, {"v", KV, H}, {"o", H, Q},
                            {"gate", F, H}, {"up", F, H}, {"down", H, F}};
    std::printf("qmatmul, %s layer shapes, kernel %s\n", like.c_str(),
                vnni ? "avx512-vnni" : isa >= Isa::Avx2 ? "avx2" : "scalar");
    std::printf("%-6s %6s %8s %10s %10s\n", "type", "m", "threads", "ms/layer", "GFLOP/s");

    std::mt19937_64 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (const std::string& tname : split(types)) {
        const int32_t dtype = parse_type(tname);
        if (dtype < 0) { std::fprintf(stderr, "unknown type %s\n", tname.c_str()); return 2; }
        std::vector<std::vector<uint8_t>> weights;
        for (const Shape& sh : shapes) {
            std::vector<float> f(static_cast<size_t>(sh.k));
            const int64_t rb = dtype_row_bytes(dtype, sh.k);
            std::vector<uint8_t> w(static_cast<size_t>(sh.n * rb));
            for (int64_t j = 0; j < sh.n; ++j) {
                for (auto& v : f) v = normal(rng);
                quant::quantize_row(dtype, f.data(), w.data() + j * rb, sh.k);
            }
            weights.push_back(std::move(w));
        }
        for (const std::string& m_s : split(ms)) {
            const int64_t m = std::atol(m_s.c_str());
            const int64_t kmax = std::max<int64_t>(F, Q);
            std::vector<float> x(static_cast<size_t>(m * kmax)), y(static_cast<size_t>(m * std::max(F, Q)));
            for (auto& v : x) v = normal(rng) * 50.0f;
            for (const std::string& t_s : split(threads_arg)) {
                const int threads = std::atoi(t_s.c_str());
                ThreadPool pool(threads);
                std::vector<std::vector<double>> times(7);
                for (int r = 0; r <= repeat; ++r) {
                    for (size_t i = 0; i < 7; ++i) {
                        ember_matmul_params p{};
                        p.x = x.data();
                        p.x_stride = shapes[i].k;
                        p.w = weights[i].data();
                        p.w_dtype = dtype;
                        p.y = y.data();
                        p.y_stride = shapes[i].n;
                        p.m = m;
                        p.n = shapes[i].n;
                        p.k = shapes[i].k;
                        const auto t0 = std::chrono::steady_clock::now();
                        cpu::qmatmul(p, pool, isa);
                        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                        if (r > 0) times[i].push_back(sec);
                    }
                }
                double total = 0, flops = 0;
                for (size_t i = 0; i < 7; ++i) {
                    std::sort(times[i].begin(), times[i].end());
                    const double med = times[i][times[i].size() / 2];
                    const double f = 2.0 * m * shapes[i].n * shapes[i].k;
                    total += med;
                    flops += f;
                    if (per_shape)
                        std::printf("  %-5s n %5lld k %5lld: %8.3f ms %8.1f GFLOP/s\n", shapes[i].name,
                                    (long long)shapes[i].n, (long long)shapes[i].k, med * 1e3, f / med * 1e-9);
                }
                std::printf("%-6s %6lld %8d %10.3f %10.1f\n", tname.c_str(), (long long)m, threads, total * 1e3,
                            flops / total * 1e-9);
                std::fflush(stdout);
            }
        }
    }
    return 0;
}
