#include "io/gguf.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/dtype.h"
#include "core/error.h"
#include "ember/kernels.h"

namespace ember {

namespace {

constexpr int kMaxArrayDepth = 4;
constexpr uint32_t kMaxAlignment = 1u << 16;

// Bounds-checked little-endian reads over [pos, end) of the mapping.
class Cursor {
  public:
    Cursor(const MappedFile& f) : file_(f), p_(f.data()), end_(f.data() + f.size()) {}

    uint64_t pos() const { return static_cast<uint64_t>(p_ - file_.data()); }
    uint64_t remaining() const { return static_cast<uint64_t>(end_ - p_); }

    void need(uint64_t n, const char* what) const {
        if (n > remaining())
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: truncated GGUF file: %s needs %llu bytes at offset %llu, "
                       "only %llu remain", file_.path().c_str(), what, (unsigned long long)n,
                       (unsigned long long)pos(), (unsigned long long)remaining());
    }
    const uint8_t* take(uint64_t n, const char* what) {
        need(n, what);
        const uint8_t* r = p_;
        p_ += n;
        return r;
    }
    template <class T>
    T read(const char* what) {
        T v;
        std::memcpy(&v, take(sizeof(T), what), sizeof(T));
        return v;
    }
    std::string_view string(const char* what) {
        const uint64_t len = read<uint64_t>(what);
        const uint8_t* s = take(len, what);
        return std::string_view(reinterpret_cast<const char*>(s), static_cast<size_t>(len));
    }

  private:
    const MappedFile& file_;
    const uint8_t* p_;
    const uint8_t* end_;
};

int64_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        default: return 0;  // string, array
    }
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

void read_scalar(GgufValue& v, const uint8_t* p) {
    auto set_i = [&](int64_t x) {
        v.i = x;
        v.int_fits_i64 = true;
        if (x >= 0) {
            v.u = static_cast<uint64_t>(x);
            v.int_fits_u64 = true;
        }
    };
    auto set_u = [&](uint64_t x) {
        v.u = x;
        v.int_fits_u64 = true;
        if (x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            v.i = static_cast<int64_t>(x);
            v.int_fits_i64 = true;
        }
    };
    switch (v.type) {
        case GgufType::U8: set_u(p[0]); break;
        case GgufType::I8: set_i(static_cast<int8_t>(p[0])); break;
        case GgufType::U16: { uint16_t x; std::memcpy(&x, p, 2); set_u(x); break; }
        case GgufType::I16: { int16_t x; std::memcpy(&x, p, 2); set_i(x); break; }
        case GgufType::U32: { uint32_t x; std::memcpy(&x, p, 4); set_u(x); break; }
        case GgufType::I32: { int32_t x; std::memcpy(&x, p, 4); set_i(x); break; }
        case GgufType::U64: { uint64_t x; std::memcpy(&x, p, 8); set_u(x); break; }
        case GgufType::I64: { int64_t x; std::memcpy(&x, p, 8); set_i(x); break; }
        case GgufType::F32: { float x; std::memcpy(&x, p, 4); v.f = x; break; }
        case GgufType::F64: { double x; std::memcpy(&x, p, 8); v.f = x; break; }
        case GgufType::Bool: v.b = p[0] != 0; break;
        default: break;
    }
}

// Skips (validating) an array of `count` elements of type `t`, for nested arrays.
void skip_array(Cursor& c, GgufType t, uint64_t count, int depth, const std::string& key, const std::string& path) {
    if (t == GgufType::String) {
        if (count > c.remaining() / 8)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\": %llu strings cannot fit in the file",
                       path.c_str(), key.c_str(), (unsigned long long)count);
        for (uint64_t i = 0; i < count; ++i) c.string("array string");
    } else if (t == GgufType::Array) {
        if (depth >= kMaxArrayDepth)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\": arrays nested deeper than %d", path.c_str(),
                       key.c_str(), kMaxArrayDepth);
        if (count > c.remaining() / 12)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\": %llu nested arrays cannot fit in the file",
                       path.c_str(), key.c_str(), (unsigned long long)count);
        for (uint64_t i = 0; i < count; ++i) {
            const uint32_t et = c.read<uint32_t>("nested array type");
            if (!valid_type(et))
                EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\": unknown value type %u", path.c_str(),
                           key.c_str(), et);
            const uint64_t n = c.read<uint64_t>("nested array count");
            skip_array(c, static_cast<GgufType>(et), n, depth + 1, key, path);
        }
    } else {
        const int64_t es = scalar_size(t);
        if (count > c.remaining() / static_cast<uint64_t>(es))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\": %llu elements of %s run past the end of the file",
                       path.c_str(), key.c_str(), (unsigned long long)count, gguf_type_name(t));
        c.take(count * static_cast<uint64_t>(es), "array");
    }
}

}  // namespace

