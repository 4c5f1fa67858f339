// JSON reading for model files, on nlohmann::json. Every value read from a file is untrusted:
// the getters check types and ranges and fail with EMBER_ERR_MODEL_MALFORMED naming the file
// and key, so callers never touch a value of the wrong kind.
#pragma once

#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"

namespace ember {

using Json = nlohmann::json;

// Parses `text`; `what` names the source in errors ("config.json").
Json parse_json(const std::string& text, const std::string& what);
// Reads and parses a file.
Json read_json_file(const std::string& path);

// Key lookup on an object; nullptr when `obj` is not an object, the key is absent or null.
const Json* json_find(const Json& obj, const char* key);

// Typed getters. The *_or forms return `fallback` when the key is absent or null; all fail when
// present with the wrong type or outside [lo, hi].
int64_t json_int(const Json& obj, const char* key, const std::string& what,
                 int64_t lo = INT64_MIN, int64_t hi = INT64_MAX);
int64_t json_int_or(const Json& obj, const char* key, int64_t fallback, const std::string& what,
                    int64_t lo = INT64_MIN, int64_t hi = INT64_MAX);
double json_number(const Json& obj, const char* key, const std::string& what);
double json_number_or(const Json& obj, const char* key, double fallback, const std::string& what);
bool json_bool_or(const Json& obj, const char* key, bool fallback, const std::string& what);
std::string json_string(const Json& obj, const char* key, const std::string& what);
std::string json_string_or(const Json& obj, const char* key, const std::string& fallback,
                           const std::string& what);

}  // namespace ember
