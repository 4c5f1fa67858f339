// Model folders: which family a config.json is, what ember_model_describe reports, the inputs each
// architecture requires, and NV-Embed's load-time fold checked against the textbook latent
// attention computed from the raw projections.
#include <cmath>
#include <cstring>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "doctest/doctest.h"
#include "ember/ember.h"
#include "io/json.h"
#include "model/families.h"
#include "model/nvembed_model.h"
#include "ops/latent_pool.h"
#include "goldens.h"
#include "test_util.h"

using namespace ember;
using namespace ember::test;
namespace fs = std::filesystem;

namespace {

using ember::test::golden_dir;

ember_status load(const std::string& path, ember_model** m) {
    ember_load_options o;
    ember_load_options_init(&o);
    o.backend = EMBER_BACKEND_CPU;
    o.threads = 2;
    return ember_model_load(path.c_str(), &o, m);
}

Json describe(ember_model* m) {
    size_t needed = 0;
    REQUIRE(ember_model_describe(m, nullptr, 0, &needed) == EMBER_OK);
    std::string text(needed, '\0');
    REQUIRE(ember_model_describe(m, text.data(), text.size(), nullptr) == EMBER_OK);
    text.resize(needed - 1);
    return parse_json(text, "description");
}

// A copy of a golden folder whose config.json is edited by `edit` (weights linked, not copied).
struct EditedFolder {
    fs::path dir;
    EditedFolder(const std::string& golden, const std::function<void(Json&)>& edit) {
        static int counter = 0;
        dir = fs::temp_directory_path() / ("ember-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::create_directories(dir);
        const fs::path src = golden_dir(golden);
        for (const auto& e : fs::directory_iterator(src))
            if (e.path().filename() != "config.json" && e.is_regular_file())
                fs::create_symlink(fs::absolute(e.path()), dir / e.path().filename());
        Json config = read_json_file((src / "config.json").string());
        edit(config);
        std::ofstream(dir / "config.json") << config.dump(2);
    }
    ~EditedFolder() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    // The load's status; its message is kept in `error` (freeing resets the thread's last error).
    ember_status load_status() {
        ember_model* m = nullptr;
        const ember_status st = load(dir.string(), &m);
        error = ember_last_error();
        ember_model_free(m);
        return st;
    }
    std::string error;
};

}  // namespace

TEST_CASE("families: published architectures and model_types are recognized; unknown ones list the supported") {
    auto family_of = [](const char* json) { return std::string(recognize_family(parse_json(json, "t"), "t").name); };
    CHECK(family_of(R"({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3"})") == "qwen3-embedding");
    CHECK(family_of(R"({"architectures": ["Qwen3Model"]})") == "qwen3-embedding");
    CHECK(family_of(R"({"architectures": ["LlamaBidirectionalModel"], "model_type": "llama_bidirec"})") ==
          "llama-embed-nemotron");
    CHECK(family_of(R"({"model_type": "llama_bidirec"})") == "llama-embed-nemotron");
    CHECK(family_of(R"({"architectures": ["NVEmbedModel"], "model_type": "nvembed"})") == "nv-embed");
    CHECK(family_of(R"({"architectures": ["Causal2VecModel"], "model_type": "causal2vec"})") == "causal2vec");
    CHECK(family_of(R"({"architectures": ["MistralModel"], "model_type": "mistral"})") == "decoder");
    // The architecture decides before the model_type.
    CHECK(family_of(R"({"architectures": ["NVEmbedModel"], "model_type": "mistral"})") == "nv-embed");
    try {
        recognize_family(parse_json(R"({"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox"})", "t"), "config.json");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.status() == EMBER_ERR_MODEL_UNSUPPORTED);
        const std::string msg = e.what();
        for (const char* name : {"GPTNeoXForCausalLM", "Qwen3Model", "LlamaBidirectionalModel", "NVEmbedModel",
                                 "Causal2VecModel", "qwen3", "llama_bidirec", "nvembed", "causal2vec"})
            CHECK_MESSAGE(msg.find(name) != std::string::npos, msg);
    }
    CHECK_THROWS_AS(recognize_family(parse_json(R"({"architectures": "Qwen3Model"})", "t"), "t"), Error);
}

