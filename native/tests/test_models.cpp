// End-to-end checks of every model family against the float64 goldens in tests/goldens (copied
// from the shared reference set), through the C ABI: last_hidden_state, pooled, embedding, the
// architecture's intermediate outputs, and ragged batches equal to single sequences.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "ember/ember.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "test_util.h"

namespace {

std::string golden_dir(const std::string& name) { return std::string(EMBER_SOURCE_DIR) + "/tests/goldens/" + name; }

struct GoldenCase {
    std::vector<int32_t> ids;
    std::vector<float> hidden;     // flat rows x hidden
    std::vector<float> embedding;
    std::vector<float> pooled;
    int32_t instruction_len = 0;          // NV-Embed
    std::vector<float> latent_output;     // NV-Embed: flat rows x hidden
    std::vector<int32_t> encoder_ids;     // Causal2Vec
    std::vector<float> contextual_token;  // Causal2Vec
    std::vector<float> encoder_hidden;    // Causal2Vec: flat rows x encoder hidden
};

std::vector<float> flat(const ember::Json& rows) {
    std::vector<float> out;
    for (const auto& row : rows) {
        if (row.is_array()) {
            for (const auto& v : row) out.push_back(v.get<float>());
        } else {
            out.push_back(row.get<float>());
        }
    }
    return out;
}

std::vector<GoldenCase> read_cases(const std::string& name) {
    ember::Json j = ember::read_json_file(golden_dir(name) + "/reference.json");
    std::vector<GoldenCase> out;
    for (const auto& c : j["cases"]) {
        GoldenCase g;
        for (const auto& id : c["ids"]) g.ids.push_back(id.get<int32_t>());
        g.hidden = flat(c["last_hidden_state"]);
        g.embedding = flat(c["embedding"]);
        g.pooled = flat(c["pooled"]);
        if (c.contains("instruction_len")) g.instruction_len = c["instruction_len"].get<int32_t>();
        if (c.contains("latent_output")) g.latent_output = flat(c["latent_output"]);
        if (c.contains("encoder_ids"))
            for (const auto& id : c["encoder_ids"]) g.encoder_ids.push_back(id.get<int32_t>());
        if (c.contains("contextual_token")) g.contextual_token = flat(c["contextual_token"]);
        if (c.contains("encoder_last_hidden_state")) g.encoder_hidden = flat(c["encoder_last_hidden_state"]);
        out.push_back(std::move(g));
    }
    return out;
}

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
    explicit ModelHandle(const std::string& path, int threads = 2) {
        ember_load_options o;
        ember_load_options_init(&o);
        o.backend = EMBER_BACKEND_CPU;
        o.threads = threads;
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

Worst check_golden(const std::string& name) {
    INFO("golden ", name);
    ModelHandle model(golden_dir(name));
    ember_model_info info;
    REQUIRE(ember_model_get_info(model.m, &info) == EMBER_OK);
    const auto cases = read_cases(name);
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
