// GGUF models end to end: qwen3-tiny converted to GGUF at every type loads and matches the
// transformers golden (exactly for f32, within the type's error otherwise), and a converted
// bidirectional llama (Q/K rows permuted, interleaved RoPE) matches its golden too.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "ember/ember.h"
#include "ember/kernels.h"
#include "ember/tools.h"
#include "io/gguf.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "goldens.h"
#include "test_util.h"

namespace {

using ember::test::cosine;
using ember::test::golden_dir;

// Converts `golden` to GGUF `dtype`, loads it and compares every case. Returns the worst
// embedding cosine and hidden-state relative error.
void check(const std::string& golden, int32_t dtype, double max_hidden_err, double min_cos) {
    const std::string path = "/tmp/ember-test-" + std::to_string(::getpid()) + "-" + golden + "-" +
                             std::to_string(dtype) + ".gguf";
    INFO(golden, " dtype ", dtype);
    REQUIRE_MESSAGE(ember_convert(golden_dir(golden).c_str(), path.c_str(), dtype) == EMBER_OK, ember_last_error());
    ember_load_options o;
    ember_load_options_init(&o);
    o.backend = EMBER_BACKEND_CPU;
    o.threads = 2;
    ember_model* m = nullptr;
    REQUIRE_MESSAGE(ember_model_load(path.c_str(), &o, &m) == EMBER_OK, ember_last_error());
    ember_model_info info;
    REQUIRE(ember_model_get_info(m, &info) == EMBER_OK);
    double worst_cos = 1.0, worst_hidden = 0.0;
    for (const ember::test::GoldenCase& c : ember::test::read_golden_cases(golden)) {
        const int32_t cu[2] = {0, static_cast<int32_t>(c.ids.size())};
        ember_batch b{};
        b.token_ids = c.ids.data();
        b.cu_seqlens = cu;
        b.n_seqs = 1;
        std::vector<float> hidden(c.ids.size() * info.hidden_size), emb(info.embedding_size);
        REQUIRE(ember_forward_hidden(m, &b, hidden.data(), hidden.size()) == EMBER_OK);
        REQUIRE(ember_embed(m, &b, nullptr, emb.data(), emb.size()) == EMBER_OK);
        worst_hidden = std::max(worst_hidden, ember::test::rel_error(hidden, c.hidden));
        worst_cos = std::min(worst_cos, cosine(emb.data(), c.embedding.data(), emb.size()));
    }
    ember_model_free(m);
    std::remove(path.c_str());
    INFO("worst hidden rel err ", worst_hidden, ", worst embedding cosine ", worst_cos);
    CHECK(worst_hidden <= max_hidden_err);
    CHECK(worst_cos >= min_cos);
}

}  // namespace

TEST_CASE("qwen3-tiny through GGUF matches the golden") {
    check("qwen3-tiny", EMBER_DTYPE_F32, 1e-5, 0.999999);
    check("qwen3-tiny", EMBER_DTYPE_F16, 5e-3, 0.9999);
    check("qwen3-tiny", EMBER_DTYPE_BF16, 3e-2, 0.999);
    check("qwen3-tiny", EMBER_DTYPE_Q8_0, 3e-2, 0.999);
    // hidden 64 is not a whole K-quant block: Q4_K / Q6_K fall back to Q8_0 for those rows.
    check("qwen3-tiny", EMBER_DTYPE_Q4_K, 3e-2, 0.999);
    // 4-bit weights on a 64-wide random model: nothing averages the error out (measured: hidden
    // 0.36, cosine 0.957).
    check("qwen3-tiny", EMBER_DTYPE_Q4_0, 0.5, 0.93);
}

TEST_CASE("bidirectional llama through GGUF: permuted Q/K with interleaved RoPE") {
    check("llama-bidir-tiny", EMBER_DTYPE_F32, 1e-5, 0.999999);
    check("llama-bidir-tiny", EMBER_DTYPE_Q8_0, 5e-2, 0.999);
}

