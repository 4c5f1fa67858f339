// End-to-end checks of every model family against the float64 goldens in tests/goldens (copied
// from the shared reference set), through the C ABI: last_hidden_state, pooled, embedding, the
// architecture's intermediate outputs, and ragged batches equal to single sequences.
#include <algorithm>
#include <cmath>
#include <functional>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "ember/ember.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "goldens.h"
#include "test_util.h"

namespace {

using ember::test::golden_dir;
using ember::test::GoldenCase;

// One case as a batch of one sequence, with its pool start and encoder ids when it has them.
struct OneBatch {
    int32_t cu[2], ecu[2], start[1];
    ember_batch b{};
    explicit OneBatch(const GoldenCase& c) {
        cu[0] = 0;
        cu[1] = static_cast<int32_t>(c.ids.size());
        b.token_ids = c.ids.data();
        b.cu_seqlens = cu;
        b.n_seqs = 1;
        start[0] = c.instruction_len;
        if (c.instruction_len > 0) b.pool_start = start;
        if (!c.encoder_ids.empty()) {
            ecu[0] = 0;
            ecu[1] = static_cast<int32_t>(c.encoder_ids.size());
            b.encoder_token_ids = c.encoder_ids.data();
            b.encoder_cu_seqlens = ecu;
        }
    }
    OneBatch(const OneBatch&) = delete;
};

// Worst relative error per field over the cases of a golden.
struct Worst {
    double hidden = 0, embedding = 0, pooled = 0, latent = 0, contextual = 0, encoder = 0, batched = 0;
};

struct ModelHandle {
    ember_model* m = nullptr;
    explicit ModelHandle(const std::string& path, int threads = 2,
                         const std::function<void(ember_load_options&)>& tweak = {}) {
        ember_load_options o;
        ember_load_options_init(&o);
        o.backend = EMBER_BACKEND_CPU;
        o.threads = threads;
        if (tweak) tweak(o);
        ember_status st = ember_model_load(path.c_str(), &o, &m);
        INFO("load: ", ember_last_error());
        REQUIRE(st == EMBER_OK);
    }
    ~ModelHandle() { ember_model_free(m); }
};

// An intermediate output through ember_intermediate_shape / ember_forward_intermediate.
std::vector<float> intermediate(ember_model* m, const ember_batch& b, int32_t which) {
    int64_t rows = 0, cols = 0;
    REQUIRE(ember_intermediate_shape(m, &b, which, &rows, &cols) == EMBER_OK);
    std::vector<float> out(static_cast<size_t>(rows * cols));
    const ember_status st = ember_forward_intermediate(m, &b, which, out.data(), out.size());
    INFO(ember_last_error());
    REQUIRE(st == EMBER_OK);
    return out;
}

Worst check_golden(const std::string& name, const std::function<void(ember_load_options&)>& tweak = {}) {
    INFO("golden ", name);
    ModelHandle model(golden_dir(name), 2, tweak);
    ember_model_info info;
    REQUIRE(ember_model_get_info(model.m, &info) == EMBER_OK);
    const auto cases = ember::test::read_golden_cases(name);
    REQUIRE(!cases.empty());
    Worst w;
    auto track = [](double& worst, double e) {
        worst = std::max(worst, e);
        return e;
    };

    std::vector<int32_t> all_ids, cu{0}, starts, all_enc, ecu{0};
    for (const auto& c : cases) {
        // One sequence at a time.
        const OneBatch one(c);
        int64_t rows = 0;
        REQUIRE(ember_hidden_rows(model.m, &one.b, &rows) == EMBER_OK);
        std::vector<float> hidden(static_cast<size_t>(rows) * info.hidden_size);
        REQUIRE(ember_forward_hidden(model.m, &one.b, hidden.data(), hidden.size()) == EMBER_OK);
        const double e_hidden = track(w.hidden, ember::test::rel_error(hidden, c.hidden));
        INFO("len ", c.ids.size(), " hidden rel err ", e_hidden);
        CHECK(e_hidden <= 1e-5);
        std::vector<float> emb(info.embedding_size), pooled(info.embedding_size);
        REQUIRE(ember_embed(model.m, &one.b, nullptr, emb.data(), emb.size()) == EMBER_OK);
        ember_embed_options raw;
        ember_embed_options_init(&raw);
        raw.normalize = 0;
        REQUIRE(ember_embed(model.m, &one.b, &raw, pooled.data(), pooled.size()) == EMBER_OK);
        const double e_emb = track(w.embedding, ember::test::rel_error(emb, c.embedding));
        const double e_pooled = track(w.pooled, ember::test::rel_error(pooled, c.pooled));
        INFO("embedding rel err ", e_emb, " pooled rel err ", e_pooled);
        CHECK(e_emb <= 1e-5);
        CHECK(e_pooled <= 1e-5);
        if (!c.latent_output.empty()) {
            const double e = track(w.latent, ember::test::rel_error(
                                                 intermediate(model.m, one.b, EMBER_INTERMEDIATE_LATENT_OUTPUT), c.latent_output));
            INFO("latent_output rel err ", e);
            CHECK(e <= 1e-5);
        }
        if (!c.contextual_token.empty()) {
            const double e = track(w.contextual, ember::test::rel_error(
                                                     intermediate(model.m, one.b, EMBER_INTERMEDIATE_CONTEXTUAL_TOKEN),
                                                     c.contextual_token));
            const double e_enc = track(w.encoder, ember::test::rel_error(
                                                      intermediate(model.m, one.b, EMBER_INTERMEDIATE_ENCODER_HIDDEN),
                                                      c.encoder_hidden));
            INFO("contextual_token rel err ", e, " encoder_last_hidden_state rel err ", e_enc);
            CHECK(e <= 1e-5);
            CHECK(e_enc <= 1e-5);
        }
        all_ids.insert(all_ids.end(), c.ids.begin(), c.ids.end());
        cu.push_back(static_cast<int32_t>(all_ids.size()));
        starts.push_back(c.instruction_len);
        all_enc.insert(all_enc.end(), c.encoder_ids.begin(), c.encoder_ids.end());
        ecu.push_back(static_cast<int32_t>(all_enc.size()));
    }
    // The ragged batch of all cases gives the same vectors as each alone.
    ember_batch b{};
    b.token_ids = all_ids.data();
    b.cu_seqlens = cu.data();
    b.n_seqs = static_cast<int32_t>(cases.size());
    b.pool_start = starts.data();
    if (!all_enc.empty()) {
        b.encoder_token_ids = all_enc.data();
        b.encoder_cu_seqlens = ecu.data();
    }
    std::vector<float> emb(cases.size() * info.embedding_size);
    REQUIRE(ember_embed(model.m, &b, nullptr, emb.data(), emb.size()) == EMBER_OK);
    for (size_t s = 0; s < cases.size(); ++s) {
        const double e = track(w.batched, ember::test::rel_error(emb.data() + s * info.embedding_size,
                                                                 cases[s].embedding.data(), info.embedding_size));
        INFO("batched case ", s, " rel err ", e);
        CHECK(e <= 1e-5);
    }
    return w;
}

}  // namespace

