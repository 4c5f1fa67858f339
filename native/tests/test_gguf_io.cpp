// GGUF reader and writer: round trips, and hostile files (truncated anywhere, lying counts,
// lengths, dimensions, offsets and type ids) that must fail with a typed error and never read
// outside the mapping. Run under -DEMBER_SANITIZE=ON to catch the latter.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "doctest/doctest.h"
#include "io/gguf.h"
#include "quant/quants.h"
#include "goldens.h"
#include "test_util.h"
#include "tools/convert.h"

using namespace ember;

namespace {

std::string temp_path(const std::string& tag) {
    return "/tmp/ember-test-" + std::to_string(::getpid()) + "-" + tag + ".gguf";
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Opens `bytes` as a GGUF file; returns the status it fails with (EMBER_OK when it parses).
ember_status parse_status(const std::vector<uint8_t>& bytes, std::string* message = nullptr) {
    const std::string path = temp_path("h");
    write_bytes(path, bytes);
    ember_status st = EMBER_OK;
    try {
        GgufFile::open(path);
    } catch (const Error& e) {
        st = e.status();
        if (message) *message = e.what();
    }
    std::remove(path.c_str());
    return st;
}

// Byte-level builder for hand-made (and hand-broken) files.
struct Bytes {
    std::vector<uint8_t> b;
    template <class T> Bytes& put(T v) {
        const size_t at = b.size();
        b.resize(at + sizeof(T));
        std::memcpy(b.data() + at, &v, sizeof(T));
        return *this;
    }
    Bytes& str(const std::string& s) {
        put<uint64_t>(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        for (char c : {'G', 'G', 'U', 'F'}) b.push_back(static_cast<uint8_t>(c));  // (insert of a list: a GCC 12 false warning)
        return put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
    }
    Bytes& kv_u32(const std::string& k, uint32_t v) { return str(k).put<uint32_t>(4).put<uint32_t>(v); }
    Bytes& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
        str(name).put<uint32_t>(static_cast<uint32_t>(dims.size()));
        for (uint64_t d : dims) put<uint64_t>(d);
        return put<uint32_t>(type).put<uint64_t>(offset);
    }
    Bytes& pad(size_t align = 32) {
        while (b.size() % align) b.push_back(0);
        return *this;
    }
    Bytes& zeros(size_t n) {
        b.insert(b.end(), n, 0);
        return *this;
    }
};

// A valid file: one metadata key, one f32 tensor of 8 elements.
Bytes minimal() {
    Bytes x;
    x.header(1, 1).kv_u32("general.alignment", 32).tensor("t", {8}, 0, 0).pad().zeros(32);
    return x;
}

}  // namespace

TEST_CASE("GGUF writer output reads back") {
    const uint64_t seed = test::test_seed();
    INFO("seed ", seed);
    const auto vals = test::random_floats(64 * 96, seed, 1.0f);
    std::vector<uint8_t> q8(static_cast<size_t>(dtype_row_bytes(EMBER_DTYPE_Q8_0, 96) * 64));
    for (int r = 0; r < 64; ++r)
        quant::quantize_row(EMBER_DTYPE_Q8_0, vals.data() + r * 96, q8.data() + r * dtype_row_bytes(EMBER_DTYPE_Q8_0, 96), 96);

    GgufWriter w;
    w.add_string("general.architecture", "qwen3");
    w.add_u32("qwen3.block_count", 2);
    w.add_i32("x.i32", -5);
    w.add_f32("x.f32", 1.5f);
    w.add_bool("x.bool", true);
    w.add_u64("x.u64", 1ull << 40);
    w.add_string_array("x.strings", {"a", "", "hello"});
    w.add_i32_array("x.ints", {1, -2, 3});
    w.add_tensor("vec", {96}, EMBER_DTYPE_F32, [&](uint8_t* d, size_t n) { std::memcpy(d, vals.data(), n); });
    w.add_tensor("mat", {64, 96}, EMBER_DTYPE_Q8_0, [&](uint8_t* d, size_t n) { std::memcpy(d, q8.data(), n); });
    const std::string path = temp_path("rt");
    w.write(path);

    auto g = GgufFile::open(path);
    CHECK(g->version() == 3);
    CHECK(g->get_string("general.architecture") == "qwen3");
    CHECK(g->get_int("qwen3.block_count", 0, 10) == 2);
    CHECK(g->get_int("x.i32", -10, 10) == -5);
    CHECK(g->get_float_or("x.f32", 0) == 1.5);
    CHECK(g->get_bool_or("x.bool", false));
    CHECK(g->get_int("x.u64", 0, INT64_MAX) == (int64_t(1) << 40));
    const GgufValue* s = g->find("x.strings");
    REQUIRE(s != nullptr);
    REQUIRE(s->strings.size() == 3);
    CHECK(s->strings[2] == "hello");
    CHECK(g->find("x.ints")->count == 3);
    // Wrong types and ranges are malformed, absent keys fall back.
    CHECK_THROWS_AS(g->get_int("qwen3.block_count", 3, 10), Error);
    CHECK_THROWS_AS(g->get_string("qwen3.block_count"), Error);
    CHECK_THROWS_AS(g->get_bool_or("x.i32", false), Error);
    CHECK(g->get_int_or("absent", 7, 0, 10) == 7);

    const GgufTensor* vec = g->tensor("vec");
    const GgufTensor* mat = g->tensor("mat");
    REQUIRE(vec != nullptr);
    REQUIRE(mat != nullptr);
    CHECK(vec->dtype == EMBER_DTYPE_F32);
    CHECK(std::memcmp(vec->data, vals.data(), 96 * 4) == 0);
    CHECK(mat->dtype == EMBER_DTYPE_Q8_0);
    CHECK(mat->dims[0] == 96);  // innermost first
    CHECK(mat->dims[1] == 64);
    CHECK(mat->shape() == std::vector<int64_t>{64, 96});
    CHECK(std::memcmp(mat->data, q8.data(), q8.size()) == 0);
    CHECK(reinterpret_cast<uintptr_t>(mat->data) % 32 == 0);
    std::remove(path.c_str());
}

TEST_CASE("GGUF truncated at every byte fails cleanly") {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_string_array("tokenizer.ggml.tokens", {"a", "bb", "ccc"});
    w.add_f32("llama.rope.freq_base", 10000.0f);
    std::vector<float> v(64, 1.0f);
    w.add_tensor("a", {2, 32}, EMBER_DTYPE_F32, [&](uint8_t* d, size_t n) { std::memcpy(d, v.data(), n); });
    w.add_tensor("b", {32}, EMBER_DTYPE_F16, [&](uint8_t* d, size_t n) { std::memset(d, 0, n); });
    const std::string path = temp_path("tr");
    w.write(path);
    const std::vector<uint8_t> full = read_bytes(path);
    std::remove(path.c_str());
    REQUIRE(parse_status(full) == EMBER_OK);
    // The last tensor ("b", 64 bytes) ends 64 bytes before the end of the file.
    const size_t data_end = full.size() - 64 + 64;
    for (size_t len = 0; len < data_end; ++len) {
        const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
        INFO("truncated to ", len, " of ", full.size());
        CHECK(parse_status(cut) == EMBER_ERR_MODEL_MALFORMED);
    }
}

TEST_CASE("hostile GGUF headers give typed errors") {
    std::string msg;
    CHECK(parse_status(minimal().b) == EMBER_OK);

    SUBCASE("bad magic and versions") {
        Bytes x = minimal();
        x.b[0] = 'X';
        CHECK(parse_status(x.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes v1;
        v1.header(0, 0, 1);
        CHECK(parse_status(v1.b) == EMBER_ERR_MODEL_UNSUPPORTED);
        Bytes v9;
        v9.header(0, 0, 9);
        CHECK(parse_status(v9.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes swapped;  // a big-endian file
        swapped.header(0, 0, 0x03000000u);
        CHECK(parse_status(swapped.b) == EMBER_ERR_MODEL_MALFORMED);
    }
    SUBCASE("huge counts") {
        Bytes a;
        a.header(0, ~0ull);
        CHECK(parse_status(a.b, &msg) == EMBER_ERR_MODEL_MALFORMED);
        CHECK(msg.find("metadata count") != std::string::npos);
        Bytes b;
        b.header(~0ull / 2, 0).zeros(64);
        CHECK(parse_status(b.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes c;  // array count far past the end
        c.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 61);
        CHECK(parse_status(c.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes d;  // string array count past the end
        d.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1ull << 40).str("x");
        CHECK(parse_status(d.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes e;  // count * element size overflowing 64 bits
        e.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(12).put<uint64_t>(~0ull / 4);
        CHECK(parse_status(e.b) == EMBER_ERR_MODEL_MALFORMED);
    }
    SUBCASE("string lengths past the end") {
        Bytes a;  // key length
        a.header(0, 1).put<uint64_t>(1ull << 50).zeros(8);
        CHECK(parse_status(a.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes b;  // string value length
        b.header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(~0ull).zeros(16);
        CHECK(parse_status(b.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes c;  // tensor name length
        c.header(1, 0).put<uint64_t>(1000).zeros(40);
        CHECK(parse_status(c.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes d;  // a string inside an array
        d.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(2).str("ok").put<uint64_t>(99);
        CHECK(parse_status(d.b) == EMBER_ERR_MODEL_MALFORMED);
    }
    SUBCASE("unknown value types and nesting") {
        Bytes a;
        a.header(0, 1).str("k").put<uint32_t>(13).zeros(8);
        CHECK(parse_status(a.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes b;  // array of unknown element type
        b.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(77).put<uint64_t>(1).zeros(8);
        CHECK(parse_status(b.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes c;  // arrays nested too deep
        c.header(0, 1).str("k");
        for (int i = 0; i < 10; ++i) c.put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1);
        c.zeros(64);
        CHECK(parse_status(c.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes d;  // a well-formed nested array is skipped
        d.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(2);
        d.put<uint32_t>(4).put<uint64_t>(1).put<uint32_t>(7);
        d.put<uint32_t>(8).put<uint64_t>(1).str("s");
        CHECK(parse_status(d.b) == EMBER_OK);
        Bytes e;  // duplicate key
        e.header(0, 2).kv_u32("k", 1).kv_u32("k", 2);
        CHECK(parse_status(e.b) == EMBER_ERR_MODEL_MALFORMED);
    }
    SUBCASE("alignment") {
        for (uint32_t align : {0u, 3u, 48u, 1u << 30}) {
            Bytes a;
            a.header(0, 1).kv_u32("general.alignment", align);
            INFO("alignment ", align);
            CHECK(parse_status(a.b) == EMBER_ERR_MODEL_MALFORMED);
        }
        Bytes s;  // alignment as a string
        s.header(0, 1).str("general.alignment").put<uint32_t>(8).str("32");
        CHECK(parse_status(s.b) == EMBER_ERR_MODEL_MALFORMED);
    }
    SUBCASE("tensor infos") {
        Bytes a;  // n_dims 5
        a.header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).pad().zeros(32);
        CHECK(parse_status(a.b, &msg) == EMBER_ERR_MODEL_MALFORMED);
        CHECK(msg.find("dimensions") != std::string::npos);
        Bytes z;  // n_dims 0
        z.header(1, 0).tensor("t", {}, 0, 0).pad().zeros(32);
        CHECK(parse_status(z.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes b;  // dims product overflow
        b.header(1, 0).tensor("t", {1ull << 32, 1ull << 32, 1ull << 32}, 0, 0).pad().zeros(32);
        CHECK(parse_status(b.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes b2;  // a dimension above INT64_MAX
        b2.header(1, 0).tensor("t", {~0ull}, 0, 0).pad().zeros(32);
        CHECK(parse_status(b2.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes c;  // unknown tensor type
        c.header(1, 0).tensor("t", {8}, 99, 0).pad().zeros(32);
        CHECK(parse_status(c.b) == EMBER_ERR_MODEL_UNSUPPORTED);
        Bytes d;  // offset past the end
        d.header(1, 0).tensor("t", {8}, 0, 1ull << 40).pad().zeros(32);
        CHECK(parse_status(d.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes d2;  // offset near 2^64 (offset + size wraps)
        d2.header(1, 0).tensor("t", {8}, 0, ~0ull - 31).pad().zeros(32);
        CHECK(parse_status(d2.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes e;  // data running past the end
        e.header(1, 0).tensor("t", {16}, 0, 0).pad().zeros(32);
        CHECK(parse_status(e.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes f;  // unaligned offset
        f.header(1, 0).tensor("t", {4}, 0, 16).pad().zeros(64);
        CHECK(parse_status(f.b, &msg) == EMBER_ERR_MODEL_MALFORMED);
        CHECK(msg.find("alignment") != std::string::npos);
        Bytes g;  // partial quantized block
        g.header(1, 0).tensor("t", {40}, 8, 0).pad().zeros(128);
        CHECK(parse_status(g.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes h;  // duplicate tensor name
        h.header(2, 0).tensor("t", {8}, 0, 0).tensor("t", {8}, 0, 32).pad().zeros(64);
        CHECK(parse_status(h.b) == EMBER_ERR_MODEL_MALFORMED);
        Bytes k;  // a type ggml knows but Ember does not compute with parses (used -> unsupported later)
        k.header(1, 0).tensor("t", {32}, 6, 0).pad().zeros(32);
        CHECK(parse_status(k.b) == EMBER_OK);
    }
}

TEST_CASE("convert writes the folder's BPE tokenizer as tokenizer.ggml.*") {
    const std::string dir = "/tmp/ember-test-" + std::to_string(::getpid()) + "-tok";
    const std::string golden = ember::test::golden_dir("qwen3-tiny");
    ::mkdir(dir.c_str(), 0755);
    write_bytes(dir + "/config.json", read_bytes(golden + "/config.json"));
    write_bytes(dir + "/model.safetensors", read_bytes(golden + "/model.safetensors"));
    const std::string tok = R"({
      "version": "1.0",
      "added_tokens": [{"id": 511, "content": "<|endoftext|>", "special": true},
                       {"id": 300, "content": "<tool>", "special": false}],
      "post_processor": {"type": "TemplateProcessing",
                         "single": [{"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}]},
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3},
                "merges": ["a b", ["ab", "b"]]}
    })";
    write_bytes(dir + "/tokenizer.json", std::vector<uint8_t>(tok.begin(), tok.end()));
    const std::string out = dir + "/model.gguf";
    convert_hf_to_gguf(dir, out, EMBER_DTYPE_F16);
    auto g = GgufFile::open(out);
    const GgufValue* tokens = g->find("tokenizer.ggml.tokens");
    REQUIRE(tokens != nullptr);
    REQUIRE(tokens->strings.size() == 512);  // padded to the embedding rows
    CHECK(tokens->strings[2] == "ab");
    CHECK(tokens->strings[3] == "\xc4\xa0");
    CHECK(tokens->strings[511] == "<|endoftext|>");
    CHECK(tokens->strings[300] == "<tool>");
    CHECK(tokens->strings[100] == "[PAD100]");
    const GgufValue* types = g->find("tokenizer.ggml.token_type");
    REQUIRE(types != nullptr);
    REQUIRE(types->count == 512);
    auto type_of = [&](int i) {
        int32_t t;
        std::memcpy(&t, types->raw + 4 * i, 4);
        return t;
    };
    CHECK(type_of(0) == 1);    // normal
    CHECK(type_of(511) == 3);  // control
    CHECK(type_of(300) == 4);  // user-defined
    CHECK(type_of(100) == 5);  // unused
    const GgufValue* merges = g->find("tokenizer.ggml.merges");
    REQUIRE(merges != nullptr);
    REQUIRE(merges->strings.size() == 2);
    CHECK(merges->strings[1] == "ab b");
    CHECK(g->get_string("tokenizer.ggml.model") == "gpt2");
    CHECK(g->get_string("tokenizer.ggml.pre") == "qwen2");
    CHECK(g->get_int("tokenizer.ggml.eos_token_id", 0, 1000) == 511);
    CHECK(g->get_bool_or("tokenizer.ggml.add_eos_token", false));
    CHECK_FALSE(g->get_bool_or("tokenizer.ggml.add_bos_token", true));
    CHECK(g->tensor("blk.0.attn_q.weight")->dtype == EMBER_DTYPE_F16);
    for (const char* f : {"/config.json", "/model.safetensors", "/tokenizer.json", "/model.gguf"})
        std::remove((dir + f).c_str());
    ::rmdir(dir.c_str());
}
