// The tokenizer a GGUF file carries (tokenizer.ggml.*), read without loading weights and handed
// to the caller as JSON (ember_gguf_tokenizer_json). The Java side turns it into a Hugging Face
// tokenizer.json; this file only reads and validates what the file says.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "ember/tools.h"
#include "io/gguf.h"
#include "tools/gguf_tokenizer.h"

namespace ember {

namespace {

// Element i of an integer array, as int64 (GGUF writers use i32 for token_type, but any integer
// element type is accepted). `raw` holds count * size bytes, checked by the reader.
bool int_element(const GgufValue& v, uint64_t i, int64_t* out) {
    const uint8_t* p = v.raw;
    switch (v.elem_type) {
        case GgufType::I8: { int8_t x; std::memcpy(&x, p + i, 1); *out = x; return true; }
        case GgufType::U8: { uint8_t x; std::memcpy(&x, p + i, 1); *out = x; return true; }
        case GgufType::I16: { int16_t x; std::memcpy(&x, p + 2 * i, 2); *out = x; return true; }
        case GgufType::U16: { uint16_t x; std::memcpy(&x, p + 2 * i, 2); *out = x; return true; }
        case GgufType::I32: { int32_t x; std::memcpy(&x, p + 4 * i, 4); *out = x; return true; }
        case GgufType::U32: { uint32_t x; std::memcpy(&x, p + 4 * i, 4); *out = x; return true; }
        case GgufType::I64: { int64_t x; std::memcpy(&x, p + 8 * i, 8); *out = x; return true; }
        case GgufType::U64: {
            uint64_t x;
            std::memcpy(&x, p + 8 * i, 8);
            *out = x > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(x);
            return true;
        }
        default: return false;
    }
}

const GgufValue* string_array(const GgufFile& f, const std::string& key, bool required) {
    const GgufValue* v = f.find(key);
    if (v == nullptr) {
        if (required) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\" is missing", f.path().c_str(), key.c_str());
        return nullptr;
    }
    if (v->type != GgufType::Array || v->elem_type != GgufType::String)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\" must be an array of strings", f.path().c_str(),
                   key.c_str());
    return v;
}


// Appends `s` as a JSON string: quotes, backslashes and control characters escaped, and every
// byte sequence that is not well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points
// past U+10FFFF) replaced by U+FFFD, one per maximal bad prefix, so the output is always valid.
void append_json_string(std::string& out, std::string_view s) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c < 0x20) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else {
                out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        // Length and the allowed range of the second byte (Unicode table 3-7).
        size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c == 0xE0) { len = 3; lo = 0xA0; }
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
        else if (c == 0xED) { len = 3; hi = 0x9F; }
        else if (c == 0xF0) { len = 4; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) len = 4;
        else if (c == 0xF4) { len = 4; hi = 0x8F; }
        size_t ok = len == 0 ? 0 : 1;
        for (size_t k = 1; k < len && i + k < n; ++k) {
            const unsigned char b = p[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
            ++ok;
        }
        if (len != 0 && ok == len) {
            out.append(s.data() + i, len);
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            i += ok == 0 ? 1 : ok;
        }
    }
    out += '"';
}

void append_string_array(std::string& out, const std::vector<std::string_view>& items) {
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, items[i]);
    }
    out += ']';
}

}  // namespace

std::string gguf_tokenizer_json(const GgufFile& f) {
    const GgufValue* model = f.find("tokenizer.ggml.model");
    if (model == nullptr)
        EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "%s has no tokenizer (no tokenizer.ggml.model)", f.path().c_str());
    const std::string model_name = f.get_string("tokenizer.ggml.model");
    const GgufValue* tokens = string_array(f, "tokenizer.ggml.tokens", true);
    const uint64_t n = tokens->count;
    if (n == 0 || n > (1u << 24))
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tokenizer.ggml.tokens has %llu entries (1 to 2^24 allowed)",
                   f.path().c_str(), (unsigned long long)n);
    const GgufValue* merges = string_array(f, "tokenizer.ggml.merges", false);

    // Written by hand rather than through a JSON tree: 300,000 strings for a Qwen3 vocabulary.
    std::string out;
    size_t reserve = 256 + 4 * n;
    for (const std::string_view& s : tokens->strings) reserve += s.size() + 3;
    if (merges != nullptr)
        for (const std::string_view& s : merges->strings) reserve += s.size() + 3;
    out.reserve(reserve);
    out += "{\"model\":";
    append_json_string(out, model_name);
    out += ",\"pre\":";
    append_json_string(out, f.get_string_or("tokenizer.ggml.pre", ""));
    out += ",\"tokens\":";
    append_string_array(out, tokens->strings);

    out += ",\"token_type\":[";
    if (const GgufValue* tt = f.find("tokenizer.ggml.token_type"); tt != nullptr) {
        if (tt->type != GgufType::Array || tt->count != n)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tokenizer.ggml.token_type must be an array of %llu integers",
                       f.path().c_str(), (unsigned long long)n);
        for (uint64_t i = 0; i < n; ++i) {
            int64_t t = 0;
            if (!int_element(*tt, i, &t))
                EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tokenizer.ggml.token_type must hold integers (holds %s)",
                           f.path().c_str(), gguf_type_name(tt->elem_type));
            if (t < 0 || t > 6)
                EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tokenizer.ggml.token_type[%llu] = %lld is not a token type "
                           "(0 to 6)", f.path().c_str(), (unsigned long long)i, (long long)t);
            if (i) out += ',';
            out += static_cast<char>('0' + t);
        }
    }
    out += "],\"merges\":";
    if (merges != nullptr) append_string_array(out, merges->strings);
    else out += "[]";

    const int64_t last = static_cast<int64_t>(n) - 1;
    for (const char* key : {"bos_token_id", "eos_token_id", "padding_token_id", "unknown_token_id",
                            "seperator_token_id", "eot_token_id"}) {
        const std::string k = std::string("tokenizer.ggml.") + key;
        if (f.find(k) == nullptr) continue;
        // llama.cpp writes u32; an id past the vocabulary is malformed.
        out += ",\"" + std::string(key) + "\":" + std::to_string(f.get_int(k, 0, last));
    }
    for (const char* key : {"add_bos_token", "add_eos_token"}) {
        const std::string k = std::string("tokenizer.ggml.") + key;
        if (f.find(k) != nullptr) out += ",\"" + std::string(key) + "\":" + (f.get_bool_or(k, false) ? "true" : "false");
    }
    out += '}';
    return out;
}

}  // namespace ember

extern "C" {

EMBER_API ember_status ember_gguf_tokenizer_json(const char* path, char* buf, size_t buf_len, size_t* needed) {
    return ember::guarded([&] {
        EMBER_CHECK_ARG(path != nullptr, "path is null");
        EMBER_CHECK_ARG(buf != nullptr || buf_len == 0, "buf is null but buf_len is %zu", buf_len);
        const auto file = ember::GgufFile::open(path);
        const std::string json = ember::gguf_tokenizer_json(*file);
        if (needed != nullptr) *needed = json.size() + 1;
        if (buf_len > 0) {
            const size_t n = std::min(buf_len - 1, json.size());
            std::memcpy(buf, json.data(), n);
            buf[n] = '\0';
        }
    });
}

}  // extern "C"