TEST_CASE("qwen3-tiny matches transformers") { check_golden("qwen3-tiny"); }
TEST_CASE("qwen3-tiny-bf16 matches the float64 reference") { check_golden("qwen3-tiny-bf16"); }
TEST_CASE("llama-bidir-tiny matches transformers") { check_golden("llama-bidir-tiny"); }

TEST_CASE("nvembed-tiny matches the float64 reference (backbone, latent block, masked mean)") {
    const Worst w = check_golden("nvembed-tiny");
    MESSAGE("nvembed-tiny max rel err: last_hidden_state " << w.hidden << ", latent_output " << w.latent
                                                            << ", pooled " << w.pooled << ", embedding " << w.embedding
                                                            << ", batched " << w.batched);
    CHECK(w.latent > 0);  // the latent output was compared
}

TEST_CASE("causal2vec-tiny matches the float64 reference (encoder, contextual token, decoder)") {
    const Worst w = check_golden("causal2vec-tiny");
    MESSAGE("causal2vec-tiny max rel err: encoder_last_hidden_state "
            << w.encoder << ", contextual_token " << w.contextual << ", last_hidden_state " << w.hidden << ", pooled "
            << w.pooled << ", embedding " << w.embedding << ", batched " << w.batched);
    CHECK(w.contextual > 0);
}

// RoPE scaling read straight from config.json (rope_parameters): YaRN (its attention factor
// included) over inputs of 100 and 450 tokens, 128 trained positions extended 4x; Llama 3.1's
// llama3 scaling on a bidirectional Llama, 50 and 400 tokens.
TEST_CASE("qwen3-yarn-tiny matches transformers (YaRN from config.json)") {
    const Worst w = check_golden("qwen3-yarn-tiny");
    MESSAGE("qwen3-yarn-tiny max rel err: last_hidden_state " << w.hidden << ", pooled " << w.pooled << ", embedding "
                                                               << w.embedding << ", batched " << w.batched);
}

