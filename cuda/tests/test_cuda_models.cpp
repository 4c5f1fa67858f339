// End to end on the CUDA backend through the C ABI (as native/tests/test_models.cpp does on the
// CPU): the shared goldens in both precision modes, models of real width against the CPU backend,
// and concurrent calls.
//   fp32 mode (EMBER_CUDA_PRECISION=fp32): within 1e-4 relative of the float64 references.
//   fast mode (bf16 activations): embedding and pooled cosine >= 0.9999 against the references.
// A golden the CPU backend does not match yet (a feature landing on another branch) is reported
// and skipped rather than failed here.
#include <cuda_runtime.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/synth_model.h"
#include "core/error.h"
#include "cuda_test_util.h"
#include "tests/goldens.h"
#include "ember/ember.h"
#include "io/json.h"

using namespace ember::cudatest;
using ember::test::golden_dir;
using ember::test::GoldenCase;

namespace {

// A model loaded on a backend; for CUDA the precision mode is read from the environment at load.
struct Model {
    ember_model* m = nullptr;
    ember_status status = EMBER_OK;
    std::string error;
    // self_extend: {group, window}, or {0, 0} for none.
    Model(const std::string& path, int32_t backend, const char* precision = nullptr, std::pair<int32_t, int32_t> self_extend = {0, 0}) {
        if (precision) setenv("EMBER_CUDA_PRECISION", precision, 1);
        ember_load_options o;
        ember_load_options_init(&o);
        o.backend = backend;
        o.threads = 0;
        o.self_extend_group = self_extend.first;
        o.self_extend_window = self_extend.second;
        status = ember_model_load(path.c_str(), &o, &m);
        if (status != EMBER_OK) error = ember_last_error();
        unsetenv("EMBER_CUDA_PRECISION");
    }
    ~Model() { ember_model_free(m); }
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;
};

struct Batch {
    std::vector<int32_t> ids, cu{0}, starts, enc, ecu{0};
    ember_batch b{};
    void add(const GoldenCase& c) {
        ids.insert(ids.end(), c.ids.begin(), c.ids.end());
        cu.push_back(static_cast<int32_t>(ids.size()));
        starts.push_back(c.instruction_len);
        enc.insert(enc.end(), c.encoder_ids.begin(), c.encoder_ids.end());
        ecu.push_back(static_cast<int32_t>(enc.size()));
    }
    const ember_batch* get() {
        b = ember_batch{};
        b.token_ids = ids.data();
        b.cu_seqlens = cu.data();
        b.n_seqs = static_cast<int32_t>(cu.size()) - 1;
        bool any_start = false;
        for (int32_t s : starts) any_start = any_start || s > 0;
        if (any_start) b.pool_start = starts.data();
        if (!enc.empty()) {
            b.encoder_token_ids = enc.data();
            b.encoder_cu_seqlens = ecu.data();
        }
        return &b;
    }
};

std::vector<float> embed(ember_model* m, const ember_batch* b, int32_t dims, bool normalize) {
    ember_embed_options o;
    ember_embed_options_init(&o);
    o.normalize = normalize ? 1 : 0;
    std::vector<float> out(static_cast<size_t>(b->n_seqs) * dims);
    const ember_status st = ember_embed(m, b, &o, out.data(), out.size());
    INFO(ember_last_error());
    REQUIRE(st == EMBER_OK);
    return out;
}

std::vector<float> hidden(ember_model* m, const ember_batch* b, int32_t hidden_size) {
    int64_t rows = 0;
    REQUIRE(ember_hidden_rows(m, b, &rows) == EMBER_OK);
    std::vector<float> out(static_cast<size_t>(rows) * hidden_size);
    const ember_status st = ember_forward_hidden(m, b, out.data(), out.size());
    INFO(ember_last_error());
    REQUIRE(st == EMBER_OK);
    return out;
}

std::vector<float> intermediate(ember_model* m, const ember_batch* b, int32_t which) {
    int64_t rows = 0, cols = 0;
    REQUIRE(ember_intermediate_shape(m, b, which, &rows, &cols) == EMBER_OK);
    std::vector<float> out(static_cast<size_t>(rows * cols));
    const ember_status st = ember_forward_intermediate(m, b, which, out.data(), out.size());
    INFO(ember_last_error());
    REQUIRE(st == EMBER_OK);
    return out;
}

// Smallest cosine over consecutive rows of `cols`.
double min_row_cosine(const std::vector<float>& a, const std::vector<float>& b, size_t cols) {
    if (a.size() != b.size() || cols == 0) return -2.0;
    double worst = 1.0;
    for (size_t r = 0; r * cols < a.size(); ++r) worst = std::min(worst, cosine(a.data() + r * cols, b.data() + r * cols, cols));
    return worst;
}

// Does the CPU backend reproduce this golden? (Some goldens wait for features on other branches.)
bool cpu_matches(const std::string& name, const std::vector<GoldenCase>& cases, std::string* why) {
    Model cpu(golden_dir(name), EMBER_BACKEND_CPU);
    if (cpu.status != EMBER_OK) {
        *why = "CPU load failed: " + cpu.error;
        return false;
    }
    ember_model_info info;
    REQUIRE(ember_model_get_info(cpu.m, &info) == EMBER_OK);
    for (const auto& c : cases) {
        Batch one;
        one.add(c);
        const std::vector<float> e = embed(cpu.m, one.get(), info.embedding_size, true);
        const double err = ember::test::rel_error(e, c.embedding);
        if (err > 1e-4) {
            *why = ember::format("the CPU backend is %.2g off the reference", err);
            return false;
        }
    }
    return true;
}

void check_golden(const std::string& name, const char* precision) {
    const bool fp32 = std::string(precision) == "fp32";
    INFO("golden " << name << ", " << precision);
    const auto cases = ember::test::read_golden_cases(name);
    REQUIRE(!cases.empty());
    std::string why;
    if (!cpu_matches(name, cases, &why)) {
        MESSAGE("skipping golden " << name << ": " << why);
        return;
    }
    Model model(golden_dir(name), EMBER_BACKEND_CUDA, precision);
    INFO("load: " << model.error);
    REQUIRE(model.status == EMBER_OK);
    ember_model_info info;
    REQUIRE(ember_model_get_info(model.m, &info) == EMBER_OK);
    REQUIRE(info.backend == EMBER_BACKEND_CUDA);
    double worst_rel = 0, worst_cos = 1;
    Batch all;
    for (const auto& c : cases) {
        Batch one;
        one.add(c);
        all.add(c);
        const std::vector<float> h = hidden(model.m, one.get(), info.hidden_size);
        const std::vector<float> e = embed(model.m, one.get(), info.embedding_size, true);
        const std::vector<float> p = embed(model.m, one.get(), info.embedding_size, false);
        INFO("case of " << c.ids.size() << " tokens");
        if (fp32) {
            const double eh = ember::test::rel_error(h, c.hidden), ee = ember::test::rel_error(e, c.embedding),
                         ep = ember::test::rel_error(p, c.pooled);
            worst_rel = std::max({worst_rel, eh, ee, ep});
            CHECK_MESSAGE(eh <= 1e-4, "hidden rel err " << eh);
            CHECK_MESSAGE(ee <= 1e-4, "embedding rel err " << ee);
            CHECK_MESSAGE(ep <= 1e-4, "pooled rel err " << ep);
        } else {
            const double ce = cosine(e.data(), c.embedding.data(), e.size()), cp = cosine(p.data(), c.pooled.data(), p.size());
            const double ch = min_row_cosine(h, c.hidden, static_cast<size_t>(info.hidden_size));
            worst_cos = std::min({worst_cos, ce, cp});
            CHECK_MESSAGE(ce >= 0.9999, "embedding cosine " << ce);
            CHECK_MESSAGE(cp >= 0.9999, "pooled cosine " << cp);
            CHECK_MESSAGE(ch >= 0.999, "worst hidden-row cosine " << ch);
        }
        if (!c.latent_output.empty()) {
            const std::vector<float> l = intermediate(model.m, one.get(), EMBER_INTERMEDIATE_LATENT_OUTPUT);
            if (fp32) CHECK(ember::test::rel_error(l, c.latent_output) <= 1e-4);
            else CHECK(min_row_cosine(l, c.latent_output, static_cast<size_t>(info.hidden_size)) >= 0.999);
        }
        if (!c.contextual_token.empty()) {
            const std::vector<float> t = intermediate(model.m, one.get(), EMBER_INTERMEDIATE_CONTEXTUAL_TOKEN);
            if (fp32) CHECK(ember::test::rel_error(t, c.contextual_token) <= 1e-4);
            else CHECK(cosine(t.data(), c.contextual_token.data(), t.size()) >= 0.999);
        }
    }
    // The ragged batch of every case gives each case's vector.
    const std::vector<float> e = embed(model.m, all.get(), info.embedding_size, true);
    for (size_t s = 0; s < cases.size(); ++s) {
        const float* got = e.data() + s * info.embedding_size;
        INFO("batched case " << s);
        if (fp32) CHECK(ember::test::rel_error(got, cases[s].embedding.data(), info.embedding_size) <= 1e-4);
        else CHECK(cosine(got, cases[s].embedding.data(), info.embedding_size) >= 0.9999);
    }
    MESSAGE(name << " (" << precision << "): " << (fp32 ? "worst rel err " : "worst cosine ") << (fp32 ? worst_rel : worst_cos));
}

const char* kGoldens[] = {"qwen3-tiny", "qwen3-tiny-bf16", "llama-bidir-tiny", "nvembed-tiny", "causal2vec-tiny",
                          "qwen3-yarn-tiny", "llama-bidir-llama3rope-tiny"};

std::string temp_dir(const char* tag) {
    std::string t = std::string("/tmp/ember-cuda-test-") + tag + "-XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    REQUIRE(mkdtemp(buf.data()) != nullptr);
    return buf.data();
}

// A random-weight model of real width (bf16 weights, 2 layers) and a ragged batch over it.
struct Synth {
    std::string dir;
    ember::bench::ModelShape shape;
};

Synth synth(const char* model_type, const char* tag) {
    Synth s{temp_dir(tag), {tag, model_type, 1024, 2, 16, 8, 128, 3072, 2048, 1e6}};
    ember::bench::synth_model(s.shape, "bf16", s.dir, 7);
    return s;
}

Batch synth_batch(int vocab, uint64_t seed) {
    Batch b;
    std::mt19937_64 rng(seed);
    for (int len : {512, 300, 77, 1}) {
        GoldenCase c;
        for (int i = 0; i < len; ++i) c.ids.push_back(static_cast<int32_t>(rng() % vocab));
        b.add(c);
    }
    return b;
}

}  // namespace

