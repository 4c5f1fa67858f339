// Command-line front end of the GGUF tools (for scripts and CI; the user-facing CLI is ./ember):
//   ember_gguf convert HF_DIR OUT.gguf TYPE        TYPE: f32 f16 bf16 q8_0 q4_0 q4_k q6_k
//   ember_gguf synth LIKE OUT(.gguf|DIR) TYPE [SEED]
//   ember_gguf info FILE.gguf                      metadata (arrays summarized) and tensors
//   ember_gguf embed MODEL [--threads N] [--repeat R] [--warmup W] < {"ids": [[...], ...]}
//       embeds each id list alone (pooled, not normalized) and prints the same JSON as
//       ci/llamacpp/embed.mjs: {"embeddings": [...], "seconds": [...], "tokens": [...]}; seconds
//       is the median of R timed runs after W untimed ones
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "ember/kernels.h"
#include "ember/tools.h"
#include "io/gguf.h"
#include "io/json.h"

namespace {

int32_t parse_type(const std::string& t) {
    const char* names[] = {"f32", "f16", "q4_0", "q8_0", "q4_k", "q6_k", "bf16"};
    const int32_t ids[] = {EMBER_DTYPE_F32, EMBER_DTYPE_F16, EMBER_DTYPE_Q4_0, EMBER_DTYPE_Q8_0,
                           EMBER_DTYPE_Q4_K, EMBER_DTYPE_Q6_K, EMBER_DTYPE_BF16};
    for (int i = 0; i < 7; ++i)
        if (t == names[i]) return ids[i];
    return -1;
}

int usage() {
    std::fprintf(stderr, "usage: ember_gguf convert HF_DIR OUT.gguf TYPE | synth LIKE OUT TYPE [SEED] | info FILE.gguf |\n"
                         "       embed MODEL [--threads N] [--repeat R] [--warmup W] < {\"ids\": [[...]]}\n"
                         "TYPE: f32 f16 bf16 q8_0 q4_0 q4_k q6_k\n");
    return 2;
}

int info(const std::string& path) {
    try {
        auto g = ember::GgufFile::open(path);
        std::printf("GGUF v%u, alignment %u, %zu keys, %zu tensors\n", g->version(), g->alignment(),
                    g->metadata().size(), g->tensors().size());
        for (const auto& [k, v] : g->metadata()) {
            std::printf("  %-48s ", k.c_str());
            if (v.type == ember::GgufType::String) std::printf("\"%.*s\"\n", (int)v.str.size(), v.str.data());
            else if (v.type == ember::GgufType::Array)
                std::printf("[%s x %llu]\n", ember::gguf_type_name(v.elem_type), (unsigned long long)v.count);
            else if (v.is_float()) std::printf("%g\n", v.f);
            else if (v.type == ember::GgufType::Bool) std::printf("%s\n", v.b ? "true" : "false");
            else std::printf("%lld\n", (long long)v.i);
        }
        for (const auto& t : g->tensors()) {
            std::printf("  %-32s %-6s [", t.name.c_str(), t.type_name.c_str());
            const auto s = t.shape();
            for (size_t i = 0; i < s.size(); ++i) std::printf("%s%lld", i ? ", " : "", (long long)s[i]);
            std::printf("]\n");
        }
        return 0;
    } catch (const ember::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

int embed(int argc, char** argv) {
    int threads = 2, repeat = 1, warmup = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
        else if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::max(1, std::atoi(argv[i + 1]));
        else if (std::strcmp(argv[i], "--warmup") == 0) warmup = std::max(0, std::atoi(argv[i + 1]));
        else return usage();
    }
    ember::Json in;
    try {
        in = ember::Json::parse(std::string(std::istreambuf_iterator<char>(std::cin), {}));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: bad input JSON: %s\n", e.what());
        return 2;
    }
    if (!in.contains("ids") || !in["ids"].is_array()) {
        std::fprintf(stderr, "error: input needs an \"ids\" array (text needs the Java tokenizer)\n");
        return 2;
    }
    ember_load_options o;
    ember_load_options_init(&o);
    o.backend = EMBER_BACKEND_CPU;
    o.threads = threads;
    ember_model* m = nullptr;
    if (ember_model_load(argv[2], &o, &m) != EMBER_OK) {
        std::fprintf(stderr, "error: %s\n", ember_last_error());
        return 1;
    }
    ember_model_info info;
    ember_model_get_info(m, &info);
    ember_embed_options eo;
    ember_embed_options_init(&eo);
    eo.normalize = 0;
    ember::Json out;
    out["backend"] = std::string("ember (") + ember_cpu_isa() + ")";
    out["threads"] = threads;
    out["embeddings"] = ember::Json::array();
    out["seconds"] = ember::Json::array();
    out["tokens"] = ember::Json::array();
    for (const auto& seq : in["ids"]) {
        std::vector<int32_t> ids = seq.get<std::vector<int32_t>>();
        const int32_t cu[2] = {0, static_cast<int32_t>(ids.size())};
        ember_batch b{};
        b.token_ids = ids.data();
        b.cu_seqlens = cu;
        b.n_seqs = 1;
        std::vector<float> e(static_cast<size_t>(info.embedding_size));
        std::vector<double> times;
        for (int r = 0; r < warmup + repeat; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            if (ember_embed(m, &b, &eo, e.data(), e.size()) != EMBER_OK) {
                std::fprintf(stderr, "error: %s\n", ember_last_error());
                return 1;
            }
            if (r >= warmup)
                times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(times.begin(), times.end());
        out["embeddings"].push_back(e);
        out["seconds"].push_back(times[times.size() / 2]);
        out["tokens"].push_back(ids.size());
    }
    ember_model_free(m);
    std::cout << out.dump() << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage();
    const std::string cmd = argv[1];
    if (cmd == "info") return info(argv[2]);
    if (cmd == "embed") return embed(argc, argv);
    if (argc < 5) return usage();
    const int32_t type = parse_type(argv[4]);
    if (type < 0) return usage();
    ember_status st;
    if (cmd == "convert") st = ember_convert(argv[2], argv[3], type);
    else if (cmd == "synth") st = ember_synth_model(argv[2], argv[3], type, argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 1);
    else return usage();
    if (st != EMBER_OK) {
        std::fprintf(stderr, "error: %s\n", ember_last_error());
        return 1;
    }
    return 0;
}