TEST_CASE("describe: what was recognized, for every family; runtime: its counters") {
    struct Expect {
        const char* golden;
        const char* family;
        const char* pooling;
        const char* attention;
        int64_t embedding_size;
    };
    for (const Expect& x : {Expect{"qwen3-tiny", "qwen3-embedding", "last", "causal", 64},
                            Expect{"llama-bidir-tiny", "llama-embed-nemotron", "mean", "bidirectional", 64},
                            Expect{"nvembed-tiny", "nv-embed", "latent-attention+mean", "bidirectional", 64},
                            Expect{"causal2vec-tiny", "causal2vec", "concat(contextual,last)", "causal", 128}}) {
        INFO(x.golden);
        ember_model* m = nullptr;
        REQUIRE(load(golden_dir(x.golden), &m) == EMBER_OK);
        const Json d = describe(m);
        CHECK(d["family"] == x.family);
        CHECK(d["pooling"] == x.pooling);
        CHECK(d["attention"] == x.attention);
        CHECK(d["embedding_size"] == x.embedding_size);
        CHECK(d["backbone"]["hidden_size"] == 64);
        CHECK(d["backbone"]["rope"]["theta"].get<double>() > 1.0);
        CHECK(d["memory"]["weight_bytes"].get<int64_t>() > 0);
        CHECK(d["memory"]["activation_bytes_per_token"].get<int64_t>() > 0);
        CHECK(d["prompts"].contains("query_format"));
        CHECK(d["weight_dtype"] == "f32");
        ember_model_info info;
        REQUIRE(ember_model_get_info(m, &info) == EMBER_OK);
        CHECK(std::string(info.family) == x.family);
        CHECK(info.embedding_size == x.embedding_size);
        // A short buffer is truncated, NUL-terminated, and `needed` says how much to ask for.
        char small[8];
        size_t needed = 0;
        REQUIRE(ember_model_describe(m, small, sizeof(small), &needed) == EMBER_OK);
        CHECK(std::strlen(small) == 7);
        CHECK(needed > 100);
        CHECK(ember_model_describe(m, nullptr, 5, &needed) == EMBER_ERR_INVALID_ARGUMENT);
        // Run-time counters: the CPU backend records no CUDA graphs, and says so.
        REQUIRE(ember_model_runtime(m, nullptr, 0, &needed) == EMBER_OK);
        std::string runtime(needed, '\0');
        REQUIRE(ember_model_runtime(m, runtime.data(), runtime.size(), &needed) == EMBER_OK);
        CHECK(needed == runtime.size());
        runtime.resize(needed - 1);
        const Json rt = parse_json(runtime, "runtime");
        CHECK(rt["graphs"]["enabled"] == false);
        CHECK(rt["graphs"]["recorded"] == 0);
        CHECK(rt["graphs"]["replayed"] == 0);
        CHECK(rt["graphs"]["failed"] == 0);
        CHECK(rt["graphs"]["last_failure"] == "");
        CHECK(ember_model_runtime(m, nullptr, 5, &needed) == EMBER_ERR_INVALID_ARGUMENT);
        CHECK(ember_model_runtime(nullptr, nullptr, 0, &needed) == EMBER_ERR_INVALID_ARGUMENT);
        if (std::string(x.family) == "nv-embed") {
            CHECK(d["latent_attention"]["latents"] == 16);
            CHECK(d["latent_attention"]["heads"] == 4);
            CHECK(d["latent_attention"]["head_dim"] == 32);
            CHECK(d["latent_attention"]["ffn_dim"] == 256);
            CHECK(d["instruction_masking"] == true);
            CHECK(d["eos"] == "append");
            CHECK(d["prompts"]["query_format"] == "Instruct: {task}\nQuery: {text}");
        }
        if (std::string(x.family) == "causal2vec") {
            CHECK(d["encoder"]["layers"] == 2);
            CHECK(d["encoder_pooling"] == "mean");
            CHECK(d["projector"]["type"] == "linear-gelu-linear");
            CHECK(d["projector"]["width"] == 64);
            CHECK(d["contextual_position"] == 1);
        }
        if (std::string(x.family) == "qwen3-embedding") CHECK(d["prompts"]["query_format"] == "Instruct: {task}\nQuery:{text}");
        ember_model_free(m);
    }
}

