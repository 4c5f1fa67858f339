#include "io/json.h"

#include <cmath>

#include "core/error.h"
#include "io/mapped_file.h"

namespace ember {

Json parse_json(const std::string& text, const std::string& what) {
    Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s is not valid JSON", what.c_str());
    return j;
}

Json read_json_file(const std::string& path) { return parse_json(read_text_file(path), path); }

const Json* json_find(const Json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

namespace {

int64_t as_int(const Json& v, const char* key, const std::string& what, int64_t lo, int64_t hi) {
    int64_t x;
    if (v.is_number_integer()) {
        if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"%s\" is out of range", what.c_str(), key);
        x = v.get<int64_t>();
    } else if (v.is_number_float()) {
        // Some writers store integral values as floats (e.g. 4096.0).
        double d = v.get<double>();
        if (!(d == std::floor(d)) || !(std::fabs(d) < 9.0e15))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"%s\" must be an integer", what.c_str(), key);
        x = static_cast<int64_t>(d);
    } else {
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"%s\" must be an integer", what.c_str(), key);
    }
    if (x < lo || x > hi)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"%s\" = %lld is outside [%lld, %lld]", what.c_str(), key,
                   (long long)x, (long long)lo, (long long)hi);
    return x;
}

}  // namespace

int64_t json_int(const Json& obj, const char* key, const std::string& what, int64_t lo, int64_t hi) {
    const Json* v = json_find(obj, key);
    if (v == nullptr) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: missing \"%s\"", what.c_str(), key);
    return as_int(*v, key, what, lo, hi);
}

int64_t json_int_or(const Json& obj, const char* key, int64_t fallback, const std::string& what,
                    int64_t lo, int64_t hi) {
    const Json* v = json_find(obj, key);
    return v == nullptr ? fallback : as_int(*v, key, what, lo, hi);
}

double json_number(const Json& obj, const char* key, const std::string& what) {
    const Json* v = json_find(obj, key);
    if (v == nullptr) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: missing \"%s\"", what.c_str(), key);
    if (!v->is_number()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"%s\" must be a number", what.c_str(), key);
    double d = v->get<double>();
    if (!std::isfinite(d)) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"%s\" is not finite", what.c_str(), key);
    return d;
}

double json_number_or(const Json& obj, const char* key, double fallback, const std::string& what) {
    return json_find(obj, key) == nullptr ? fallback : json_number(obj, key, what);
}

bool json_bool_or(const Json& obj, const char* key, bool fallback, const std::string& what) {
    const Json* v = json_find(obj, key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"%s\" must be true or false", what.c_str(), key);
    return v->get<bool>();
}

std::string json_string(const Json& obj, const char* key, const std::string& what) {
    const Json* v = json_find(obj, key);
    if (v == nullptr) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: missing \"%s\"", what.c_str(), key);
    if (!v->is_string()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"%s\" must be a string", what.c_str(), key);
    return v->get<std::string>();
}

std::string json_string_or(const Json& obj, const char* key, const std::string& fallback,
                           const std::string& what) {
    return json_find(obj, key) == nullptr ? fallback : json_string(obj, key, what);
}

}  // namespace ember
