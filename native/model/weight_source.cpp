#include "model/weight_source.h"

#include <cstring>
#include <map>

#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"

namespace ember {

namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

class SafetensorsSource final : public WeightSource {
  public:
    explicit SafetensorsSource(std::unique_ptr<SafetensorsArchive> archive) : archive_(std::move(archive)) {
        for (const auto& [name, t] : archive_->tensors()) {
            WeightRef r;
            r.name = name;
            r.data = t.data;
            r.dtype = t.dtype;
            r.dtype_name = t.st_dtype;
            r.shape = t.shape;
            refs_.emplace(name, std::move(r));
        }
    }
    std::string describe() const override { return archive_->describe(); }
    const WeightRef* find(const std::string& name) const override {
        const TensorView* t = archive_->find(name);
        return t == nullptr ? nullptr : &refs_.at(t->name);
    }

  private:
    std::unique_ptr<SafetensorsArchive> archive_;
    std::map<std::string, WeightRef> refs_;
};

}  // namespace

const WeightRef& WeightSource::get(const std::string& name, const std::vector<int64_t>& shape) const {
    const WeightRef* r = find(name);
    if (r == nullptr) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "missing tensor \"%s\" in %s", name.c_str(), describe().c_str());
    if (r->shape != shape)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "tensor \"%s\" has shape %s, but config.json implies %s", name.c_str(),
                   shape_string(r->shape).c_str(), shape_string(shape).c_str());
    if (r->dtype < 0)
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "tensor \"%s\" is stored as %s; Ember computes with f32, f16, bf16 "
                   "and GGUF quantized types", name.c_str(), r->dtype_name.c_str());
    return *r;
}

std::unique_ptr<WeightSource> make_safetensors_source(std::unique_ptr<SafetensorsArchive> archive) {
    return std::make_unique<SafetensorsSource>(std::move(archive));
}

Weight load_matrix(Backend& backend, const WeightSource& src, const std::string& name, int64_t n, int64_t k,
                   Buffer& storage) {
    const WeightRef& r = src.get(name, {n, k});
    if (dtype_row_bytes(r.dtype, k) < 0)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "tensor \"%s\": %lld columns are not whole %s blocks", name.c_str(),
                   (long long)k, dtype_info(r.dtype) ? dtype_info(r.dtype)->name : "?");
    return backend.adopt_weight(r.data, r.dtype, n, k, storage);
}

Buffer load_vector_f32(Backend& backend, const WeightSource& src, const std::string& name, int64_t n) {
    const WeightRef& r = src.get(name, {n});
    std::vector<float> host(static_cast<size_t>(n));
    const uint8_t* p = static_cast<const uint8_t*>(r.data);
    for (int64_t i = 0; i < n; ++i) {
        switch (r.dtype) {
            case EMBER_DTYPE_F32: std::memcpy(&host[i], p + 4 * i, 4); break;
            case EMBER_DTYPE_F16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); host[i] = f16_to_f32(h); break; }
            case EMBER_DTYPE_BF16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); host[i] = bf16_to_f32(h); break; }
            default:
                EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "tensor \"%s\": %s vectors are not supported", name.c_str(),
                           r.dtype_name.c_str());
        }
    }
    Buffer b = backend.alloc(static_cast<size_t>(n) * sizeof(float));
    backend.upload(b.data(), host.data(), host.size() * sizeof(float));
    return b;
}

std::string WeightLoader::resolve(const std::string& name) const {
    const std::string plain = prefix_ + name;
    if (nested_.empty() || src_.find(plain) != nullptr) return plain;
    const std::string nested = prefix_ + nested_ + name;
    return src_.find(nested) != nullptr ? nested : plain;
}

Weight WeightLoader::matrix(const std::string& name, int64_t n, int64_t k, Buffer& storage) {
    Weight w = load_matrix(backend_, src_, resolve(name), n, k, storage);
    bytes_ += n * dtype_row_bytes(w.dtype, k);
    return w;
}

Buffer WeightLoader::vector_f32(const std::string& name, int64_t n) {
    Buffer b = load_vector_f32(backend_, src_, resolve(name), n);
    bytes_ += n * 4;
    return b;
}

}  // namespace ember
