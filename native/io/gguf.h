// GGUF (llama.cpp's model file format, versions 2 and 3, little-endian): a memory-mapped reader
// with zero-copy tensors, and a streaming writer.
//
// The reader treats the file as hostile: every length, count, dimension, type id and offset is
// checked against the bytes actually present before it is used, and any inconsistency fails with
// EMBER_ERR_MODEL_MALFORMED naming the file and the field (EMBER_ERR_MODEL_UNSUPPORTED for a
// well-formed file that uses something Ember does not know, such as a newer tensor type id).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/mapped_file.h"

namespace ember {

enum class GgufType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
    U64 = 10, I64 = 11, F64 = 12
};
const char* gguf_type_name(GgufType t);

// One metadata value. Strings and arrays point into the mapping.
struct GgufValue {
    GgufType type = GgufType::U8;
    // Scalars, whichever fits: integers in i (signed) and u (unsigned; both set when in range),
    // floats in f, bool in b.
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0.0;
    bool b = false;
    bool int_fits_i64 = false, int_fits_u64 = false;
    std::string_view str;
    // Arrays: element type, count; raw elements (fixed-size types) or the strings.
    GgufType elem_type = GgufType::U8;
    uint64_t count = 0;
    const uint8_t* raw = nullptr;
    std::vector<std::string_view> strings;

    bool is_int() const;
    bool is_float() const { return type == GgufType::F32 || type == GgufType::F64; }
};

struct GgufTensor {
    std::string name;
    uint32_t ggml_type = 0;
    int32_t dtype = -1;              // ember_dtype, -1 when Ember cannot compute with the type
    std::string type_name;           // for messages
    int n_dims = 0;
    int64_t dims[4] = {1, 1, 1, 1};  // GGUF order: innermost (contiguous) first
    uint64_t offset = 0;             // relative to the data section
    uint64_t bytes = 0;
    const uint8_t* data = nullptr;

    // Hugging Face / row-major order: outermost first, e.g. [rows, cols] for a matrix.
    std::vector<int64_t> shape() const;
};

class GgufFile {
  public:
    static std::unique_ptr<GgufFile> open(const std::string& path);
    // Parses a mapping already opened (tests use this on crafted files).
    static std::unique_ptr<GgufFile> parse(std::shared_ptr<MappedFile> file);

    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    const std::string& path() const { return file_->path(); }

    const std::map<std::string, GgufValue>& metadata() const { return kv_; }
    const GgufValue* find(const std::string& key) const;
    // Typed getters: fail with MODEL_MALFORMED when present with an incompatible type or out of
    // [lo, hi]; the *_or forms return the fallback when absent.
    int64_t get_int(const std::string& key, int64_t lo, int64_t hi) const;
    int64_t get_int_or(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
    double get_float_or(const std::string& key, double fallback) const;
    bool get_bool_or(const std::string& key, bool fallback) const;
    std::string get_string(const std::string& key) const;
    std::string get_string_or(const std::string& key, const std::string& fallback) const;

    const std::vector<GgufTensor>& tensors() const { return tensors_; }
    const GgufTensor* tensor(const std::string& name) const;

  private:
    std::shared_ptr<MappedFile> file_;
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    std::map<std::string, GgufValue> kv_;
    std::vector<GgufTensor> tensors_;
    std::map<std::string, size_t> by_name_;
};

// ggml's (block elements, block bytes) for a type id, false for ids it does not define.
bool ggml_type_size(uint32_t ggml_type, int64_t* block_elems, int64_t* block_bytes, const char** name);

// Streaming writer: collect metadata and tensor descriptions, then write() lays out the header
// and calls each tensor's producer to fill its data in order (so a multi-GB model never sits in
// memory at once).
class GgufWriter {
  public:
    explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}

    void add_u32(const std::string& key, uint32_t v);
    void add_i32(const std::string& key, int32_t v);
    void add_u64(const std::string& key, uint64_t v);
    void add_f32(const std::string& key, float v);
    void add_bool(const std::string& key, bool v);
    void add_string(const std::string& key, const std::string& v);
    void add_string_array(const std::string& key, const std::vector<std::string>& v);
    void add_i32_array(const std::string& key, const std::vector<int32_t>& v);
    void add_f32_array(const std::string& key, const std::vector<float>& v);

    // `shape` in row-major (Hugging Face) order; written innermost first. `produce` fills
    // exactly the tensor's byte size.
    using Producer = std::function<void(uint8_t* dst, size_t bytes)>;
    void add_tensor(const std::string& name, const std::vector<int64_t>& shape, int32_t dtype, Producer produce);

    // Writes to `path` (through a temporary file renamed at the end). Fails with
    // EMBER_ERR_INVALID_ARGUMENT when the file cannot be written.
    void write(const std::string& path) const;

  private:
    struct Tensor {
        std::string name;
        std::vector<int64_t> shape;
        int32_t dtype;
        uint64_t bytes;
        Producer produce;
    };
    uint32_t alignment_;
    std::vector<uint8_t> kv_bytes_;
    uint64_t kv_count_ = 0;
    std::vector<Tensor> tensors_;
};

}  // namespace ember
