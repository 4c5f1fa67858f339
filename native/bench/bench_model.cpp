// End-to-end embedding throughput on a random-weight model of a real shape.
//   ember_bench_model [--like qwen3-0.6b] [--dtype bf16|f16|f32|q8_0|q4_0|q4_k|q6_k|gguf-f16|...]
//                     [--threads 2] [--lengths 128,512]
//                     [--tokens 4096] [--dir DIR] [--repeat 3]
// Prints tokens/s per input length (median over repeats) as a table.
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
#include "ember/ember.h"
#include "ember/kernels.h"
#include "ember/tools.h"

int main(int argc, char** argv) {
    std::string like = "qwen3-0.6b", dtype = "bf16", dir, lengths_arg = "128,512";
    int threads = 2, repeat = 3;
    long tokens_per_call = 4096;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--like") like = v;
        else if (k == "--dtype") dtype = v;
        else if (k == "--threads") threads = std::atoi(v.c_str());
        else if (k == "--lengths") lengths_arg = v;
        else if (k == "--tokens") tokens_per_call = std::atol(v.c_str());
        else if (k == "--dir") dir = v;
        else if (k == "--repeat") repeat = std::atoi(v.c_str());
        else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
    }
    const ember::bench::ModelShape* shape = ember::bench::find_shape(like);
    if (shape == nullptr) { std::fprintf(stderr, "unknown shape %s\n", like.c_str()); return 2; }
    // GGUF types (and "gguf-f16" etc.) go through a synthetic GGUF file, the rest a folder.
    const char* gguf_types[] = {"q8_0", "q4_0", "q4_k", "q6_k", "gguf-f32", "gguf-f16", "gguf-bf16"};
    const int32_t gguf_ids[] = {EMBER_DTYPE_Q8_0, EMBER_DTYPE_Q4_0, EMBER_DTYPE_Q4_K, EMBER_DTYPE_Q6_K,
                                EMBER_DTYPE_F32,  EMBER_DTYPE_F16,  EMBER_DTYPE_BF16};
    int32_t gguf_dtype = -1;
    for (int i = 0; i < 7; ++i)
        if (dtype == gguf_types[i]) gguf_dtype = gguf_ids[i];
    if (gguf_dtype >= 0) {
        if (dir.empty()) dir = std::string("/tmp/ember-bench/") + like + "-" + dtype + ".gguf";
        if (ember_synth_model(like.c_str(), dir.c_str(), gguf_dtype, 1) != EMBER_OK) {
            std::fprintf(stderr, "synth failed: %s\n", ember_last_error());
            return 1;
        }
    } else {
        if (dir.empty()) dir = std::string("/tmp/ember-bench-") + like + "-" + dtype;
        ember::bench::synth_model(*shape, dtype, dir);
    }

    ember_load_options opts;
    ember_load_options_init(&opts);
    opts.backend = EMBER_BACKEND_CPU;
    opts.threads = threads;
    ember_model* model = nullptr;
    if (ember_model_load(dir.c_str(), &opts, &model) != EMBER_OK) {
        std::fprintf(stderr, "load failed: %s\n", ember_last_error());
        return 1;
    }
    std::printf("model %s (%s weights), %d threads, cpu %s\n", like.c_str(), dtype.c_str(), threads, ember_cpu_isa());
    std::printf("%8s %6s %12s %10s\n", "length", "seqs", "tokens/s", "ms/call");
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
        for (int r = 0; r < repeat + 1; ++r) {
            auto t0 = std::chrono::steady_clock::now();
            if (ember_embed(model, &b, nullptr, out.data(), out.size()) != EMBER_OK) {
                std::fprintf(stderr, "embed failed: %s\n", ember_last_error());
                return 1;
            }
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (r > 0) times.push_back(s);  // the first call warms caches and page-faults the weights in
        }
        std::sort(times.begin(), times.end());
        const double med = times[times.size() / 2];
        std::printf("%8d %6d %12.1f %10.1f\n", len, seqs, seqs * len / med, med * 1e3);
    }
    ember_model_free(model);
    return 0;
}
