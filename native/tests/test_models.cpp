// End-to-end checks of the decoder models against the Hugging Face float64 goldens in
// tests/goldens (copied from the shared reference set), through the C ABI.
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
};

std::vector<GoldenCase> read_cases(const std::string& name) {
    ember::Json j = ember::read_json_file(golden_dir(name) + "/reference.json");
    std::vector<GoldenCase> out;
    for (const auto& c : j["cases"]) {
        GoldenCase g;
        for (const auto& id : c["ids"]) g.ids.push_back(id.get<int32_t>());
        for (const auto& row : c["last_hidden_state"])
            for (const auto& v : row) g.hidden.push_back(v.get<float>());
        for (const auto& v : c["embedding"]) g.embedding.push_back(v.get<float>());
        out.push_back(std::move(g));
    }
    return out;
}

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

void check_golden(const std::string& name) {
    INFO("golden ", name);
    ModelHandle model(golden_dir(name));
    ember_model_info info;
    REQUIRE(ember_model_get_info(model.m, &info) == EMBER_OK);
    const auto cases = read_cases(name);
    REQUIRE(!cases.empty());

    std::vector<int32_t> all_ids, cu{0};
    for (const auto& c : cases) {
        // One sequence at a time.
        const int32_t cu1[2] = {0, static_cast<int32_t>(c.ids.size())};
        ember_batch b{};
        b.token_ids = c.ids.data();
        b.cu_seqlens = cu1;
        b.n_seqs = 1;
        std::vector<float> hidden(c.ids.size() * info.hidden_size);
        REQUIRE(ember_forward_hidden(model.m, &b, hidden.data(), hidden.size()) == EMBER_OK);
        const double e_hidden = ember::test::rel_error(hidden, c.hidden);
        INFO("len ", c.ids.size(), " hidden rel err ", e_hidden);
        CHECK(e_hidden <= 1e-5);
        std::vector<float> emb(info.embedding_size);
        REQUIRE(ember_embed(model.m, &b, nullptr, emb.data(), emb.size()) == EMBER_OK);
        const double e_emb = ember::test::rel_error(emb, c.embedding);
        INFO("embedding rel err ", e_emb);
        CHECK(e_emb <= 1e-5);
        all_ids.insert(all_ids.end(), c.ids.begin(), c.ids.end());
        cu.push_back(static_cast<int32_t>(all_ids.size()));
    }
    // The ragged batch of all cases gives the same vectors as each alone.
    ember_batch b{};
    b.token_ids = all_ids.data();
    b.cu_seqlens = cu.data();
    b.n_seqs = static_cast<int32_t>(cases.size());
    std::vector<float> emb(cases.size() * info.embedding_size);
    REQUIRE(ember_embed(model.m, &b, nullptr, emb.data(), emb.size()) == EMBER_OK);
    for (size_t s = 0; s < cases.size(); ++s) {
        const double e = ember::test::rel_error(emb.data() + s * info.embedding_size, cases[s].embedding.data(),
                                                info.embedding_size);
        INFO("batched case ", s, " rel err ", e);
        CHECK(e <= 1e-5);
    }
}

}  // namespace

TEST_CASE("qwen3-tiny matches transformers") { check_golden("qwen3-tiny"); }
TEST_CASE("qwen3-tiny-bf16 matches the float64 reference") { check_golden("qwen3-tiny-bf16"); }
TEST_CASE("llama-bidir-tiny matches transformers") { check_golden("llama-bidir-tiny"); }

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