const char* gguf_type_name(GgufType t) {
    static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array",
                                  "u64", "i64", "f64"};
    const uint32_t i = static_cast<uint32_t>(t);
    return i < 13 ? names[i] : "?";
}

bool GgufValue::is_int() const {
    switch (type) {
        case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
        case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
        default: return false;
    }
}

bool ggml_type_size(uint32_t t, int64_t* be, int64_t* bb, const char** name) {
    struct T { uint32_t id; int64_t elems, bytes; const char* name; };
    // ggml.c type_traits (blck_size, type_size). Types Ember computes with are also in core/dtype.
    static const T table[] = {
        {0, 1, 4, "F32"},       {1, 1, 2, "F16"},         {2, 32, 18, "Q4_0"},      {3, 32, 20, "Q4_1"},
        {6, 32, 22, "Q5_0"},    {7, 32, 24, "Q5_1"},      {8, 32, 34, "Q8_0"},      {9, 32, 36, "Q8_1"},
        {10, 256, 84, "Q2_K"},  {11, 256, 110, "Q3_K"},   {12, 256, 144, "Q4_K"},   {13, 256, 176, "Q5_K"},
        {14, 256, 210, "Q6_K"}, {15, 256, 292, "Q8_K"},   {16, 256, 66, "IQ2_XXS"}, {17, 256, 74, "IQ2_XS"},
        {18, 256, 98, "IQ3_XXS"}, {19, 256, 50, "IQ1_S"}, {20, 32, 18, "IQ4_NL"},   {21, 256, 110, "IQ3_S"},
        {22, 256, 82, "IQ2_S"}, {23, 256, 136, "IQ4_XS"}, {24, 1, 1, "I8"},         {25, 1, 2, "I16"},
        {26, 1, 4, "I32"},      {27, 1, 8, "I64"},        {28, 1, 8, "F64"},        {29, 256, 56, "IQ1_M"},
        {30, 1, 2, "BF16"},     {34, 256, 54, "TQ1_0"},   {35, 256, 66, "TQ2_0"},   {39, 32, 17, "MXFP4"},
    };
    for (const T& e : table)
        if (e.id == t) {
            *be = e.elems;
            *bb = e.bytes;
            if (name) *name = e.name;
            return true;
        }
    return false;
}

std::vector<int64_t> GgufTensor::shape() const {
    std::vector<int64_t> s;
    for (int d = n_dims - 1; d >= 0; --d) s.push_back(dims[d]);
    return s;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) { return parse(MappedFile::open(path)); }