TEST_CASE("llama3 RoPE through GGUF: rope_freqs.weight as llama.cpp writes and reads it") {
    // The golden's rope_parameters name llama3 (factor 8 over 128 original positions); the file
    // carries it as per-pair divisors and no scaling type, and still matches transformers.
    check("llama-bidir-llama3rope-tiny", EMBER_DTYPE_F32, 1e-5, 0.999999);
    check("llama-bidir-llama3rope-tiny", EMBER_DTYPE_Q8_0, 5e-2, 0.999);

    const std::string path = "/tmp/ember-test-" + std::to_string(::getpid()) + "-llama3.gguf";
    REQUIRE(ember_convert(golden_dir("llama-bidir-llama3rope-tiny").c_str(), path.c_str(), EMBER_DTYPE_F32) == EMBER_OK);
    std::vector<float> factors;
    {
        auto g = ember::GgufFile::open(path);
        CHECK(g->find("llama.rope.scaling.type") == nullptr);
        const ember::GgufTensor* t = g->tensor("rope_freqs.weight");
        REQUIRE(t != nullptr);
        CHECK(t->dtype == EMBER_DTYPE_F32);
        REQUIRE(t->n_dims == 1);
        REQUIRE(t->dims[0] == 8);  // head_dim 16
        factors.assign(reinterpret_cast<const float*>(t->data), reinterpret_cast<const float*>(t->data) + 8);
    }
    CHECK(factors.front() == 1.0f);  // the fastest pair is kept
    CHECK(factors.back() == 8.0f);   // the slowest is divided by the factor

    // A factor that gives no usable frequency (here NaN, written over the slowest pair's) fails the
    // load as MODEL_MALFORMED, not an embed later.
    std::string bytes = ember::read_text_file(path);
    const std::string needle(reinterpret_cast<const char*>(factors.data()), factors.size() * 4);
    const size_t at = bytes.find(needle);
    REQUIRE(at != std::string::npos);
    const float nan = NAN;
    bytes.replace(at + 7 * 4, 4, reinterpret_cast<const char*>(&nan), 4);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    ember_model* m = nullptr;
    CHECK(ember_model_load(path.c_str(), nullptr, &m) == EMBER_ERR_MODEL_MALFORMED);
    CHECK(m == nullptr);
    CHECK(std::string(ember_last_error()).find("frequency factor 7") != std::string::npos);
    std::remove(path.c_str());
}

TEST_CASE("converted GGUF carries llama.cpp's metadata") {
    const std::string path = "/tmp/ember-test-" + std::to_string(::getpid()) + "-meta.gguf";
    REQUIRE(ember_convert(golden_dir("qwen3-tiny").c_str(), path.c_str(), EMBER_DTYPE_Q8_0) == EMBER_OK);
    auto g = ember::GgufFile::open(path);
    CHECK(g->get_string("general.architecture") == "qwen3");
    CHECK(g->get_int("qwen3.block_count", 0, 100) == 2);
    CHECK(g->get_int("qwen3.pooling_type", 0, 10) == 3);
    CHECK(g->get_string("tokenizer.ggml.model") == "gpt2");
    CHECK(g->find("tokenizer.ggml.tokens")->strings.size() == 512);
    CHECK(g->tensor("blk.1.ffn_down.weight") != nullptr);
    CHECK(g->tensor("blk.0.attn_q.weight")->dtype == EMBER_DTYPE_Q8_0);
    CHECK(g->tensor("output_norm.weight")->dtype == EMBER_DTYPE_F32);
    std::remove(path.c_str());
    CHECK(ember_convert("/nonexistent", path.c_str(), EMBER_DTYPE_F32) == EMBER_ERR_MODEL_NOT_FOUND);
    CHECK(ember_convert(golden_dir("qwen3-tiny").c_str(), path.c_str(), 5) == EMBER_ERR_INVALID_ARGUMENT);
}

TEST_CASE("hostile GGUF model files are rejected with typed errors") {
    ember_model* m = nullptr;
    CHECK(ember_model_load("/nonexistent.gguf", nullptr, &m) == EMBER_ERR_MODEL_NOT_FOUND);
    const std::string path = "/tmp/ember-test-" + std::to_string(::getpid()) + "-bad.gguf";
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite("GGUF\3\0\0\0\xff\xff\xff\xff\xff\xff\xff\x7f", 1, 16, f);
    std::fclose(f);
    CHECK(ember_model_load(path.c_str(), nullptr, &m) == EMBER_ERR_MODEL_MALFORMED);
    CHECK(m == nullptr);
    std::remove(path.c_str());
}
