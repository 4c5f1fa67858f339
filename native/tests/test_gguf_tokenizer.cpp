// ember_gguf_tokenizer_json: the tokenizer metadata of a converted file comes back complete, and
// files without a tokenizer or with inconsistent tokenizer metadata fail with typed errors.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "ember/kernels.h"
#include "ember/tools.h"
#include "io/gguf.h"
#include "io/json.h"
#include "goldens.h"

namespace {

std::string temp_path(const std::string& tag) {
    return "/tmp/ember-test-" + std::to_string(::getpid()) + "-tok-" + tag + ".gguf";
}

// The JSON for `path`, through the two-call protocol (size, then fill).
ember_status tokenizer_json(const std::string& path, std::string* out) {
    size_t needed = 0;
    const ember_status st = ember_gguf_tokenizer_json(path.c_str(), nullptr, 0, &needed);
    if (st != EMBER_OK) return st;
    std::vector<char> buf(needed);
    REQUIRE(ember_gguf_tokenizer_json(path.c_str(), buf.data(), buf.size(), &needed) == EMBER_OK);
    REQUIRE(needed == buf.size());
    *out = std::string(buf.data());
    return EMBER_OK;
}

// A tensor-less file with the given tokenizer metadata.
void write_vocab(const std::string& path, const std::vector<std::string>& tokens, const std::vector<int32_t>& types,
                 int64_t eos) {
    ember::GgufWriter w;
    w.add_string("general.architecture", "qwen3");
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "qwen2");
    w.add_string_array("tokenizer.ggml.tokens", tokens);
    w.add_i32_array("tokenizer.ggml.token_type", types);
    w.add_string_array("tokenizer.ggml.merges", {"a b"});
    if (eos >= 0) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
    w.add_bool("tokenizer.ggml.add_eos_token", true);
    w.write(path);
}

}  // namespace

TEST_CASE("GGUF tokenizer metadata comes back as JSON") {
    const std::string path = temp_path("ok");
    write_vocab(path, {"a", "b", "ab", "<|endoftext|>"}, {1, 1, 1, 3}, 3);
    std::string text;
    REQUIRE_MESSAGE(tokenizer_json(path, &text) == EMBER_OK, ember_last_error());
    const ember::Json j = ember::Json::parse(text);
    CHECK(j["model"] == "gpt2");
    CHECK(j["pre"] == "qwen2");
    CHECK(j["tokens"].size() == 4);
    CHECK(j["tokens"][3] == "<|endoftext|>");
    CHECK(j["token_type"] == ember::Json::array({1, 1, 1, 3}));
    CHECK(j["merges"] == ember::Json::array({"a b"}));
    CHECK(j["eos_token_id"] == 3);
    CHECK(j["add_eos_token"] == true);
    CHECK(!j.contains("bos_token_id"));
    CHECK(!j.contains("add_bos_token"));

    // A short buffer is filled as far as it goes and NUL-terminated.
    char small[8];
    size_t needed = 0;
    CHECK(ember_gguf_tokenizer_json(path.c_str(), small, sizeof small, &needed) == EMBER_OK);
    CHECK(needed == text.size() + 1);
    CHECK(std::string(small) == text.substr(0, 7));
    std::remove(path.c_str());
}

TEST_CASE("a converted model's stand-in vocabulary is readable") {
    // qwen3-tiny has no tokenizer.json: convert writes a byte-level stand-in of the model's size.
    const std::string path = temp_path("conv");
    const std::string golden = ember::test::golden_dir("qwen3-tiny");
    REQUIRE(ember_convert(golden.c_str(), path.c_str(), EMBER_DTYPE_F32) == EMBER_OK);
    std::string text;
    REQUIRE_MESSAGE(tokenizer_json(path, &text) == EMBER_OK, ember_last_error());
    const ember::Json j = ember::Json::parse(text);
    CHECK(j["tokens"].size() == 512);
    CHECK(j["token_type"].size() == 512);
    CHECK(j["eos_token_id"] == 511);
    std::remove(path.c_str());
}

TEST_CASE("GGUF tokenizer metadata: missing or inconsistent") {
    std::string text;
    CHECK(tokenizer_json("/nonexistent.gguf", &text) == EMBER_ERR_MODEL_NOT_FOUND);

    const std::string path = temp_path("bad");
    {
        ember::GgufWriter w;  // no tokenizer at all
        w.add_string("general.architecture", "qwen3");
        w.write(path);
    }
    CHECK(tokenizer_json(path, &text) == EMBER_ERR_MODEL_NOT_FOUND);
    CHECK(std::string(ember_last_error()).find("no tokenizer") != std::string::npos);

    write_vocab(path, {"a", "b"}, {1, 1, 1}, -1);  // token_type count differs
    CHECK(tokenizer_json(path, &text) == EMBER_ERR_MODEL_MALFORMED);
    write_vocab(path, {"a", "b"}, {1, 9}, -1);  // not a token type
    CHECK(tokenizer_json(path, &text) == EMBER_ERR_MODEL_MALFORMED);
    write_vocab(path, {"a", "b"}, {1, 1}, 2);  // eos past the vocabulary
    CHECK(tokenizer_json(path, &text) == EMBER_ERR_MODEL_MALFORMED);
    // Token text is escaped, and what is not well-formed UTF-8 is replaced (one U+FFFD per
    // maximal bad prefix), so the JSON always parses.
    const std::string fffd = "\xEF\xBF\xBD";
    const std::vector<std::pair<std::string, std::string>> texts = {
        {std::string("\xff\xfe", 2), fffd + fffd},                  // bytes that never start a character
        {"\xC0\xAF", fffd + fffd},                                   // overlong '/'
        {"\xED\xA0\x80", fffd + fffd + fffd},                       // a surrogate
        {"x\xE4\xBD", "x" + fffd},                                  // cut short at the end
        {"\xF0\x9F\x9A\x80 \xC4\xA0", "\xF0\x9F\x9A\x80 \xC4\xA0"},       // well-formed 4- and 2-byte characters
        {std::string("q\"b\\n\n\x01", 7), std::string("q\"b\\n\n\x01", 7)},  // escapes
    };
    for (const auto& [raw, want] : texts) {
        write_vocab(path, {"a", raw}, {1, 1}, -1);
        REQUIRE(tokenizer_json(path, &text) == EMBER_OK);
        CHECK(ember::Json::parse(text)["tokens"][1] == want);
    }
    std::remove(path.c_str());

    CHECK(ember_gguf_tokenizer_json(nullptr, nullptr, 0, nullptr) == EMBER_ERR_INVALID_ARGUMENT);
}