TEST_CASE("describe: config_sentence_transformers.json prompts are reported, and a malformed one fails the load") {
    EditedFolder f("qwen3-tiny", [](Json&) {});
    std::ofstream(f.dir / "config_sentence_transformers.json")
        << R"({"prompts": {"query": "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:", "document": ""}, "default_prompt_name": null})";
    ember_model* m = nullptr;
    REQUIRE(load(f.dir.string(), &m) == EMBER_OK);
    const Json d = describe(m);
    CHECK(d["prompts"]["sentence_transformers"]["document"] == "");
    CHECK(d["prompts"]["sentence_transformers"]["query"].get<std::string>().rfind("Instruct: Given", 0) == 0);
    CHECK(d["prompts"]["default_prompt_name"].is_null());
    ember_model_free(m);
    std::ofstream(f.dir / "config_sentence_transformers.json") << R"({"prompts": {"query": 3}})";
    CHECK(f.load_status() == EMBER_ERR_MODEL_MALFORMED);
}

TEST_CASE("nv-embed: instruction_len masks pooling only; NV-Embed-v2 defaults; shapes are checked") {
    ember_model* m = nullptr;
    REQUIRE(load(golden_dir("nvembed-tiny"), &m) == EMBER_OK);
    std::vector<int32_t> ids{5, 17, 300, 2, 9, 41, 2};
    const int32_t cu[2] = {0, 7}, start[1] = {3};
    ember_batch b{};
    b.token_ids = ids.data();
    b.cu_seqlens = cu;
    b.n_seqs = 1;
    std::vector<float> hidden_all(7 * 64), hidden_masked(7 * 64), tokens(7 * 64), e_all(64), e_masked(64);
    REQUIRE(ember_forward_hidden(m, &b, hidden_all.data(), hidden_all.size()) == EMBER_OK);
    REQUIRE(ember_forward_intermediate(m, &b, EMBER_INTERMEDIATE_LATENT_OUTPUT, tokens.data(), tokens.size()) == EMBER_OK);
    ember_embed_options raw;
    ember_embed_options_init(&raw);
    raw.normalize = 0;
    REQUIRE(ember_embed(m, &b, &raw, e_all.data(), 64) == EMBER_OK);
    b.pool_start = start;
    REQUIRE(ember_forward_hidden(m, &b, hidden_masked.data(), hidden_masked.size()) == EMBER_OK);
    REQUIRE(ember_embed(m, &b, &raw, e_masked.data(), 64) == EMBER_OK);
    CHECK(hidden_all == hidden_masked);  // still attended to: the states do not change
    for (int c = 0; c < 64; ++c) {       // the mean of the latent rows from position 3 on
        double sum = 0;
        for (int t = 3; t < 7; ++t) sum += tokens[t * 64 + c];
        CHECK(e_masked[c] == doctest::Approx(sum / 4).epsilon(1e-5));
    }
    CHECK(rel_error(e_all, e_masked) > 1e-3);
    // No encoder here, and no Causal2Vec intermediates.
    const int32_t ecu[2] = {0, 2};
    b.encoder_token_ids = ids.data();
    b.encoder_cu_seqlens = ecu;
    CHECK(ember_embed(m, &b, nullptr, e_all.data(), 64) == EMBER_ERR_INVALID_ARGUMENT);
    b.encoder_token_ids = nullptr;
    b.encoder_cu_seqlens = nullptr;
    int64_t rows, cols;
    CHECK(ember_intermediate_shape(m, &b, EMBER_INTERMEDIATE_CONTEXTUAL_TOKEN, &rows, &cols) == EMBER_ERR_INVALID_ARGUMENT);
    ember_model_free(m);

    // Published NV-Embed-v2 configs leave the latent sizes to the code's defaults (512 latents,
    // 8 heads of 4096, width 4096): those are what Ember assumes, and the tiny weights then fail.
    EditedFolder v2("nvembed-tiny", [](Json& c) { c["latent_attention_config"] = Json{{"model_type", "latent_attention"}}; });
    CHECK(v2.load_status() == EMBER_ERR_MODEL_MALFORMED);
    CHECK(v2.error.find("4096") != std::string::npos);
    EditedFolder heads("nvembed-tiny", [](Json& c) { c["latent_attention_config"]["num_cross_heads"] = 2; });
    CHECK(heads.load_status() == EMBER_ERR_MODEL_MALFORMED);
    CHECK(heads.error.find("to_q") != std::string::npos);
    EditedFolder no_text("nvembed-tiny", [](Json& c) { c.erase("text_config"); });
    CHECK(no_text.load_status() == EMBER_ERR_MODEL_MALFORMED);
}

