#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"
#include "ember/kernels.h"
#include "io/json.h"

namespace ember {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit

struct DtypeSpec {
    const char* name;
    int bytes;
    int32_t ember;
};

// Every dtype the safetensors format defines; Ember computes with the first three.
const DtypeSpec kDtypes[] = {
    {"F32", 4, EMBER_DTYPE_F32}, {"F16", 2, EMBER_DTYPE_F16}, {"BF16", 2, EMBER_DTYPE_BF16},
    {"F64", 8, -1}, {"I64", 8, -1}, {"U64", 8, -1}, {"I32", 4, -1}, {"U32", 4, -1},
    {"I16", 2, -1}, {"U16", 2, -1}, {"I8", 1, -1}, {"U8", 1, -1}, {"BOOL", 1, -1},
    {"F8_E4M3", 1, -1}, {"F8_E5M2", 1, -1},
};

const DtypeSpec* find_dtype(const std::string& s) {
    for (const auto& d : kDtypes)
        if (s == d.name) return &d;
    return nullptr;
}

std::string base_name(const std::string& path) {
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string TensorView::shape_string() const {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

void SafetensorsArchive::add_file(const std::shared_ptr<MappedFile>& file, const std::vector<std::string>* only) {
    const std::string what = base_name(file->path());
    const uint64_t size = file->size();
    if (size < 8) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: truncated (%llu bytes, no header)", what.c_str(), (unsigned long long)size);
    uint64_t header_len;
    std::memcpy(&header_len, file->data(), 8);  // little-endian on every platform Ember targets
    if (header_len > kMaxHeaderBytes || header_len > size - 8)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: header length %llu exceeds the file (%llu bytes)", what.c_str(),
                   (unsigned long long)header_len, (unsigned long long)size);
    const std::string header_text(reinterpret_cast<const char*>(file->data() + 8), header_len);
    Json header = parse_json(header_text, what + " header");
    if (!header.is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: header is not a JSON object", what.c_str());

    const uint64_t data_start = 8 + header_len;
    const uint64_t data_size = size - data_start;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    const std::set<std::string> wanted = only != nullptr ? std::set<std::string>(only->begin(), only->end())
                                                         : std::set<std::string>();

    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        if (name == "__metadata__") continue;
        const std::string ctx = what + " tensor \"" + name + "\"";
        const Json& entry = it.value();
        if (!entry.is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: entry is not an object", ctx.c_str());
        TensorView t;
        t.name = name;
        t.st_dtype = json_string(entry, "dtype", ctx);
        const DtypeSpec* spec = find_dtype(t.st_dtype);
        if (spec == nullptr)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: unknown dtype \"%s\"", ctx.c_str(), t.st_dtype.c_str());
        t.dtype = spec->ember;

        const Json* shape = json_find(entry, "shape");
        if (shape == nullptr || !shape->is_array() || shape->size() > 8)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"shape\" must be an array of at most 8 dims", ctx.c_str());
        uint64_t numel = 1;
        for (const Json& d : *shape) {
            if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (int64_t(1) << 40))
                EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: bad dimension in shape", ctx.c_str());
            const uint64_t dim = d.get<uint64_t>();
            if (dim != 0 && numel > (uint64_t(1) << 50) / dim)
                EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: shape is too large", ctx.c_str());
            numel *= dim;
            t.shape.push_back(static_cast<int64_t>(dim));
        }

        const Json* offsets = json_find(entry, "data_offsets");
        if (offsets == nullptr || !offsets->is_array() || offsets->size() != 2 ||
            !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: \"data_offsets\" must be two non-negative integers", ctx.c_str());
        const uint64_t begin = (*offsets)[0].get<uint64_t>();
        const uint64_t end = (*offsets)[1].get<uint64_t>();
        if (begin > end || end > data_size)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: data range [%llu, %llu) lies outside the %llu data bytes of the file",
                       ctx.c_str(), (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size);
        if (end - begin != numel * static_cast<uint64_t>(spec->bytes))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: %llu bytes do not hold shape %s of %s", ctx.c_str(),
                       (unsigned long long)(end - begin), t.shape_string().c_str(), t.st_dtype.c_str());
        t.data = file->data() + data_start + begin;
        t.bytes = end - begin;
        t.file = file;
        if (t.bytes > 0) ranges.emplace_back(begin, end);