TEST_CASE("goldens on CUDA, fp32 compute: within 1e-4 of the float64 references") {
    for (const char* g : kGoldens) check_golden(g, "fp32");
}

TEST_CASE("goldens on CUDA, fast mode (bf16 activations): cosine >= 0.9999") {
    for (const char* g : kGoldens) check_golden(g, "fast");
}

TEST_CASE("real widths (hidden 1024, 16 heads of 128, GQA, FFN 3072): CUDA against the CPU backend") {
    for (const char* type : {"qwen3", "llama_bidirec"}) {
        INFO(type);
        const Synth s = synth(type, type[0] == 'q' ? "qwen3" : "llama");
        Batch b = synth_batch(s.shape.vocab, ember::test::test_seed());
        Model cpu(s.dir, EMBER_BACKEND_CPU), f32(s.dir, EMBER_BACKEND_CUDA, "fp32"), fast(s.dir, EMBER_BACKEND_CUDA, "fast");
        REQUIRE_MESSAGE(cpu.status == EMBER_OK, cpu.error);
        REQUIRE_MESSAGE(f32.status == EMBER_OK, f32.error);
        REQUIRE_MESSAGE(fast.status == EMBER_OK, fast.error);
        const int H = s.shape.hidden;
        const std::vector<float> hc = hidden(cpu.m, b.get(), H), h32 = hidden(f32.m, b.get(), H), hf = hidden(fast.m, b.get(), H);
        const std::vector<float> ec = embed(cpu.m, b.get(), H, true), e32 = embed(f32.m, b.get(), H, true),
                                 ef = embed(fast.m, b.get(), H, true);
        const double rel_h = ember::test::rel_error(h32, hc), rel_e = ember::test::rel_error(e32, ec);
        const double cos_h = min_row_cosine(hf, hc, H), cos_e = min_row_cosine(ef, ec, H);
        MESSAGE(type << ": fp32 rel err hidden " << rel_h << " embedding " << rel_e << "; fast worst cosine hidden " << cos_h
                     << " embedding " << cos_e);
        CHECK(rel_h <= 1e-4);
        CHECK(rel_e <= 1e-4);
        CHECK(cos_h >= 0.999);
        CHECK(cos_e >= 0.999);
        // Batching does not change a sequence's vector (the 77-token one alone).
        Batch one;
        GoldenCase c;
        c.ids.assign(b.ids.begin() + b.cu[2], b.ids.begin() + b.cu[3]);
        one.add(c);
        const std::vector<float> alone = embed(fast.m, one.get(), H, true);
        CHECK(cosine(alone.data(), ef.data() + 2 * H, H) >= 0.9999);
        std::string cmd = "rm -rf '" + s.dir + "'";
        CHECK(std::system(cmd.c_str()) == 0);
    }
}