std::unique_ptr<GgufFile> GgufFile::parse(std::shared_ptr<MappedFile> file) {
    auto g = std::unique_ptr<GgufFile>(new GgufFile());
    g->file_ = std::move(file);
    const MappedFile& f = *g->file_;
    const std::string& path = f.path();
    Cursor c(f);

    // Header.
    const uint8_t* magic = c.take(4, "magic");
    if (std::memcmp(magic, "GGUF", 4) != 0)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s is not a GGUF file (bad magic)", path.c_str());
    g->version_ = c.read<uint32_t>("version");
    if (g->version_ != 2 && g->version_ != 3)
        EMBER_FAIL(g->version_ == 1 ? EMBER_ERR_MODEL_UNSUPPORTED : EMBER_ERR_MODEL_MALFORMED,
                   "%s: GGUF version %u is not supported (2 and 3 are; a big-endian file shows a byte-swapped version)",
                   path.c_str(), g->version_);
    const uint64_t n_tensors = c.read<uint64_t>("tensor count");
    const uint64_t n_kv = c.read<uint64_t>("metadata count");
    // A key-value pair needs at least 8 (key length) + 4 (type) + 1 bytes, a tensor info at least
    // 8 + 4 + 8 + 4 + 8.
    if (n_kv > c.remaining() / 13)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata count %llu cannot fit in the file", path.c_str(),
                   (unsigned long long)n_kv);
    if (n_tensors > c.remaining() / 32)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor count %llu cannot fit in the file", path.c_str(),
                   (unsigned long long)n_tensors);

    // Metadata.
    for (uint64_t i = 0; i < n_kv; ++i) {
        const std::string key(c.string("metadata key"));
        const uint32_t type = c.read<uint32_t>("metadata value type");
        if (!valid_type(type))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\" has unknown value type %u", path.c_str(),
                       key.c_str(), type);
        GgufValue v;
        v.type = static_cast<GgufType>(type);
        if (v.type == GgufType::String) {
            v.str = c.string("metadata string");
        } else if (v.type == GgufType::Array) {
            const uint32_t et = c.read<uint32_t>("array element type");
            if (!valid_type(et))
                EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\": unknown array element type %u",
                           path.c_str(), key.c_str(), et);
            v.elem_type = static_cast<GgufType>(et);
            v.count = c.read<uint64_t>("array count");
            if (v.elem_type == GgufType::String) {
                if (v.count > c.remaining() / 8)
                    EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\": %llu strings cannot fit in the file",
                               path.c_str(), key.c_str(), (unsigned long long)v.count);
                v.strings.reserve(static_cast<size_t>(v.count));
                for (uint64_t k = 0; k < v.count; ++k) v.strings.push_back(c.string("array string"));
            } else if (v.elem_type == GgufType::Array) {
                skip_array(c, v.elem_type, v.count, 1, key, path);
            } else {
                const uint64_t es = static_cast<uint64_t>(scalar_size(v.elem_type));
                if (v.count > c.remaining() / es)
                    EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED,
                               "%s: metadata \"%s\": %llu elements of %s run past the end of the file", path.c_str(),
                               key.c_str(), (unsigned long long)v.count, gguf_type_name(v.elem_type));
                v.raw = c.take(v.count * es, "array");
            }
        } else {
            read_scalar(v, c.take(static_cast<uint64_t>(scalar_size(v.type)), "metadata value"));
        }
        if (!g->kv_.emplace(key, std::move(v)).second)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata key \"%s\" appears twice", path.c_str(), key.c_str());
    }
    if (const GgufValue* a = g->find("general.alignment")) {
        if (!a->is_int() || !a->int_fits_u64 || a->u == 0 || a->u > kMaxAlignment || (a->u & (a->u - 1)) != 0)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: general.alignment must be a power of two up to %u",
                       path.c_str(), kMaxAlignment);
        g->alignment_ = static_cast<uint32_t>(a->u);
    }

    // Tensor infos.
    g->tensors_.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensor t;
        t.name = std::string(c.string("tensor name"));
        const uint32_t n_dims = c.read<uint32_t>("tensor n_dims");
        if (n_dims < 1 || n_dims > 4)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor \"%s\" has %u dimensions (1 to 4 allowed)", path.c_str(),
                       t.name.c_str(), n_dims);
        t.n_dims = static_cast<int>(n_dims);
        uint64_t numel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t dim = c.read<uint64_t>("tensor dimension");
            if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) || (dim != 0 && numel > (uint64_t(1) << 62) / dim))
                EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor \"%s\": dimensions overflow", path.c_str(),
                           t.name.c_str());
            t.dims[d] = static_cast<int64_t>(dim);
            numel *= dim;
        }
        t.ggml_type = c.read<uint32_t>("tensor type");
        t.offset = c.read<uint64_t>("tensor offset");
        int64_t be, bb;
        const char* tname = nullptr;
        if (!ggml_type_size(t.ggml_type, &be, &bb, &tname))
            EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s: tensor \"%s\" has unknown ggml type id %u", path.c_str(),
                       t.name.c_str(), t.ggml_type);
        t.type_name = tname;
        t.dtype = dtype_info(static_cast<int32_t>(t.ggml_type)) != nullptr ? static_cast<int32_t>(t.ggml_type) : -1;
        if (t.dims[0] % be != 0)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor \"%s\": first dimension %lld is not a whole number of "
                       "%s blocks of %lld", path.c_str(), t.name.c_str(), (long long)t.dims[0], tname, (long long)be);
        t.bytes = numel / static_cast<uint64_t>(be) * static_cast<uint64_t>(bb);  // numel < 2^62, bb <= 292: no overflow
        if (t.bytes / static_cast<uint64_t>(bb) != numel / static_cast<uint64_t>(be))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor \"%s\": size overflows", path.c_str(), t.name.c_str());
        if (t.offset % g->alignment_ != 0)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor \"%s\": offset %llu is not a multiple of the alignment %u",
                       path.c_str(), t.name.c_str(), (unsigned long long)t.offset, g->alignment_);
        if (!g->by_name_.emplace(t.name, g->tensors_.size()).second)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor \"%s\" appears twice", path.c_str(), t.name.c_str());
        g->tensors_.push_back(std::move(t));
    }

    // Data section: at the next multiple of the alignment; every tensor inside the file.
    const uint64_t info_end = c.pos();
    const uint64_t data_start = (info_end + g->alignment_ - 1) / g->alignment_ * g->alignment_;
    if (data_start > f.size() && !g->tensors_.empty())
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: truncated GGUF file: the data section starts past the end",
                   path.c_str());
    for (GgufTensor& t : g->tensors_) {
        if (data_start > f.size() || t.offset > f.size() - data_start || !f.contains(data_start + t.offset, t.bytes))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED,
                       "%s: tensor \"%s\": data [%llu, +%llu) lies outside the file (data section at %llu, file %zu bytes)",
                       path.c_str(), t.name.c_str(), (unsigned long long)t.offset, (unsigned long long)t.bytes,
                       (unsigned long long)data_start, f.size());
        t.data = f.data() + data_start + t.offset;
    }
    return g;
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? nullptr : &it->second;
}

