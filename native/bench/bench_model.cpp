// End-to-end embedding throughput on a random-weight model of a real shape.
//   ember_bench_model [--like qwen3-0.6b] [--dtype bf16|f16|f32|q8_0|q4_0|q4_k|q6_k|gguf-f16|...]
//                     [--threads 2] [--lengths 128,512]
//                     [--tokens 4096] [--dir DIR] [--repeat 3] [--warmup 1]
//                     [--layers N] [--self-extend G,W]
// Prints tokens/s per input length (median over repeats) as a table, with the peak resident memory
// of the measured calls (the process's high-water mark, reset before each length where the kernel
// allows it; it includes the weights, which are memory-mapped and resident after the warm-up).
// --layers N: the shape with N layers instead of its own (long inputs in less time; activation
// memory does not depend on the layer count). --self-extend G,W: SelfExtend at load.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/synth_model.h"
#include "ember/ember.h"
#include "ember/kernels.h"
#include "ember/tools.h"

namespace {

// VmHWM (peak resident set) in KiB, and its reset (Linux >= 4.0: "5" to clear_refs); false when
// the kernel refuses.
long peak_rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    f.flush();
    return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
    std::string like = "qwen3-0.6b", dtype = "bf16", dir, lengths_arg = "128,512";
    int threads = 2, repeat = 3, warmup = 1, layers = 0, se_group = 0, se_window = 0;
    long tokens_per_call = 4096;
    for (int i = 1; i < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--help" || k == "-h") {
            std::printf("usage: %s [--like qwen3-0.6b] [--dtype bf16|f16|f32|q8_0|q4_0|q4_k|q6_k|gguf-f16|...]\n"
                        "       [--threads 2] [--lengths 128,512] [--tokens 4096] [--dir DIR] [--repeat 3]\n"
                        "       [--warmup 1] [--layers N] [--self-extend G,W]\n",
                        argv[0]);
            return 0;
        }
        if (i + 1 >= argc) { std::fprintf(stderr, "missing value for %s\n", k.c_str()); return 2; }
        const std::string v = argv[i + 1];
        if (k == "--like") like = v;
        else if (k == "--dtype") dtype = v;
        else if (k == "--threads") threads = std::atoi(v.c_str());
        else if (k == "--lengths") lengths_arg = v;
        else if (k == "--tokens") tokens_per_call = std::atol(v.c_str());
        else if (k == "--dir") dir = v;
        else if (k == "--repeat") repeat = std::atoi(v.c_str());
        else if (k == "--warmup") warmup = std::atoi(v.c_str());
        else if (k == "--layers") layers = std::atoi(v.c_str());
        else if (k == "--self-extend") {
            if (std::sscanf(v.c_str(), "%d,%d", &se_group, &se_window) != 2) {
                std::fprintf(stderr, "--self-extend takes G,W\n");
                return 2;
            }
        }
        else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
    }
    const ember::bench::ModelShape* known = ember::bench::find_shape(like);
    if (known == nullptr) { std::fprintf(stderr, "unknown shape %s\n", like.c_str()); return 2; }
    ember::bench::ModelShape custom = *known;
    std::string tag = like;
    if (layers > 0) {
        custom.layers = layers;
        tag += "-" + std::to_string(layers) + "l";
    }
    const ember::bench::ModelShape* shape = &custom;
    // GGUF types (and "gguf-f16" etc.) go through a synthetic GGUF file, the rest a folder.
    const char* gguf_types[] = {"q8_0", "q4_0", "q4_k", "q6_k", "gguf-f32", "gguf-f16", "gguf-bf16"};
    const int32_t gguf_ids[] = {EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_0, EMBER_DTYPE_Q4_K, EMBER_DTYPE_Q6_K,
                                EMBER_DTYPE_F32,  EMBER_DTYPE_F16,  EMBER_DTYPE_BF16};
    int32_t gguf_dtype = -1;
    for (int i = 0; i < 7; ++i)
        if (dtype == gguf_types[i]) gguf_dtype = gguf_ids[i];
    if (gguf_dtype >= 0) {
        if (layers > 0) { std::fprintf(stderr, "--layers works with folder dtypes (f32, f16, bf16)\n"); return 2; }
        if (dir.empty()) dir = std::string("/tmp/ember-bench/") + like + "-" + dtype + ".gguf";
        if (ember_synth_model(like.c_str(), dir.c_str(), gguf_dtype, 1) != EMBER_OK) {
            std::fprintf(stderr, "synth failed: %s\n", ember_last_error());
            return 1;
        }
    } else {
        if (dir.empty()) dir = std::string("/tmp/ember-bench-") + tag + "-" + dtype;
        ember::bench::synth_model(*shape, dtype, dir);
    }

    ember_load_options opts;
    ember_load_options_init(&opts);
    opts.backend = EMBER_BACKEND_CPU;
    opts.threads = threads;
    opts.self_extend_group = se_group;
    opts.self_extend_window = se_window;
    ember_model* model = nullptr;
    if (ember_model_load(dir.c_str(), &opts, &model) != EMBER_OK) {
        std::fprintf(stderr, "load failed: %s\n", ember_last_error());
        return 1;
    }
    std::printf("model %s (%d layers, %s weights), %d threads, cpu %s%s\n", like.c_str(), shape->layers, dtype.c_str(),
                threads, ember_cpu_isa(),
                se_window > 0 ? (", SelfExtend G=" + std::to_string(se_group) + " W=" + std::to_string(se_window)).c_str()
                              : "");
    std::printf("%8s %6s %12s %10s %14s\n", "length", "seqs", "tokens/s", "ms/call", "peak RSS MiB");
    std::mt19937 rng(7);
    std::stringstream ls(lengths_arg);
    std::string item;
    while (std::getline(ls, item, ',')) {
        const int len = std::atoi(item.c_str());
        const int seqs = std::max<long>(1, tokens_per_call / len);
        std::vector<int32_t> ids(static_cast<size_t>(seqs) * len), cu(seqs + 1);
        for (auto& id : ids) id = static_cast<int32_t>(rng() % shape->vocab);
        for (int s = 0; s <= seqs; ++s) cu[s] = s * len;
        ember_batch b{};
        b.token_ids = ids.data();
        b.cu_seqlens = cu.data();
        b.n_seqs = seqs;
        std::vector<float> out(static_cast<size_t>(seqs) * shape->hidden);
        std::vector<double> times;
        bool peak_reset = false;
        for (int r = 0; r < repeat + warmup; ++r) {
            if (r == warmup) peak_reset = reset_peak_rss();  // after the warm-up faulted the weights in
            auto t0 = std::chrono::steady_clock::now();
            if (ember_embed(model, &b, nullptr, out.data(), out.size()) != EMBER_OK) {
                std::fprintf(stderr, "embed failed: %s\n", ember_last_error());
                return 1;
            }
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (r >= warmup) times.push_back(s);  // warm-up calls fault the weights in and warm caches
        }
        std::sort(times.begin(), times.end());
        const double med = times[times.size() / 2];
        std::printf("%8d %6d %12.1f %10.1f %13.0f%s\n", len, seqs, seqs * len / med, med * 1e3, peak_rss_kib() / 1024.0,
                    peak_reset ? "" : " (process peak: reset refused)");
        std::fflush(stdout);
    }
    ember_model_free(model);
    return 0;
}