// SelfExtend through whole models: the grouped RoPE copies and the attention's choice of product
// per pair (flash path in the fast mode, generic in fp32) against the CPU backend. G = 4, W = 64:
// the 512- and 300-token sequences have key tiles wholly beyond the window and tiles on its edge.
TEST_CASE("real widths with SelfExtend (G 4, W 64): CUDA against the CPU backend") {
    for (const char* type : {"qwen3", "llama_bidirec"}) {
        INFO(type);
        const Synth s = synth(type, type[0] == 'q' ? "qwen3-se" : "llama-se");
        Batch b = synth_batch(s.shape.vocab, ember::test::test_seed() + 5);
        const std::pair<int32_t, int32_t> se{4, 64};
        Model cpu(s.dir, EMBER_BACKEND_CPU, nullptr, se), f32(s.dir, EMBER_BACKEND_CUDA, "fp32", se),
            fast(s.dir, EMBER_BACKEND_CUDA, "fast", se), plain(s.dir, EMBER_BACKEND_CUDA, "fast");
        REQUIRE_MESSAGE(cpu.status == EMBER_OK, cpu.error);
        REQUIRE_MESSAGE(f32.status == EMBER_OK, f32.error);
        REQUIRE_MESSAGE(fast.status == EMBER_OK, fast.error);
        REQUIRE_MESSAGE(plain.status == EMBER_OK, plain.error);
        const int H = s.shape.hidden;
        const std::vector<float> hc = hidden(cpu.m, b.get(), H), h32 = hidden(f32.m, b.get(), H), hf = hidden(fast.m, b.get(), H);
        const std::vector<float> hp = hidden(plain.m, b.get(), H);
        const double rel_h = ember::test::rel_error(h32, hc), cos_h = min_row_cosine(hf, hc, H);
        const double cos_plain = min_row_cosine(hp, hc, H);
        MESSAGE(type << " SelfExtend: fp32 rel err hidden " << rel_h << "; fast worst cosine " << cos_h
                     << "; without SelfExtend " << cos_plain);
        CHECK(rel_h <= 1e-4);
        CHECK(cos_h >= 0.999);
        CHECK(cos_plain < 0.99);  // SelfExtend changes the long sequences: the comparison can fail
        std::string cmd = "rm -rf '" + s.dir + "'";
        CHECK(std::system(cmd.c_str()) == 0);
    }
}