TEST_CASE("llama-bidir-llama3rope-tiny matches transformers (llama3 RoPE from config.json)") {
    const Worst w = check_golden("llama-bidir-llama3rope-tiny");
    MESSAGE("llama-bidir-llama3rope-tiny max rel err: last_hidden_state "
            << w.hidden << ", pooled " << w.pooled << ", embedding " << w.embedding << ", batched " << w.batched);
}

// The load-time override names the same variant the config does (its factor, the trained
// context from the config): the same model, the same numbers.
TEST_CASE("long context: a RoPE override equal to the configured scaling reproduces the goldens") {
    check_golden("qwen3-yarn-tiny", [](ember_load_options& o) {
        o.rope_scaling = EMBER_ROPE_SCALING_YARN;
        o.rope_factor = 4;
    });
    check_golden("llama-bidir-llama3rope-tiny", [](ember_load_options& o) {
        o.rope_scaling = EMBER_ROPE_SCALING_LLAMA3;
        o.rope_factor = 8;
        o.rope_theta = 500000;
    });
}

namespace {

std::vector<float> hidden_of(ember_model* m, const std::vector<std::vector<int32_t>>& seqs, int32_t hidden) {
    std::vector<int32_t> ids, cu{0};
    for (const auto& s : seqs) {
        ids.insert(ids.end(), s.begin(), s.end());
        cu.push_back(static_cast<int32_t>(ids.size()));
    }
    ember_batch b{};
    b.token_ids = ids.data();
    b.cu_seqlens = cu.data();
    b.n_seqs = static_cast<int32_t>(seqs.size());
    std::vector<float> out(ids.size() * hidden);
    const ember_status st = ember_forward_hidden(m, &b, out.data(), out.size());
    INFO(ember_last_error());
    REQUIRE(st == EMBER_OK);
    return out;
}

std::vector<int32_t> random_ids(int n, uint64_t seed, int vocab) {
    std::vector<int32_t> ids(n);
    std::mt19937_64 rng(seed);
    for (auto& id : ids) id = static_cast<int32_t>(rng() % vocab);
    return ids;
}

bool all_finite(const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

}  // namespace

// Dynamic NTK per sequence: in a ragged batch each sequence gets the frequencies of its own
// length, the same as alone; up to the trained context (128 here) nothing changes.
TEST_CASE("long context: dynamic NTK uses each sequence's own length in a ragged batch") {
    const auto cases = ember::test::read_golden_cases("llama-bidir-llama3rope-tiny");  // 50 and 400 tokens
    const auto& short_ids = cases[0].ids;
    const auto& long_ids = cases[1].ids;
    const auto dynamic = [](ember_load_options& o) {
        o.rope_scaling = EMBER_ROPE_SCALING_DYNAMIC;
        o.rope_factor = 2;
    };
    const auto none = [](ember_load_options& o) { o.rope_scaling = EMBER_ROPE_SCALING_NONE; };
    ModelHandle dyn(golden_dir("llama-bidir-llama3rope-tiny"), 2, dynamic), plain(golden_dir("llama-bidir-llama3rope-tiny"), 2, none);
    const int32_t h = 64;
    const std::vector<float> both = hidden_of(dyn.m, {long_ids, short_ids, long_ids}, h);
    const std::vector<float> alone_long = hidden_of(dyn.m, {long_ids}, h), alone_short = hidden_of(dyn.m, {short_ids}, h);
    const size_t nl = long_ids.size() * h, ns = short_ids.size() * h;
    const std::vector<float> b_long(both.begin(), both.begin() + nl), b_short(both.begin() + nl, both.begin() + nl + ns),
        b_long2(both.begin() + nl + ns, both.end());
    CHECK(ember::test::rel_error(b_long, alone_long) <= 1e-6);
    CHECK(ember::test::rel_error(b_long2, alone_long) <= 1e-6);
    CHECK(ember::test::rel_error(b_short, alone_short) <= 1e-6);
    // Below the trained context: plain RoPE. Beyond it: different frequencies, different states.
    CHECK(ember::test::rel_error(alone_short, hidden_of(plain.m, {short_ids}, h)) <= 1e-6);
    CHECK(ember::test::rel_error(alone_long, hidden_of(plain.m, {long_ids}, h)) > 1e-3);
    CHECK(all_finite(both));
}

// SelfExtend in whole models, causal (Qwen3) and bidirectional (Llama): a window covering the
// input is exactly the model without it; a smaller one changes the states, stays finite, and
// batching does not change any sequence. The kernels themselves: test_self_extend.cpp.
TEST_CASE("long context: SelfExtend in the decoder, causal and bidirectional") {
    for (const char* name : {"qwen3-tiny", "llama-bidir-tiny"}) {
        INFO(name);
        const auto se = [](int g, int w) {
            return [g, w](ember_load_options& o) {
                o.self_extend_group = g;
                o.self_extend_window = w;
            };
        };
        ModelHandle plain(golden_dir(name)), wide(golden_dir(name), 2, se(4, 300)), narrow(golden_dir(name), 2, se(3, 16)),
            scaled(golden_dir(name), 2, [](ember_load_options& o) {
                o.self_extend_group = 3;
                o.self_extend_window = 16;
                o.attention_scaling = 64;
            });
        ember_model_info info;
        REQUIRE(ember_model_get_info(plain.m, &info) == EMBER_OK);
        const int32_t h = info.hidden_size;
        const std::vector<int32_t> a = random_ids(300, 1, info.vocab_size), b = random_ids(77, 2, info.vocab_size),
                                   c = random_ids(9, 3, info.vocab_size);
        const std::vector<float> ref = hidden_of(plain.m, {a}, h);
        const std::vector<float> same = hidden_of(wide.m, {a}, h);
        CHECK(std::memcmp(ref.data(), same.data(), ref.size() * sizeof(float)) == 0);
        const std::vector<float> grouped = hidden_of(narrow.m, {a}, h);
        CHECK(all_finite(grouped));
        CHECK(ember::test::rel_error(grouped, ref) > 1e-3);
        // A short sequence in the batch (9 < W) is untouched by SelfExtend; the others are as alone.
        const std::vector<float> batch = hidden_of(narrow.m, {b, a, c}, h);
        const size_t nb = b.size() * h, na = a.size() * h;
        CHECK(ember::test::rel_error(std::vector<float>(batch.begin(), batch.begin() + nb), hidden_of(narrow.m, {b}, h)) <= 1e-6);
        CHECK(ember::test::rel_error(std::vector<float>(batch.begin() + nb, batch.begin() + nb + na), grouped) <= 1e-6);
        CHECK(ember::test::rel_error(std::vector<float>(batch.begin() + nb + na, batch.end()), hidden_of(plain.m, {c}, h)) <=
              1e-6);
        // LongEmbed's scaling on top: log_64(300) > 1 changes the long sequence.
        const std::vector<float> with_scaling = hidden_of(scaled.m, {a}, h);
        CHECK(all_finite(with_scaling));
        CHECK(ember::test::rel_error(with_scaling, grouped) > 1e-4);
        // What was applied is reported.
        size_t needed = 0;
        REQUIRE(ember_model_describe(narrow.m, nullptr, 0, &needed) == EMBER_OK);
        std::string text(needed, '\0');
        REQUIRE(ember_model_describe(narrow.m, text.data(), text.size(), nullptr) == EMBER_OK);
        CHECK(text.find("\"self_extend\":{\"group\":3,\"window\":16}") != std::string::npos);
    }
}

TEST_CASE("long context: bad load options fail with INVALID_ARGUMENT before the model is read") {
    ember_load_options o;
    ember_load_options_init(&o);
    o.backend = EMBER_BACKEND_CPU;
    o.self_extend_group = 2;  // without a window
    ember_model* m = nullptr;
    CHECK(ember_model_load(golden_dir("qwen3-tiny").c_str(), &o, &m) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ember_last_error()).find("SelfExtend") != std::string::npos);
    CHECK(m == nullptr);
    ember_load_options_init(&o);
    o.rope_scaling = EMBER_ROPE_SCALING_NTK;
    o.rope_factor = 0.5;
    CHECK(ember_model_load("/does/not/exist", &o, &m) == EMBER_ERR_INVALID_ARGUMENT);
}

TEST_CASE("bad batches are rejected with INVALID_ARGUMENT") {
    ModelHandle model(golden_dir("qwen3-tiny"));
    float out[64];
    const int32_t ids[3] = {1, 2, 600};
    const int32_t cu_bad_id[2] = {0, 3};
    ember_batch b{};
    b.token_ids = ids;
    b.cu_seqlens = cu_bad_id;
    b.n_seqs = 1;
    CHECK(ember_embed(model.m, &b, nullptr, out, 64) == EMBER_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ember_last_error()).find("600") != std::string::npos);
    const int32_t cu_empty[3] = {0, 2, 2};
    b.cu_seqlens = cu_empty;
    b.n_seqs = 2;
    CHECK(ember_embed(model.m, &b, nullptr, out, 64) == EMBER_ERR_INVALID_ARGUMENT);
    b.n_seqs = 0;
    CHECK(ember_embed(model.m, &b, nullptr, out, 64) == EMBER_ERR_INVALID_ARGUMENT);
}