int64_t GgufFile::get_int(const std::string& key, int64_t lo, int64_t hi) const {
    const GgufValue* v = find(key);
    if (v == nullptr) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\" is missing", path().c_str(), key.c_str());
    return get_int_or(key, 0, lo, hi);
}

int64_t GgufFile::get_int_or(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_int() || !v->int_fits_i64 || v->i < lo || v->i > hi)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\" must be an integer in [%lld, %lld] (got %s)",
                   path().c_str(), key.c_str(), (long long)lo, (long long)hi,
                   v->is_int() ? std::to_string(v->int_fits_i64 ? v->i : -1).c_str() : gguf_type_name(v->type));
    return v->i;
}

double GgufFile::get_float_or(const std::string& key, double fallback) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return fallback;
    if (v->is_float()) return v->f;
    if (v->is_int()) return v->int_fits_i64 ? static_cast<double>(v->i) : static_cast<double>(v->u);
    EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\" must be a number (is %s)", path().c_str(), key.c_str(),
               gguf_type_name(v->type));
}

bool GgufFile::get_bool_or(const std::string& key, bool fallback) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return fallback;
    if (v->type == GgufType::Bool) return v->b;
    EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\" must be a bool (is %s)", path().c_str(), key.c_str(),
               gguf_type_name(v->type));
}

std::string GgufFile::get_string(const std::string& key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\" is missing", path().c_str(), key.c_str());
    return get_string_or(key, "");
}

std::string GgufFile::get_string_or(const std::string& key, const std::string& fallback) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return fallback;
    if (v->type != GgufType::String)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: metadata \"%s\" must be a string (is %s)", path().c_str(),
                   key.c_str(), gguf_type_name(v->type));
    return std::string(v->str);
}