TEST_CASE("causal2vec: encoder ids are required and checked; config choices are never guessed") {
    ember_model* m = nullptr;
    REQUIRE(load(golden_dir("causal2vec-tiny"), &m) == EMBER_OK);
    std::vector<int32_t> ids{7, 8, 9}, enc{1, 2, 3, 4};
    const int32_t cu[2] = {0, 3}, ecu[2] = {0, 4};
    ember_batch b{};
    b.token_ids = ids.data();
    b.cu_seqlens = cu;
    b.n_seqs = 1;
    std::vector<float> out(128);
    CHECK(ember_embed(m, &b, nullptr, out.data(), out.size()) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ember_last_error()).find("encoder") != std::string::npos);
    b.encoder_token_ids = enc.data();
    b.encoder_cu_seqlens = ecu;
    REQUIRE(ember_embed(m, &b, nullptr, out.data(), out.size()) == EMBER_OK);
    int64_t rows = 0;
    REQUIRE(ember_hidden_rows(m, &b, &rows) == EMBER_OK);
    CHECK(rows == 4);  // three tokens and the contextual one
    enc[2] = 512;
    CHECK(ember_embed(m, &b, nullptr, out.data(), out.size()) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ember_last_error()).find("512") != std::string::npos);
    enc[2] = 3;
    std::vector<int32_t> long_enc(513, 1);
    const int32_t long_cu[2] = {0, 513};
    b.encoder_token_ids = long_enc.data();
    b.encoder_cu_seqlens = long_cu;
    CHECK(ember_embed(m, &b, nullptr, out.data(), out.size()) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(ember_intermediate_shape(m, &b, EMBER_INTERMEDIATE_LATENT_OUTPUT, &rows, &rows) == EMBER_ERR_INVALID_ARGUMENT);
    ember_model_free(m);

    EditedFolder deep("causal2vec-tiny", [](Json& c) { c["contextual_position"] = 3; });
    REQUIRE(load(deep.dir.string(), &m) == EMBER_OK);
    b.encoder_token_ids = enc.data();
    b.encoder_cu_seqlens = ecu;
    REQUIRE(ember_embed(m, &b, nullptr, out.data(), out.size()) == EMBER_OK);  // 3 tokens: insert after them
    const int32_t cu2[2] = {0, 2};
    b.cu_seqlens = cu2;
    CHECK(ember_embed(m, &b, nullptr, out.data(), out.size()) == EMBER_ERR_INVALID_ARGUMENT);
    ember_model_free(m);
    for (const char* key : {"contextual_position", "encoder_pooling", "projector"}) {
        INFO(std::string(key));
        EditedFolder f("causal2vec-tiny", [&](Json& c) { c.erase(key); });
        CHECK(f.load_status() == EMBER_ERR_MODEL_UNSUPPORTED);
        CHECK(f.error.find(key) != std::string::npos);
    }
    EditedFolder proj("causal2vec-tiny", [](Json& c) { c["projector"] = "mlp3"; });
    CHECK(proj.load_status() == EMBER_ERR_MODEL_UNSUPPORTED);
    EditedFolder act("causal2vec-tiny", [](Json& c) { c["encoder_config"]["hidden_act"] = "gelu_new"; });
    CHECK(act.load_status() == EMBER_ERR_MODEL_UNSUPPORTED);
    EditedFolder cls("causal2vec-tiny", [](Json& c) { c["encoder_pooling"] = "cls"; });
    CHECK(cls.load_status() == EMBER_OK);
}