TEST_CASE("concurrent embed calls on one CUDA model give the single-call results") {
    Model model(golden_dir("qwen3-tiny-bf16"), EMBER_BACKEND_CUDA, "fast");
    REQUIRE_MESSAGE(model.status == EMBER_OK, model.error);
    ember_model_info info;
    REQUIRE(ember_model_get_info(model.m, &info) == EMBER_OK);
    const auto cases = ember::test::read_golden_cases("qwen3-tiny-bf16");
    std::vector<Batch> batches(4);
    for (size_t t = 0; t < batches.size(); ++t)
        for (size_t i = 0; i <= t % cases.size(); ++i) batches[t].add(cases[(i + t) % cases.size()]);
    std::vector<std::vector<float>> expected;
    for (auto& b : batches) expected.push_back(embed(model.m, b.get(), info.embedding_size, true));
    std::atomic<int> mismatches{0}, failures{0};
    std::vector<std::thread> threads;
    for (size_t t = 0; t < batches.size(); ++t)
        threads.emplace_back([&, t] {
            Batch local = batches[t];
            const ember_batch* b = local.get();
            std::vector<float> out(static_cast<size_t>(b->n_seqs) * info.embedding_size);
            for (int i = 0; i < 20; ++i) {
                if (ember_embed(model.m, b, nullptr, out.data(), out.size()) != EMBER_OK) ++failures;
                else if (out != expected[t]) ++mismatches;
            }
        });
    for (auto& th : threads) th.join();
    CHECK(failures.load() == 0);
    CHECK(mismatches.load() == 0);
}

TEST_CASE("a bad precision setting is an error, not a crash [host]") {
    Model m(golden_dir("qwen3-tiny"), EMBER_BACKEND_CUDA, "half");
    CHECK(m.status != EMBER_OK);  // INVALID_ARGUMENT with a device, BACKEND_UNAVAILABLE without
}