const GgufTensor* GgufFile::tensor(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------- writer

namespace {

template <class T>
void put(std::vector<uint8_t>& out, T v) {
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
}

}  // namespace

void GgufWriter::add_u32(const std::string& key, uint32_t v) {
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::U32));
    put<uint32_t>(kv_bytes_, v);
    ++kv_count_;
}
void GgufWriter::add_i32(const std::string& key, int32_t v) {
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::I32));
    put<int32_t>(kv_bytes_, v);
    ++kv_count_;
}
void GgufWriter::add_u64(const std::string& key, uint64_t v) {
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::U64));
    put<uint64_t>(kv_bytes_, v);
    ++kv_count_;
}
void GgufWriter::add_f32(const std::string& key, float v) {
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::F32));
    put<float>(kv_bytes_, v);
    ++kv_count_;
}
void GgufWriter::add_bool(const std::string& key, bool v) {
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::Bool));
    put<uint8_t>(kv_bytes_, v ? 1 : 0);
    ++kv_count_;
}
void GgufWriter::add_string(const std::string& key, const std::string& v) {
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::String));
    put_string(kv_bytes_, v);
    ++kv_count_;
}
void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& v) {
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::Array));
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::String));
    put<uint64_t>(kv_bytes_, v.size());
    for (const auto& s : v) put_string(kv_bytes_, s);
    ++kv_count_;
}
void GgufWriter::add_i32_array(const std::string& key, const std::vector<int32_t>& v) {
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::Array));
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::I32));
    put<uint64_t>(kv_bytes_, v.size());
    for (int32_t x : v) put<int32_t>(kv_bytes_, x);
    ++kv_count_;
}
void GgufWriter::add_f32_array(const std::string& key, const std::vector<float>& v) {
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::Array));
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::F32));
    put<uint64_t>(kv_bytes_, v.size());
    for (float x : v) put<float>(kv_bytes_, x);
    ++kv_count_;
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& shape, int32_t dtype,
                            Producer produce) {
    EMBER_CHECK_ARG(!shape.empty() && shape.size() <= 4, "GGUF tensor %s: 1 to 4 dimensions", name.c_str());
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
    const int64_t row_bytes = dtype_row_bytes(dtype, shape.back());
    EMBER_CHECK_ARG(row_bytes >= 0, "GGUF tensor %s: %lld columns are not whole blocks of dtype %d", name.c_str(),
                    (long long)shape.back(), dtype);
    tensors_.push_back(Tensor{name, shape, dtype, static_cast<uint64_t>(rows * row_bytes), std::move(produce)});
}

void GgufWriter::write(const std::string& path) const {
    std::vector<uint8_t> head;
    head.insert(head.end(), {'G', 'G', 'U', 'F'});
    put<uint32_t>(head, 3);
    put<uint64_t>(head, tensors_.size());
    put<uint64_t>(head, kv_count_ + (alignment_ != 32 ? 1 : 0));
    head.insert(head.end(), kv_bytes_.begin(), kv_bytes_.end());
    if (alignment_ != 32) {
        put_string(head, "general.alignment");
        put<uint32_t>(head, static_cast<uint32_t>(GgufType::U32));
        put<uint32_t>(head, alignment_);
    }
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const Tensor& t : tensors_) {
        put_string(head, t.name);
        put<uint32_t>(head, static_cast<uint32_t>(t.shape.size()));
        for (size_t d = t.shape.size(); d-- > 0;) put<uint64_t>(head, static_cast<uint64_t>(t.shape[d]));
        put<uint32_t>(head, static_cast<uint32_t>(t.dtype));
        put<uint64_t>(head, offset);
        offsets.push_back(offset);
        offset += (t.bytes + alignment_ - 1) / alignment_ * alignment_;
    }
    head.resize((head.size() + alignment_ - 1) / alignment_ * alignment_, 0);

    const std::string tmp = path + ".part";
    FILE* out = std::fopen(tmp.c_str(), "wb");
    if (out == nullptr) EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "cannot create %s", tmp.c_str());
    bool ok = std::fwrite(head.data(), 1, head.size(), out) == head.size();
    std::vector<uint8_t> buf;
    try {
        for (size_t i = 0; ok && i < tensors_.size(); ++i) {
            const Tensor& t = tensors_[i];
            const uint64_t padded = (t.bytes + alignment_ - 1) / alignment_ * alignment_;
            buf.assign(static_cast<size_t>(padded), 0);
            t.produce(buf.data(), static_cast<size_t>(t.bytes));
            ok = std::fwrite(buf.data(), 1, buf.size(), out) == buf.size();
        }
    } catch (...) {
        std::fclose(out);
        std::remove(tmp.c_str());
        throw;
    }
    ok = (std::fclose(out) == 0) && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "cannot write %s", path.c_str());
    }
}

}  // namespace ember