        if (only != nullptr && wanted.count(name) == 0) continue;
        if (tensors_.count(name))
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor \"%s\" appears in more than one file", what.c_str(), name.c_str());
        tensors_.emplace(name, std::move(t));
    }

    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second)
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor data ranges overlap at byte %llu", what.c_str(),
                       (unsigned long long)ranges[i].first);
}

std::unique_ptr<SafetensorsArchive> SafetensorsArchive::open_file(const std::string& path) {
    std::unique_ptr<SafetensorsArchive> a(new SafetensorsArchive());
    a->source_ = path;
    a->add_file(MappedFile::open(path), nullptr);
    return a;
}

std::unique_ptr<SafetensorsArchive> SafetensorsArchive::open_memory(const std::string& name, const uint8_t* data,
                                                                    size_t size) {
    std::unique_ptr<SafetensorsArchive> a(new SafetensorsArchive());
    a->source_ = name;
    a->add_file(MappedFile::from_bytes(name, data, size), nullptr);
    return a;
}

std::map<std::string, std::vector<std::string>> parse_shard_index(const Json& index, const std::string& what) {
    const Json* map = json_find(index, "weight_map");
    if (map == nullptr || !map->is_object())
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: missing \"weight_map\" object", what.c_str());
    std::map<std::string, std::vector<std::string>> by_file;
    for (auto it = map->begin(); it != map->end(); ++it) {
        if (!it.value().is_string())
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: weight_map values must be file names", what.c_str());
        const std::string file = it.value().get<std::string>();
        // Shards are plain names next to the index; anything else could point outside the model.
        if (file.empty() || file.find_first_of(std::string("/\\\0", 3)) != std::string::npos || file == "." ||
            file == "..")
            EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: shard name \"%s\" is not a plain file name", what.c_str(),
                       file.c_str());
        by_file[file].push_back(it.key());
    }
    return by_file;
}

std::unique_ptr<SafetensorsArchive> SafetensorsArchive::open_dir(const std::string& dir) {
    const std::string single = join_path(dir, "model.safetensors");
    const std::string index = join_path(dir, "model.safetensors.index.json");
    if (file_exists(single)) return open_file(single);
    if (!file_exists(index))
        EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "%s has neither model.safetensors nor model.safetensors.index.json",
                   dir.c_str());
    const auto by_file = parse_shard_index(read_json_file(index), index);
    std::unique_ptr<SafetensorsArchive> a(new SafetensorsArchive());
    a->source_ = index;
    for (const auto& [file, names] : by_file) {
        a->add_file(MappedFile::open(join_path(dir, file)), &names);
        for (const auto& n : names)
            if (!a->tensors_.count(n))
                EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s: tensor \"%s\" is not in shard %s", index.c_str(), n.c_str(),
                           file.c_str());
    }
    return a;
}

const TensorView* SafetensorsArchive::find(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it != tensors_.end()) return &it->second;
    static const std::string prefix = "model.";
    if (name.compare(0, prefix.size(), prefix) == 0) {
        it = tensors_.find(name.substr(prefix.size()));
    } else {
        it = tensors_.find(prefix + name);
    }
    return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& SafetensorsArchive::get(const std::string& name) const {
    const TensorView* t = find(name);
    if (t == nullptr) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "missing tensor \"%s\" in %s", name.c_str(), source_.c_str());
    return *t;
}

const TensorView& SafetensorsArchive::get(const std::string& name, const std::vector<int64_t>& shape) const {
    const TensorView& t = get(name);
    if (t.shape != shape) {
        TensorView expected;
        expected.shape = shape;
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "tensor \"%s\" has shape %s, but config.json implies %s", t.name.c_str(),
                   t.shape_string().c_str(), expected.shape_string().c_str());
    }
    return t;
}

}  // namespace ember