TEST_CASE("nv-embed fold: folded latent attention equals the textbook one at r = 512 with wide heads") {
    // NV-Embed-v2: 512 latents, 8 heads of head_dim 4096, dim 4096. Here 512 latents, 8 heads of
    // 256, dim 256 (ffn 1024): the fold's shapes and sums at the real latent count, with a textbook
    // double-precision reference (Q = X Wq^T, [K|V] = C Wkv^T, per-head softmax(Q K^T / sqrt(dh)) V,
    // concat Wout^T + H, then the GEGLU feed-forward and the masked mean) computed from the raw
    // projections.
    const int64_t r = 512, d = 256, heads = 8, dh = 256, inner = heads * dh, f = 4 * d;
    const uint64_t seed = test_seed();
    const std::vector<int32_t> cu{0, 1, 20, 45}, start{0, 3, 24};
    const int64_t T = cu.back();
    const float s_d = 1.0f / std::sqrt(float(d)), s_dh = 1.0f / std::sqrt(float(dh));
    std::vector<float> x = random_floats(T * d, seed, 2.0f), latents = random_floats(r * d, seed + 1, 2.0f);
    std::vector<float> ctx_w = random_floats(d, seed + 2, 1.5f), ctx_b = random_floats(d, seed + 3, 0.5f);
    std::vector<float> q_w = random_floats(d, seed + 4, 1.5f), q_b = random_floats(d, seed + 5, 0.5f);
    std::vector<float> wq = random_floats(inner * d, seed + 6, 4 * s_d), wkv = random_floats(2 * inner * d, seed + 7, 4 * s_d);
    std::vector<float> wout = random_floats(d * inner, seed + 8, s_dh);
    std::vector<float> f_w = random_floats(d, seed + 9, 1.5f), f_b = random_floats(d, seed + 10, 0.5f);
    std::vector<float> w0 = random_floats(2 * f * d, seed + 11, 2 * s_d), b0 = random_floats(2 * f, seed + 12, 0.5f);
    std::vector<float> w2 = random_floats(d * f, seed + 13, 2 / std::sqrt(float(f))), b2 = random_floats(d, seed + 14, 0.5f);

    auto backend = make_cpu_backend(3);
    LatentRaw raw;
    raw.n_latents = r;
    raw.dim = d;
    raw.n_heads = heads;
    raw.head_dim = dh;
    raw.eps = 1e-5f;
    raw.latents = latents.data();
    raw.ctx_norm_weight = ctx_w.data();
    raw.ctx_norm_bias = ctx_b.data();
    raw.wq = wq.data();
    raw.wkv = wkv.data();
    raw.wout = wout.data();
    const LatentFold fold = fold_latent_attention(*backend, raw);

    ember_latent_pool_params p{};
    p.x = x.data();
    p.x_stride = d;
    p.cu_seqlens = cu.data();
    p.n_seqs = 3;
    p.pool_start = start.data();
    p.dim = d;
    p.n_heads = heads;
    p.n_latents = r;
    p.ffn_dim = f;
    p.norm_weight = q_w.data();
    p.norm_bias = q_b.data();
    p.score_w = fold.score_w.data();
    p.value_w = fold.value_w.data();
    p.scale = s_dh;
    p.ffn_norm_weight = f_w.data();
    p.ffn_norm_bias = f_b.data();
    p.w0 = w0.data();
    p.b0 = b0.data();
    p.w2 = w2.data();
    p.b2 = b2.data();
    p.eps = 1e-5f;
    std::vector<float> out(3 * d), tokens(T * d);
    p.out = out.data();
    p.token_out = tokens.data();
    p.token_out_stride = d;
    ThreadPool pool(3);
    cpu::latent_pool(p, pool);

    // The textbook, in double.
    auto ln = [&](const double* in, const std::vector<float>& w, const std::vector<float>& b, double* o) {
        double mean = 0, var = 0;
        for (int64_t c = 0; c < d; ++c) mean += in[c];
        mean /= d;
        for (int64_t c = 0; c < d; ++c) var += (in[c] - mean) * (in[c] - mean);
        const double inv = 1 / std::sqrt(var / d + 1e-5);
        for (int64_t c = 0; c < d; ++c) o[c] = (in[c] - mean) * inv * w[c] + b[c];
    };
    std::vector<double> C(r * d), KV(r * 2 * inner);
    for (int64_t j = 0; j < r; ++j) {
        std::vector<double> row(latents.begin() + j * d, latents.begin() + (j + 1) * d);
        ln(row.data(), ctx_w, ctx_b, C.data() + j * d);
    }
    for (int64_t j = 0; j < r; ++j)
        for (int64_t o = 0; o < 2 * inner; ++o) {
            double s = 0;
            for (int64_t c = 0; c < d; ++c) s += C[j * d + c] * wkv[o * d + c];
            KV[j * 2 * inner + o] = s;
        }
    std::vector<double> want_tokens(T * d), want(3 * d, 0.0);
    std::vector<double> h(d), xn(d), q(inner), o(inner), h1(d), y(d), g(2 * f), sc(r);
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t c = 0; c < d; ++c) h[c] = x[t * d + c];
        ln(h.data(), q_w, q_b, xn.data());
        for (int64_t k = 0; k < inner; ++k) {
            double s = 0;
            for (int64_t c = 0; c < d; ++c) s += xn[c] * wq[k * d + c];
            q[k] = s;
        }
        for (int64_t hd = 0; hd < heads; ++hd) {
            double mx = -INFINITY;
            for (int64_t j = 0; j < r; ++j) {
                double s = 0;
                for (int64_t c = 0; c < dh; ++c) s += q[hd * dh + c] * KV[j * 2 * inner + hd * dh + c];
                sc[j] = s / std::sqrt(double(dh));
                mx = std::max(mx, sc[j]);
            }
            double sum = 0;
            for (int64_t j = 0; j < r; ++j) sum += (sc[j] = std::exp(sc[j] - mx));
            for (int64_t c = 0; c < dh; ++c) {
                double acc = 0;
                for (int64_t j = 0; j < r; ++j) acc += sc[j] * KV[j * 2 * inner + inner + hd * dh + c];
                o[hd * dh + c] = acc / sum;
            }
        }
        for (int64_t i = 0; i < d; ++i) {
            double s = h[i];
            for (int64_t k = 0; k < inner; ++k) s += o[k] * wout[i * inner + k];
            h1[i] = s;
        }
        ln(h1.data(), f_w, f_b, y.data());
        for (int64_t k = 0; k < 2 * f; ++k) {
            double s = b0[k];
            for (int64_t c = 0; c < d; ++c) s += y[c] * w0[k * d + c];
            g[k] = s;
        }
        for (int64_t i = 0; i < d; ++i) {
            double s = h1[i] + b2[i];
            for (int64_t k = 0; k < f; ++k) s += g[k] * 0.5 * g[f + k] * std::erfc(-g[f + k] / std::sqrt(2.0)) * w2[i * f + k];
            want_tokens[t * d + i] = s;
        }
    }
    for (int32_t s = 0; s < 3; ++s)
        for (int64_t i = 0; i < d; ++i) {
            double sum = 0;
            for (int64_t t = cu[s] + start[s]; t < cu[s + 1]; ++t) sum += want_tokens[t * d + i];
            want[s * d + i] = sum / (cu[s + 1] - cu[s] - start[s]);
        }
    const std::vector<float> want_f(want.begin(), want.end()), want_tok_f(want_tokens.begin(), want_tokens.end());
    const double e_pooled = rel_error(out, want_f), e_tokens = rel_error(tokens, want_tok_f);
    INFO("seed=" << seed << " pooled err " << e_pooled << " token err " << e_tokens);
    // float32 end to end (the fold's sums over 256 terms, then 4096-wide GEMMs), against double:
    // allow 1e-5 (observed about 2e-6).
    CHECK(e_pooled <= 1e-5);
    CHECK(e_tokens <= 1e-5);
}
