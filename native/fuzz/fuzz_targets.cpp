#include "fuzz/fuzz_targets.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "core/error.h"
#include "core/dtype.h"
#include "core/half.h"
#include "ember/ember.h"
#include "ember/kernels.h"
#include "ember/tools.h"
#include "io/gguf.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/gguf_model.h"
#include "model/rope_freqs.h"
#include "model/weight_source.h"
#include "quant/quants.h"
#include "tools/gguf_tokenizer.h"

namespace ember::fuzz {

void fuzz_fail(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    std::fputs("ember fuzz: ", stderr);
    std::vfprintf(stderr, fmt, args);
    std::fputc('\n', stderr);
    va_end(args);
    std::abort();
}

namespace {

// Errors a file may legitimately cause. INTERNAL is a bug by definition; INVALID_ARGUMENT blames
// the caller for something that came from the file.
void expect_clean(const Error& e, const char* where) {
    if (e.status() == EMBER_ERR_INTERNAL || e.status() == EMBER_ERR_INVALID_ARGUMENT)
        fuzz_fail("%s: status %d for bad file content: %s", where, static_cast<int>(e.status()), e.what());
    if (e.what()[0] == '\0') fuzz_fail("%s: error %d without a message", where, static_cast<int>(e.status()));
}

// Keeps the compiler from dropping reads whose only purpose is to let ASan check them.
volatile uint8_t g_sink;

// EMBER_FUZZ_VERBOSE=1: print why each input was refused (triage).
bool verbose() {
    static const bool v = std::getenv("EMBER_FUZZ_VERBOSE") != nullptr;
    return v;
}

// What the decoder relies on once a config (from config.json or GGUF metadata) is accepted: the
// sizes, eps as the kernels' float, and a finite RoPE table. Any failure here is a config that
// loads and then fails (or misbehaves) at the first embed call.
void check_decoder_config(const DecoderConfig& c, const char* where) {
    const bool ok = c.hidden_size > 0 && c.num_layers > 0 && c.num_heads > 0 && c.num_kv_heads > 0 &&
                    c.num_heads % c.num_kv_heads == 0 && c.head_dim > 0 && c.head_dim % 2 == 0 &&
                    c.head_dim <= EMBER_MAX_HEAD_DIM && c.intermediate_size > 0 && c.vocab_size > 0 &&
                    c.max_positions > 0 && std::isfinite(c.rms_eps) && c.rms_eps > 0 && c.rms_eps <= 1 &&
                    std::isfinite(static_cast<float>(c.rms_eps)) && std::isfinite(c.rope.theta) &&
                    c.rope.theta > 1 && c.rope.factor >= 0 && std::isfinite(c.rope.factor);
    if (!ok)
        fuzz_fail("%s: accepted a config the decoder cannot use (hidden %d, layers %d, heads %d/%d, head_dim %d, "
                  "ffn %d, vocab %d, positions %d, eps %g, theta %g, factor %g)", where, c.hidden_size,
                  c.num_layers, c.num_heads, c.num_kv_heads, c.head_dim, c.intermediate_size, c.vocab_size,
                  c.max_positions, c.rms_eps, c.rope.theta, c.rope.factor);
    try {
        const RopeFrequencies f = compute_rope_frequencies(c.rope, c.head_dim, c.max_positions, 16);
        if (f.inv_freq.size() != static_cast<size_t>(c.head_dim / 2))
            fuzz_fail("%s: %zu RoPE frequencies for head_dim %d", where, f.inv_freq.size(), c.head_dim);
        std::vector<float> cos, sin;
        build_rope_table(f, 4, cos, sin);
        for (size_t i = 0; i < cos.size(); ++i)
            if (!std::isfinite(cos[i]) || !std::isfinite(sin[i])) fuzz_fail("%s: RoPE table is not finite", where);
    } catch (const Error& e) {
        fuzz_fail("%s: accepted a RoPE configuration that then fails: %s", where, e.what());
    }
}

}  // namespace

// ---------------------------------------------------------------------------------- safetensors

void safetensors(const uint8_t* data, size_t size) {
    try {
        auto archive = SafetensorsArchive::open_memory("model.safetensors", data, size);
        std::vector<std::string> names;
        uint8_t acc = 0;
        for (const auto& [name, t] : archive->tensors()) {
            if (name != t.name) fuzz_fail("safetensors: tensor keyed \"%s\" is named \"%s\"", name.c_str(), t.name.c_str());
            const uint8_t* lo = t.file->data();
            const uint8_t* hi = lo + t.file->size();
            if (t.bytes > 0 && (t.data < lo || t.data > hi || t.bytes > static_cast<uint64_t>(hi - t.data)))
                fuzz_fail("safetensors: tensor \"%s\" lies outside its file", name.c_str());
            if (t.numel() < 0) fuzz_fail("safetensors: tensor \"%s\" has %lld elements", name.c_str(), (long long)t.numel());
            for (uint64_t i = 0; i < t.bytes; ++i) acc ^= t.data[i];
            (void)t.shape_string();
            names.push_back(name);
        }
        g_sink = acc;
        auto source = make_safetensors_source(std::move(archive));
        for (const std::string& name : names) {
            const WeightRef* r = source->find(name);
            if (r == nullptr) fuzz_fail("safetensors: tensor \"%s\" listed but not found", name.c_str());
            try {
                (void)source->get(name, r->shape);
            } catch (const Error& e) {
                if (e.status() != EMBER_ERR_MODEL_UNSUPPORTED) fuzz_fail("safetensors: get(%s): %s", name.c_str(), e.what());
            }
        }
    } catch (const Error& e) {
        expect_clean(e, "safetensors");
    }
}

// ---------------------------------------------------------------------------------- config.json

void config_json(const uint8_t* data, size_t size) {
    try {
        const Json j = parse_json(std::string(reinterpret_cast<const char*>(data), size), "config.json");
        const DecoderConfig c = parse_decoder_config(j, "config.json");
        check_decoder_config(c, "config.json");
    } catch (const Error& e) {
        expect_clean(e, "config.json");
    }
}

// ---------------------------------------------------------------------------------- other JSON

void st_json(const uint8_t* data, size_t size) {
    Json j;
    try {
        j = parse_json(std::string(reinterpret_cast<const char*>(data), size), "json");
    } catch (const Error& e) {
        expect_clean(e, "json");
        return;
    }
    try {
        const int32_t pooling = parse_st_pooling(j, "1_Pooling/config.json");
        if (pooling != EMBER_POOLING_LAST && pooling != EMBER_POOLING_MEAN && pooling != EMBER_POOLING_CLS)
            fuzz_fail("1_Pooling/config.json: pooling %d", pooling);
    } catch (const Error& e) {
        expect_clean(e, "1_Pooling/config.json");
    }
    try {
        (void)parse_st_normalize(j, "modules.json");
    } catch (const Error& e) {
        expect_clean(e, "modules.json");
    }
    try {
        for (const auto& [file, names] : parse_shard_index(j, "model.safetensors.index.json")) {
            if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
                file.find('\\') != std::string::npos || file.find('\0') != std::string::npos)
                fuzz_fail("index.json: accepted shard name \"%s\"", file.c_str());
            if (names.empty()) fuzz_fail("index.json: shard without tensors");
        }
    } catch (const Error& e) {
        expect_clean(e, "model.safetensors.index.json");
    }
}

// ---------------------------------------------------------------------------------- model folder

// Input layout: byte 0 = flags, then config.json up to the first NUL byte, then
// model.safetensors (the rest; absent when there is no NUL).
//   flags & 3: 1_Pooling/config.json: 0 none, 1 lasttoken, 2 mean, 3 cls
//   flags & 4: modules.json with a Normalize module
//   flags & 8: sharded: model.safetensors.index.json naming every tensor of the header, and the
//              bytes as its one shard
//   flags & 16: 2 CPU threads instead of 1 (exceptions thrown on pool workers)
namespace {

const char* kShard = "model-00001-of-00001.safetensors";

// The temporary model folder, made on first use, removed at exit. A plain array rather than a
// static std::string: that would be destroyed before an atexit handler registered earlier runs.
char g_root[512];

// The files run_model_folder and gguf_load may leave there.
const char* const kFolderFiles[] = {"config.json", "1_Pooling/config.json", "modules.json", "model.safetensors",
                                    "model-00001-of-00001.safetensors", "model.safetensors.index.json",
                                    "model.gguf", "model"};

void remove_temp_root() {
    const std::string root = g_root;
    for (const char* f : kFolderFiles) ::unlink((root + "/" + f).c_str());
    ::rmdir((root + "/1_Pooling").c_str());
    ::rmdir(root.c_str());
}

std::string temp_root() {
    if (g_root[0] == '\0') {
        std::string base = "/tmp";
        if (const char* t = std::getenv("TMPDIR")) base = t;
        struct stat st;
        if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) base = "/dev/shm";
        const std::string tmpl = base + "/ember-fuzz-XXXXXX";
        if (tmpl.size() >= sizeof(g_root)) fuzz_fail("temporary folder name too long: %s", tmpl.c_str());
        std::memcpy(g_root, tmpl.c_str(), tmpl.size() + 1);
        if (mkdtemp(g_root) == nullptr) fuzz_fail("mkdtemp in %s failed", base.c_str());
        std::atexit(remove_temp_root);
    }
    return g_root;
}

void write_file(const std::string& path, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fuzz_fail("cannot write %s", path.c_str());
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) fuzz_fail("short write to %s", path.c_str());
        done += static_cast<size_t>(n);
    }
    ::close(fd);
}

void put(const std::string& path, const std::string* bytes) {
    if (bytes != nullptr) {
        write_file(path, *bytes);
    } else {
        ::unlink(path.c_str());
    }
}

std::string shard_index_for(const std::string& st) {
    Json index = Json::object();
    index["weight_map"] = Json::object();
    if (st.size() >= 8) {
        uint64_t n;
        std::memcpy(&n, st.data(), 8);
        if (n <= st.size() - 8) {
            const Json h = Json::parse(st.substr(8, n), nullptr, false);
            if (h.is_object())
                for (auto it = h.begin(); it != h.end(); ++it)
                    if (it.key() != "__metadata__") index["weight_map"][it.key()] = kShard;
        }
    }
    return index.dump();
}

// Loads `path` (a model folder or file), and when that works embeds, runs forward_hidden and
// frees. A load must fail cleanly or give a model that embeds a valid batch.
void load_and_embed(const std::string& path, int threads, const char* what) {
    ember_load_options opts;
    ember_load_options_init(&opts);
    opts.backend = EMBER_BACKEND_CPU;
    opts.threads = threads;
    ember_model* model = nullptr;
    const ember_status st_load = ember_model_load(path.c_str(), &opts, &model);
    if (verbose()) std::fprintf(stderr, "%s: load status %d %s\n", what, st_load, ember_last_error());
    if (st_load != EMBER_OK) {
        if (model != nullptr) fuzz_fail("%s: load failed (%d) but returned a handle", what, st_load);
        if (st_load == EMBER_ERR_INTERNAL || st_load == EMBER_ERR_INVALID_ARGUMENT)
            fuzz_fail("%s: load: status %d for bad file content: %s", what, st_load, ember_last_error());
        if (ember_last_error()[0] == '\0') fuzz_fail("%s: load: status %d without a message", what, st_load);
        return;
    }
    ember_model_info info;
    if (ember_model_get_info(model, &info) != EMBER_OK) fuzz_fail("%s: get_info: %s", what, ember_last_error());
    if (info.vocab_size <= 0 || info.hidden_size <= 0 || info.embedding_size <= 0)
        fuzz_fail("%s: loaded model with vocab %d, hidden %d, embedding %d", what, info.vocab_size, info.hidden_size,
                  info.embedding_size);

    // Two sequences (3 and 2 tokens) of in-vocabulary ids, the first with one instruction token.
    const int32_t v = info.vocab_size;
    const int32_t ids[5] = {1 % v, 7 % v, (v - 1), 0, 3 % v};
    const int32_t cu[3] = {0, 3, 5};
    const int32_t pool_start[2] = {1, 0};
    ember_batch batch{};
    batch.token_ids = ids;
    batch.cu_seqlens = cu;
    batch.n_seqs = 2;
    batch.pool_start = pool_start;
    std::vector<float> out(2 * static_cast<size_t>(info.embedding_size));
    ember_status s = ember_embed(model, &batch, nullptr, out.data(), out.size());
    if (s != EMBER_OK && s != EMBER_ERR_OUT_OF_MEMORY)
        fuzz_fail("%s: a loaded model failed to embed a valid batch (status %d): %s", what, s, ember_last_error());
    int64_t rows = 0;
    s = ember_hidden_rows(model, &batch, &rows);
    if (s != EMBER_OK || rows < 0 || rows > 1024)
        fuzz_fail("%s: hidden_rows: status %d, %lld rows", what, s, (long long)rows);
    std::vector<float> hidden(static_cast<size_t>(rows) * info.hidden_size);
    s = ember_forward_hidden(model, &batch, hidden.data(), hidden.size());
    if (s != EMBER_OK && s != EMBER_ERR_OUT_OF_MEMORY)
        fuzz_fail("%s: a loaded model failed forward_hidden on a valid batch (status %d): %s", what, s,
                  ember_last_error());
    ember_model_free(model);
}

// Writes the folder, loads it, embeds, frees. `flags` as described above.
void run_model_folder(uint8_t flags, const std::string& config, bool have_st, const std::string& st) {
    static const std::string kPooling[4] = {
        "", R"({"pooling_mode_lasttoken": true})", R"({"pooling_mode_mean_tokens": true})",
        R"({"pooling_mode_cls_token": true})"};
    static const std::string kModules =
        R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},)"
        R"({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},)"
        R"({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])";

    const std::string dir = temp_root();
    ::mkdir((dir + "/1_Pooling").c_str(), 0700);
    const bool sharded = (flags & 8) != 0;
    const std::string index = sharded && have_st ? shard_index_for(st) : std::string();
    put(dir + "/config.json", &config);
    put(dir + "/1_Pooling/config.json", (flags & 3) ? &kPooling[flags & 3] : nullptr);
    put(dir + "/modules.json", (flags & 4) ? &kModules : nullptr);
    put(dir + "/model.safetensors", have_st && !sharded ? &st : nullptr);
    put(dir + "/" + kShard, have_st && sharded ? &st : nullptr);
    put(dir + "/model.safetensors.index.json", have_st && sharded ? &index : nullptr);
    load_and_embed(dir, (flags & 16) ? 2 : 1, "model_load");
}

}  // namespace

void model_load(const uint8_t* data, size_t size) {
    if (size == 0) return;
    const char* rest = reinterpret_cast<const char*>(data + 1);
    const size_t rest_len = size - 1;
    const char* nul = static_cast<const char*>(std::memchr(rest, 0, rest_len));
    const std::string config(rest, nul ? static_cast<size_t>(nul - rest) : rest_len);
    const bool have_st = nul != nullptr;
    run_model_folder(data[0], config, have_st, have_st ? std::string(nul + 1, rest + rest_len) : std::string());
}

void model_weights(const uint8_t* data, size_t size) {
    if (size == 0) return;
    static const std::string kConfigs[4] = {
        tiny_model("qwen3", "F32", 1).config_json, tiny_model("llama", "F32", 1).config_json,
        tiny_model("llama_bidirec", "F32", 1).config_json, tiny_model("qwen3", "F32", 2).config_json};
    const uint8_t flags = data[0];
    // Config choice in bits 5-6; bits 0-4 mean what they mean for model_load.
    run_model_folder(flags & 31, kConfigs[(flags >> 5) & 3], true,
                     std::string(reinterpret_cast<const char*>(data + 1), size - 1));
}

// ---------------------------------------------------------------------------------- GGUF

namespace {

// True when [p, p + n) lies inside `f`'s bytes.
bool inside(const MappedFile& f, const void* p, uint64_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    return b >= f.data() && b <= f.data() + f.size() && n <= static_cast<uint64_t>(f.data() + f.size() - b);
}

uint8_t xor_bytes(const void* p, uint64_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; ++i) acc ^= b[i];
    return acc;
}

// Every value the reader accepted points into the file, and the typed getters either answer or
// fail cleanly on it.
void check_gguf_metadata(const GgufFile& g, const MappedFile& f) {
    uint8_t acc = 0;
    for (const auto& kv : g.metadata()) {
        const std::string& key = kv.first;  // not a structured binding: the lambdas below capture it
        const GgufValue& v = kv.second;
        if (v.type == GgufType::String) {
            if (!inside(f, v.str.data(), v.str.size())) fuzz_fail("gguf: string \"%s\" lies outside the file", key.c_str());
            acc ^= xor_bytes(v.str.data(), v.str.size());
        } else if (v.type == GgufType::Array) {
            if (v.elem_type == GgufType::String) {
                if (v.strings.size() != v.count)
                    fuzz_fail("gguf: \"%s\" has %zu of %llu strings", key.c_str(), v.strings.size(), (unsigned long long)v.count);
                for (const std::string_view& str : v.strings) {
                    if (!inside(f, str.data(), str.size())) fuzz_fail("gguf: a string of \"%s\" lies outside the file", key.c_str());
                    acc ^= xor_bytes(str.data(), str.size());
                }
            } else if (v.elem_type != GgufType::Array) {
                int64_t be = 0;
                switch (v.elem_type) {
                    case GgufType::U8: case GgufType::I8: case GgufType::Bool: be = 1; break;
                    case GgufType::U16: case GgufType::I16: be = 2; break;
                    case GgufType::U32: case GgufType::I32: case GgufType::F32: be = 4; break;
                    default: be = 8; break;
                }
                if (v.count > f.size() || (v.count > 0 && !inside(f, v.raw, v.count * static_cast<uint64_t>(be))))
                    fuzz_fail("gguf: the %llu elements of \"%s\" lie outside the file", (unsigned long long)v.count, key.c_str());
                if (v.count > 0) acc ^= xor_bytes(v.raw, v.count * static_cast<uint64_t>(be));
            }
        }
        // Whatever the type, a getter answers or fails with MODEL_MALFORMED.
        auto clean = [&](auto&& get) {
            try {
                get();
            } catch (const Error& e) {
                if (e.status() != EMBER_ERR_MODEL_MALFORMED || e.what()[0] == '\0')
                    fuzz_fail("gguf: getter on \"%s\": status %d: %s", key.c_str(), static_cast<int>(e.status()), e.what());
            }
        };
        clean([&] { (void)g.get_int(key, INT64_MIN, INT64_MAX); });
        clean([&] { (void)g.get_int_or(key, 0, 0, 1024); });
        clean([&] { (void)g.get_float_or(key, 0.0); });
        clean([&] { (void)g.get_bool_or(key, false); });
        clean([&] { (void)g.get_string(key); });
        if (g.find(key) != &v) fuzz_fail("gguf: find(\"%s\") does not find it", key.c_str());
    }
    g_sink = acc;
}

// Every accepted tensor: a known type, sizes that agree with its shape, bytes inside the file
// (all read), and the first row of a type Ember computes with decoded.
void check_gguf_tensors(const GgufFile& g, const MappedFile& f) {
    uint8_t acc = 0;
    std::vector<float> row;
    for (const GgufTensor& t : g.tensors()) {
        if (g.tensor(t.name) != &t) fuzz_fail("gguf: tensor(\"%s\") does not find it", t.name.c_str());
        int64_t be = 0, bb = 0;
        if (!ggml_type_size(t.ggml_type, &be, &bb, nullptr)) fuzz_fail("gguf: tensor \"%s\": type %u accepted", t.name.c_str(), t.ggml_type);
        if (t.n_dims < 1 || t.n_dims > 4) fuzz_fail("gguf: tensor \"%s\": %d dims", t.name.c_str(), t.n_dims);
        unsigned __int128 numel = 1;
        for (int d = 0; d < 4; ++d) {
            if (t.dims[d] < 0 || (d >= t.n_dims && t.dims[d] != 1)) fuzz_fail("gguf: tensor \"%s\": dim %d is %lld", t.name.c_str(), d, (long long)t.dims[d]);
            numel *= static_cast<uint64_t>(t.dims[d]);
        }
        if (t.dims[0] % be != 0 || numel / static_cast<uint64_t>(be) * static_cast<uint64_t>(bb) != t.bytes)
            fuzz_fail("gguf: tensor \"%s\": %llu bytes for its shape and type %s", t.name.c_str(), (unsigned long long)t.bytes, t.type_name.c_str());
        if (t.offset % g.alignment() != 0) fuzz_fail("gguf: tensor \"%s\": unaligned offset", t.name.c_str());
        if (!inside(f, t.data, t.bytes) || (t.data - f.data()) % g.alignment() != 0)
            fuzz_fail("gguf: tensor \"%s\" lies outside the file or off the alignment", t.name.c_str());
        if (t.shape().size() != static_cast<size_t>(t.n_dims)) fuzz_fail("gguf: tensor \"%s\": shape()", t.name.c_str());
        acc ^= xor_bytes(t.data, t.bytes);
        if (t.dtype >= 0) {
            if (t.dtype != static_cast<int32_t>(t.ggml_type)) fuzz_fail("gguf: tensor \"%s\": dtype %d", t.name.c_str(), t.dtype);
            const int64_t rb = dtype_row_bytes(t.dtype, t.dims[0]);
            if (rb < 0 || static_cast<uint64_t>(rb) * static_cast<uint64_t>(numel / static_cast<uint64_t>(std::max<int64_t>(t.dims[0], 1))) != t.bytes)
                fuzz_fail("gguf: tensor \"%s\": row bytes %lld disagree with %llu bytes", t.name.c_str(), (long long)rb, (unsigned long long)t.bytes);
            // One row (bounded: dims[0] may be huge for a tensor with a zero dimension elsewhere).
            if (t.bytes > 0 && t.dims[0] <= (1 << 16)) {
                row.resize(static_cast<size_t>(t.dims[0]));
                if (!quant::dequantize_row(t.dtype, t.data, row.data(), t.dims[0]))
                    fuzz_fail("gguf: tensor \"%s\": cannot decode a row of %s", t.name.c_str(), t.type_name.c_str());
            }
        }
    }
    g_sink = acc;
}

// The tokenizer rebuilt as JSON must be valid JSON holding what the metadata says.
void check_gguf_tokenizer(const GgufFile& g) {
    std::string text;
    try {
        text = gguf_tokenizer_json(g);
    } catch (const Error& e) {
        if (verbose()) std::fprintf(stderr, "gguf: tokenizer: %s\n", e.what());
        expect_clean(e, "gguf tokenizer");
        return;
    }
    if (verbose()) std::fprintf(stderr, "gguf: tokenizer: %zu bytes of JSON\n", text.size());
    Json j;
    try {
        j = parse_json(text, "tokenizer JSON");
    } catch (const Error& e) {
        fuzz_fail("gguf: the tokenizer JSON does not parse: %s", e.what());
    }
    const GgufValue* tokens = g.find("tokenizer.ggml.tokens");
    const Json* tj = json_find(j, "tokens");
    const Json* types = json_find(j, "token_type");
    const Json* merges = json_find(j, "merges");
    if (tokens == nullptr || tj == nullptr || !tj->is_array() || tj->size() != tokens->count || tokens->count == 0)
        fuzz_fail("gguf: the tokenizer JSON's tokens disagree with the metadata");
    if (types == nullptr || !types->is_array() || (!types->empty() && types->size() != tokens->count))
        fuzz_fail("gguf: the tokenizer JSON's token_type has %zu entries for %zu tokens", types ? types->size() : 0, tj->size());
    if (merges == nullptr || !merges->is_array()) fuzz_fail("gguf: the tokenizer JSON has no merges array");
    for (const char* key : {"bos_token_id", "eos_token_id", "padding_token_id", "unknown_token_id", "seperator_token_id",
                            "eot_token_id"}) {
        const Json* id = json_find(j, key);
        if (id != nullptr && (!id->is_number_integer() || id->get<int64_t>() < 0 ||
                              id->get<int64_t>() >= static_cast<int64_t>(tokens->count)))
            fuzz_fail("gguf: tokenizer %s outside the vocabulary", key);
    }
}

// The metadata as a decoder: accepted only when the decoder can run it, and then every tensor
// the model asks for is answered by name (or refused cleanly).
void check_gguf_model(std::unique_ptr<GgufFile> g) {
    DecoderModelSpec spec;
    try {
        spec = gguf_decoder_spec(*g);
    } catch (const Error& e) {
        if (verbose()) std::fprintf(stderr, "gguf: decoder spec: %s\n", e.what());
        expect_clean(e, "gguf decoder spec");
        return;
    }
    if (verbose()) std::fprintf(stderr, "gguf: decoder spec: %s, %d layers\n", spec.family.c_str(), spec.decoder.num_layers);
    check_decoder_config(spec.decoder, "gguf decoder spec");
    if (spec.pooling != EMBER_POOLING_LAST && spec.pooling != EMBER_POOLING_MEAN && spec.pooling != EMBER_POOLING_CLS)
        fuzz_fail("gguf: pooling %d", spec.pooling);
    std::vector<std::string> names = {"embed_tokens.weight", "norm.weight", "lm_head.weight", "model.norm.weight"};
    static const char* const kLayer[] = {"input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.q_proj.weight",
                                         "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                                         "self_attn.q_norm.weight", "self_attn.k_norm.weight", "mlp.gate_proj.weight",
                                         "mlp.up_proj.weight", "mlp.down_proj.weight"};
    for (int l = 0; l < std::min(spec.decoder.num_layers, 4); ++l)
        for (const char* n : kLayer) names.push_back("layers." + std::to_string(l) + "." + n);
    auto source = make_gguf_source(std::move(g));
    for (const std::string& name : names) {
        const WeightRef* r = source->find(name);
        if (r == nullptr) continue;
        try {
            (void)source->get(name, r->shape);
        } catch (const Error& e) {
            if (e.status() != EMBER_ERR_MODEL_UNSUPPORTED) fuzz_fail("gguf: get(%s): %s", name.c_str(), e.what());
        }
    }
}

}  // namespace

void gguf(const uint8_t* data, size_t size) {
    std::shared_ptr<MappedFile> f = MappedFile::from_bytes("model.gguf", data, size);
    std::unique_ptr<GgufFile> g;
    try {
        g = GgufFile::parse(f);
    } catch (const Error& e) {
        if (verbose()) std::fprintf(stderr, "gguf: parse: %s\n", e.what());
        expect_clean(e, "gguf");
        return;
    }
    if (g->version() != 2 && g->version() != 3) fuzz_fail("gguf: version %u accepted", g->version());
    if (g->alignment() == 0 || (g->alignment() & (g->alignment() - 1)) != 0) fuzz_fail("gguf: alignment %u", g->alignment());
    check_gguf_metadata(*g, *f);
    check_gguf_tensors(*g, *f);
    check_gguf_tokenizer(*g);
    check_gguf_model(std::move(g));
}

void gguf_load(const uint8_t* data, size_t size) {
    if (size == 0) return;
    const uint8_t flags = data[0];
    const std::string path = temp_root() + ((flags & 2) ? "/model" : "/model.gguf");
    ::unlink((temp_root() + ((flags & 2) ? "/model.gguf" : "/model")).c_str());
    write_file(path, std::string(reinterpret_cast<const char*>(data + 1), size - 1));

    // The tokenizer through the C ABI's two-call protocol: a short buffer (filled as far as it
    // goes, NUL-terminated, *needed set), then one of the size asked for.
    char small[5] = {'x', 'x', 'x', 'x', 'x'};
    size_t needed = 0;
    const ember_status st = ember_gguf_tokenizer_json(path.c_str(), small, sizeof small, &needed);
    if (st != EMBER_OK) {
        if (st == EMBER_ERR_INTERNAL || st == EMBER_ERR_INVALID_ARGUMENT)
            fuzz_fail("gguf_load: tokenizer: status %d for bad file content: %s", st, ember_last_error());
        if (ember_last_error()[0] == '\0') fuzz_fail("gguf_load: tokenizer: status %d without a message", st);
    } else {
        if (needed < sizeof small || small[4] != '\0') fuzz_fail("gguf_load: tokenizer JSON of %zu bytes", needed);
        std::vector<char> buf(needed);
        size_t again = 0;
        if (ember_gguf_tokenizer_json(path.c_str(), buf.data(), buf.size(), &again) != EMBER_OK || again != needed ||
            buf[needed - 1] != '\0' || std::strlen(buf.data()) != needed - 1 || std::memcmp(small, buf.data(), 4) != 0)
            fuzz_fail("gguf_load: tokenizer JSON changed between calls, or is not NUL-terminated");
    }
    load_and_embed(path, (flags & 1) ? 2 : 1, "gguf_load");
}

// ---------------------------------------------------------------------------------- registry

const std::vector<Target>& targets() {
    static const std::vector<Target> all = {
        {"safetensors", &safetensors},
        {"config_json", &config_json},
        {"st_json", &st_json},
        {"model_load", &model_load},
        {"model_weights", &model_weights},
        {"gguf", &gguf},
        {"gguf_load", &gguf_load},
    };
    return all;
}

const Target* find_target(const std::string& name) {
    for (const Target& t : targets())
        if (name == t.name) return &t;
    return nullptr;
}

// ---------------------------------------------------------------------------------- seeds

namespace {

struct SynthTensor {
    std::string name;
    std::vector<int64_t> shape;
    bool norm = false;  // ones instead of random values
};

std::string safetensors_bytes(const std::vector<SynthTensor>& tensors, const std::string& dtype, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
    Json header = Json::object();
    header["__metadata__"] = {{"format", "pt"}};
    std::string payload;
    for (const SynthTensor& t : tensors) {
        int64_t numel = 1;
        for (int64_t d : t.shape) numel *= d;
        const size_t begin = payload.size();
        for (int64_t i = 0; i < numel; ++i) {
            const float x = t.norm ? 1.0f + 0.1f * dist(rng) : dist(rng);
            if (dtype == "F32") {
                payload.append(reinterpret_cast<const char*>(&x), 4);
            } else {
                const uint16_t h = dtype == "BF16" ? f32_to_bf16(x) : f32_to_f16(x);
                payload.append(reinterpret_cast<const char*>(&h), 2);
            }
        }
        header[t.name] = {{"dtype", dtype}, {"shape", t.shape}, {"data_offsets", {begin, payload.size()}}};
    }
    std::string h = header.dump();
    while ((8 + h.size()) % 8 != 0) h += ' ';  // the reference writer pads to 8 bytes
    const uint64_t n = h.size();
    std::string out(reinterpret_cast<const char*>(&n), 8);
    return out + h + payload;
}

std::string read_file_or_empty(const std::string& path) {
    try {
        return read_text_file(path);
    } catch (const Error&) {
        return std::string();
    }
}

std::vector<std::string> golden_names(const std::string& source_dir) {
    std::vector<std::string> names;
    const std::string root = source_dir + "/tests/goldens";
    if (DIR* d = opendir(root.c_str())) {
        while (const dirent* e = readdir(d))
            if (e->d_name[0] != '.' && is_directory(root + "/" + e->d_name)) names.emplace_back(e->d_name);
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

namespace {

// Sizes of a synthetic decoder (tiny_model's by default).
struct SynthShape {
    int H = 8, heads = 2, kv = 1, D = 4, F = 16, V = 16;
};

TinyModel synth_decoder(const std::string& model_type, const std::string& dtype, int layers, uint64_t seed,
                        const SynthShape& s) {
    const int H = s.H, heads = s.heads, kv = s.kv, D = s.D, F = s.F, V = s.V;
    const bool qwen3 = model_type == "qwen3";
    Json c = {{"model_type", model_type}, {"hidden_size", H}, {"num_hidden_layers", layers},
              {"num_attention_heads", heads}, {"num_key_value_heads", kv}, {"head_dim", D},
              {"intermediate_size", F}, {"vocab_size", V}, {"max_position_embeddings", 64},
              {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0}, {"hidden_act", "silu"},
              {"tie_word_embeddings", true}};
    std::vector<SynthTensor> t;
    t.push_back({"embed_tokens.weight", {V, H}});
    for (int i = 0; i < layers; ++i) {
        const std::string p = "layers." + std::to_string(i) + ".";
        t.push_back({p + "input_layernorm.weight", {H}, true});
        t.push_back({p + "self_attn.q_proj.weight", {heads * D, H}});
        t.push_back({p + "self_attn.k_proj.weight", {kv * D, H}});
        t.push_back({p + "self_attn.v_proj.weight", {kv * D, H}});
        t.push_back({p + "self_attn.o_proj.weight", {H, heads * D}});
        if (qwen3) {
            t.push_back({p + "self_attn.q_norm.weight", {D}, true});
            t.push_back({p + "self_attn.k_norm.weight", {D}, true});
        }
        t.push_back({p + "post_attention_layernorm.weight", {H}, true});
        t.push_back({p + "mlp.gate_proj.weight", {F, H}});
        t.push_back({p + "mlp.up_proj.weight", {F, H}});
        t.push_back({p + "mlp.down_proj.weight", {H, F}});
    }
    t.push_back({"norm.weight", {H}, true});
    return TinyModel{c.dump(1), safetensors_bytes(t, dtype, seed)};
}

}  // namespace

TinyModel tiny_model(const std::string& model_type, const std::string& dtype, int layers, uint64_t seed) {
    return synth_decoder(model_type, dtype, layers, seed, SynthShape{});
}

std::string model_input(uint8_t flags, const std::string& config_json, const std::string& safetensors) {
    std::string out(1, static_cast<char>(flags));
    out += config_json;
    out += '\0';
    return out + safetensors;
}

std::string gguf_load_input(uint8_t flags, const std::string& gguf) { return std::string(1, static_cast<char>(flags)) + gguf; }

namespace {

// A scratch folder for the GGUF seeds (ember_convert reads a folder and writes a file), removed
// with its contents when done.
class ScratchDir {
  public:
    ScratchDir() {
        std::string base = "/tmp";
        if (const char* t = std::getenv("TMPDIR")) base = t;
        std::string tmpl = base + "/ember-fuzz-seeds-XXXXXX";
        if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
    }
    ~ScratchDir() {
        if (!path_.empty())
            nftw(path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
                 FTW_DEPTH | FTW_PHYS);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    bool ok() const { return !path_.empty(); }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// A byte-level BPE tokenizer.json for a 16-token model: merges, an added special token the
// post-processor wraps sequences in, non-ASCII and control-character tokens (the JSON escaping).
const char* kSeedTokenizer = R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"c":3,"abc":4,"\u00e9":5,)"
                             R"("\u0001":6,"\"q\"":7,"d":8,"\u4e2d":9,"\\":10,"ee":11,"e":12},)"
                             R"("merges":["a b","ab c","e e"]},"added_tokens":[{"id":14,"content":"<s>",)"
                             R"("special":true},{"id":15,"content":"<|endoftext|>","special":true}],)"
                             R"("post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":)"
                             R"({"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},)"
                             R"({"SpecialToken":{"id":"<|endoftext|>","type_id":0}}]}})";

// What ember_convert writes for a synthetic decoder (folder written under `scratch`), or "" when
// conversion fails.
std::string convert_synth(const ScratchDir& scratch, const std::string& name, const std::string& model_type,
                          int32_t dtype, const SynthShape& shape, bool tokenizer, uint64_t seed) {
    const std::string dir = scratch.path() + "/" + name, out = dir + ".gguf";
    ::mkdir(dir.c_str(), 0700);
    const TinyModel m = synth_decoder(model_type, "F32", 1, seed, shape);
    write_file(dir + "/config.json", m.config_json);
    write_file(dir + "/model.safetensors", m.safetensors);
    if (tokenizer) write_file(dir + "/tokenizer.json", kSeedTokenizer);
    if (ember_convert(dir.c_str(), out.c_str(), dtype) != EMBER_OK) return std::string();
    return read_file_or_empty(out);
}

// `gguf` rewritten through GgufWriter with general.alignment 1 and the data section at an odd
// offset (weights unaligned even for bytes), or "" when it holds something the writer cannot
// express. Real files use 32; the reader accepts any power of two.
std::string unaligned(const ScratchDir& scratch, const std::string& gguf) {
    try {
        const auto f = GgufFile::parse(MappedFile::from_bytes("seed.gguf", reinterpret_cast<const uint8_t*>(gguf.data()), gguf.size()));
        for (size_t name_len = 1; name_len <= 2; ++name_len) {
            GgufWriter w(1);
            uint64_t data_bytes = 0;
            for (const auto& [key, v] : f->metadata()) {
                if (key == "general.alignment") continue;
                if (key == "general.name") {
                    w.add_string(key, std::string(name_len, 'x'));  // the knob that moves the data section
                    continue;
                }
                switch (v.type) {
                    case GgufType::U32: w.add_u32(key, static_cast<uint32_t>(v.u)); break;
                    case GgufType::I32: w.add_i32(key, static_cast<int32_t>(v.i)); break;
                    case GgufType::U64: w.add_u64(key, v.u); break;
                    case GgufType::F32: w.add_f32(key, static_cast<float>(v.f)); break;
                    case GgufType::Bool: w.add_bool(key, v.b); break;
                    case GgufType::String: w.add_string(key, std::string(v.str)); break;
                    case GgufType::Array:
                        if (v.elem_type == GgufType::String) {
                            w.add_string_array(key, std::vector<std::string>(v.strings.begin(), v.strings.end()));
                        } else if (v.elem_type == GgufType::I32) {
                            std::vector<int32_t> a(static_cast<size_t>(v.count));
                            if (!a.empty()) std::memcpy(a.data(), v.raw, a.size() * 4);
                            w.add_i32_array(key, a);
                        } else {
                            return std::string();
                        }
                        break;
                    default: return std::string();
                }
            }
            for (const GgufTensor& t : f->tensors()) {
                if (t.dtype < 0) return std::string();
                const GgufTensor* src = &t;  // f outlives write()
                w.add_tensor(t.name, t.shape(), t.dtype, [src](uint8_t* dst, size_t n) { std::memcpy(dst, src->data, n); });
                data_bytes += t.bytes;
            }
            const std::string path = scratch.path() + "/unaligned.gguf";
            w.write(path);
            const std::string out = read_file_or_empty(path);
            if (out.size() >= data_bytes && (out.size() - data_bytes) % 2 == 1) return out;
        }
    } catch (const Error&) {
    }
    return std::string();
}

// Where a GGUF file's metadata and tensor infos end (walking the format; false when the bytes
// are not a well-formed header). Used to cut the goldens' conversions down to seed size.
bool gguf_sections(const std::string& b, uint64_t* kv_end, uint64_t* info_end) {
    uint64_t pos = 24;
    auto need = [&](uint64_t n) { return n <= b.size() && pos <= b.size() - n; };
    auto u32 = [&](uint32_t* v) { if (!need(4)) return false; std::memcpy(v, b.data() + pos, 4); pos += 4; return true; };
    auto u64 = [&](uint64_t* v) { if (!need(8)) return false; std::memcpy(v, b.data() + pos, 8); pos += 8; return true; };
    auto str = [&]() { uint64_t n; return u64(&n) && need(n) && (pos += n, true); };
    auto scalar = [](uint32_t t) -> uint64_t { return t == 0 || t == 1 || t == 7 ? 1 : t <= 3 ? 2 : t <= 6 ? 4 : t >= 10 && t <= 12 ? 8 : 0; };
    if (b.size() < 24 || b.compare(0, 4, "GGUF") != 0) return false;
    uint64_t n_tensors, n_kv;
    std::memcpy(&n_tensors, b.data() + 8, 8);
    std::memcpy(&n_kv, b.data() + 16, 8);
    for (uint64_t i = 0; i < n_kv; ++i) {
        uint32_t type;
        if (!str() || !u32(&type)) return false;
        if (type == 8) {
            if (!str()) return false;
        } else if (type == 9) {
            uint32_t et;
            uint64_t count;
            if (!u32(&et) || !u64(&count)) return false;
            for (uint64_t k = 0; k < count; ++k) {
                if (et == 8 ? !str() : scalar(et) == 0 || !need(scalar(et))) return false;
                if (et != 8) pos += scalar(et);
            }
        } else {
            if (scalar(type) == 0 || !need(scalar(type))) return false;
            pos += scalar(type);
        }
    }
    *kv_end = pos;
    for (uint64_t i = 0; i < n_tensors; ++i) {
        uint32_t n_dims, type;
        uint64_t x;
        if (!str() || !u32(&n_dims) || n_dims > 4) return false;
        for (uint32_t d = 0; d < n_dims; ++d)
            if (!u64(&x)) return false;
        if (!u32(&type) || !u64(&x)) return false;
    }
    *info_end = pos;
    return true;
}

// Little-endian GGUF pieces for the hand-made seeds.
struct GgufBytes {
    std::string b;
    template <class T>
    GgufBytes& put(T v) {
        b.append(reinterpret_cast<const char*>(&v), sizeof v);
        return *this;
    }
    GgufBytes& str(const std::string& s) {
        put<uint64_t>(s.size());
        b += s;
        return *this;
    }
    GgufBytes& key(const std::string& k, uint32_t type) { return str(k).put<uint32_t>(type); }
};

// Every metadata value type (scalars, a string, arrays of each, arrays nested two deep), a
// non-default alignment, and tensors of types Ember reads but does not compute with.
std::string gguf_all_types() {
    GgufBytes h;
    h.b = "GGUF";
    h.put<uint32_t>(3).put<uint64_t>(3).put<uint64_t>(17);
    h.key("general.architecture", 8).str("llama");
    h.key("general.alignment", 4).put<uint32_t>(64);
    h.key("u8", 0).put<uint8_t>(200);
    h.key("i8", 1).put<int8_t>(-100);
    h.key("u16", 2).put<uint16_t>(60000);
    h.key("i16", 3).put<int16_t>(-30000);
    h.key("u32", 4).put<uint32_t>(4000000000u);
    h.key("i32", 5).put<int32_t>(-2000000000);
    h.key("f32", 6).put<float>(1.5f);
    h.key("bool", 7).put<uint8_t>(1);
    h.key("u64", 10).put<uint64_t>(18446744073709551615ull);
    h.key("i64", 11).put<int64_t>(-9223372036854775807ll);
    h.key("f64", 12).put<double>(1e-300);
    h.key("array.u8", 9).put<uint32_t>(0).put<uint64_t>(3).put<uint8_t>(1).put<uint8_t>(2).put<uint8_t>(3);
    h.key("array.f64", 9).put<uint32_t>(12).put<uint64_t>(1).put<double>(2.0);
    h.key("array.string", 9).put<uint32_t>(8).put<uint64_t>(2).str("x").str("");
    h.key("array.nested", 9).put<uint32_t>(9).put<uint64_t>(2);
    h.put<uint32_t>(4).put<uint64_t>(1).put<uint32_t>(7);
    h.put<uint32_t>(9).put<uint64_t>(1).put<uint32_t>(8).put<uint64_t>(1).str("deep");
    // Tensors: Q5_K [256] at 0, I32 [2, 3] at 192, F16 [0, 4] at 256 (empty).
    h.str("q5k").put<uint32_t>(1).put<uint64_t>(256).put<uint32_t>(13).put<uint64_t>(0);
    h.str("i32").put<uint32_t>(2).put<uint64_t>(3).put<uint64_t>(2).put<uint32_t>(26).put<uint64_t>(192);
    h.str("empty").put<uint32_t>(2).put<uint64_t>(4).put<uint64_t>(0).put<uint32_t>(1).put<uint64_t>(256);
    h.b.resize((h.b.size() + 63) / 64 * 64, '\0');
    h.b += std::string(176, '\x11') + std::string(16, '\0') + std::string(24, '\x02') + std::string(40, '\0');
    return h.b;
}

}  // namespace

std::vector<Seed> seeds(const std::string& target, const std::string& source_dir) {
    std::vector<Seed> out;
    const std::string goldens = source_dir + "/tests/goldens/";
    const char* kTypes[3] = {"qwen3", "llama", "llama_bidirec"};
    const char* kDtypes[3] = {"F32", "BF16", "F16"};
    if (target == "safetensors") {
        for (const std::string& g : golden_names(source_dir)) {
            const std::string bytes = read_file_or_empty(goldens + g + "/model.safetensors");
            if (bytes.size() < 8) continue;
            uint64_t n;
            std::memcpy(&n, bytes.data(), 8);
            if (n > bytes.size() - 8) continue;
            // The whole header, a little data: offsets past the end are part of what to test.
            out.push_back({"golden-" + g, bytes.substr(0, static_cast<size_t>(8 + n + 256))});
        }
        for (int i = 0; i < 3; ++i)
            out.push_back({std::string("tiny-") + kTypes[i] + "-" + kDtypes[i],
                           tiny_model(kTypes[i], kDtypes[i], 1).safetensors});
        const auto raw = [](const std::string& header, const std::string& data) {
            const uint64_t n = header.size();
            return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
        };
        out.push_back({"empty-header", raw("{}", "")});
        out.push_back({"metadata-only", raw(R"({"__metadata__":{"format":"pt"}})", "")});
        out.push_back({"all-dtypes",
                       raw(R"({"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
                           R"("b":{"dtype":"F8_E4M3","shape":[2,2],"data_offsets":[16,20]},)"
                           R"("c":{"dtype":"BOOL","shape":[],"data_offsets":[20,21]},)"
                           R"("d":{"dtype":"F32","shape":[0,4],"data_offsets":[21,21]}})",
                           std::string(21, '\x01'))});
    } else if (target == "config_json") {
        for (const std::string& g : golden_names(source_dir)) {
            const std::string text = read_file_or_empty(goldens + g + "/config.json");
            if (!text.empty()) out.push_back({"golden-" + g, text});
        }
        for (const char* type : kTypes) out.push_back({std::string("tiny-") + type, tiny_model(type, "F32", 1).config_json});
        out.push_back({"rope-scaling",
                       R"({"model_type":"llama","hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,)"
                       R"("intermediate_size":16,"vocab_size":16,"rope_scaling":{"rope_type":"llama3","factor":8.0,)"
                       R"("low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}})"});
    } else if (target == "st_json") {
        for (const std::string& g : golden_names(source_dir)) {
            for (const char* f : {"/1_Pooling/config.json", "/modules.json"}) {
                const std::string text = read_file_or_empty(goldens + g + f);
                if (!text.empty()) out.push_back({"golden-" + g + (f[1] == '1' ? "-pooling" : "-modules"), text});
            }
        }
        out.push_back({"index",
                       R"({"metadata":{"total_size":1024},"weight_map":{"embed_tokens.weight":)"
                       R"("model-00001-of-00002.safetensors","norm.weight":"model-00002-of-00002.safetensors"}})"});
    } else if (target == "model_load") {
        for (int i = 0; i < 3; ++i) {
            for (int j = 0; j < 3; ++j) {
                const TinyModel m = tiny_model(kTypes[i], kDtypes[j], 1, static_cast<uint64_t>(3 * i + j + 1));
                const uint8_t flags = static_cast<uint8_t>((i + j) % 4 | (j == 1 ? 4 : 0) | (i == 2 ? 8 : 0) |
                                                           (j == 2 ? 16 : 0));
                out.push_back({std::string("tiny-") + kTypes[i] + "-" + kDtypes[j], model_input(flags, m.config_json, m.safetensors)});
            }
        }
        // A real config with a tiny model's weights: the shapes disagree.
        const std::string qwen3 = read_file_or_empty(goldens + "qwen3-tiny/config.json");
        if (!qwen3.empty())
            out.push_back({"golden-config-tiny-weights", model_input(1, qwen3, tiny_model("qwen3", "F32", 1).safetensors)});
    } else if (target == "gguf" || target == "gguf_load") {
        ScratchDir scratch;
        if (!scratch.ok()) return out;
        // Whole files from ember_convert on synthetic decoders small enough to mutate (< 64 KB):
        // each computable type, each architecture it writes; 32-wide rows for Q8_0 / Q4_0, 256-wide
        // for the K-quants (narrower rows fall back to Q8_0 or F16).
        SynthShape w32;
        w32.H = 32, w32.D = 16, w32.F = 64;
        SynthShape w256;
        w256.H = 256, w256.D = 16, w256.F = 32;
        struct Conv {
            const char* name;
            const char* type;
            int32_t dtype;
            SynthShape shape;
            bool tokenizer;
        };
        const Conv convs[] = {
            {"tiny-qwen3-f32-bpe", "qwen3", EMBER_DTYPE_F32, SynthShape{}, true},
            {"tiny-llama-f16", "llama", EMBER_DTYPE_F16, SynthShape{}, false},
            {"tiny-llama_bidirec-bf16", "llama_bidirec", EMBER_DTYPE_BF16, SynthShape{}, false},
            {"w32-qwen3-q8_0", "qwen3", EMBER_DTYPE_Q8_0, w32, false},
            {"w32-llama-q4_0-bpe", "llama", EMBER_DTYPE_Q4_0, w32, true},
            {"w256-qwen3-q4_k", "qwen3", EMBER_DTYPE_Q4_K, w256, false},
            {"w256-llama_bidirec-q6_k", "llama_bidirec", EMBER_DTYPE_Q6_K, w256, false},
        };
        for (size_t i = 0; i < sizeof convs / sizeof convs[0]; ++i) {
            const Conv& c = convs[i];
            const std::string bytes = convert_synth(scratch, c.name, c.type, c.dtype, c.shape, c.tokenizer, i + 1);
            if (bytes.empty()) continue;
            // gguf_load: alternate 1 and 2 threads.
            out.push_back({c.name, target == "gguf" ? bytes : gguf_load_input(static_cast<uint8_t>(i & 1), bytes)});
            if (i == 1 || i == 3) {
                const std::string moved = unaligned(scratch, bytes);
                if (!moved.empty())
                    out.push_back({std::string(c.name) + "-align1", target == "gguf" ? moved : gguf_load_input(0, moved)});
            }
        }
        if (target == "gguf") {
            // The goldens converted, cut to seed size two ways: the metadata alone (tensor count
            // zeroed, so the file parses and its tokenizer is read), and the header plus the
            // tensor infos and 256 data bytes (tensors past the end are part of what to test).
            struct Golden {
                const char* name;
                int32_t dtype;
                const char* tag;
            };
            const Golden goldens_to_convert[] = {{"qwen3-tiny", EMBER_DTYPE_F32, "f32"}, {"qwen3-tiny", EMBER_DTYPE_Q8_0, "q8_0"},
                                                 {"qwen3-tiny", EMBER_DTYPE_Q4_K, "q4_k"}, {"llama-bidir-tiny", EMBER_DTYPE_F16, "f16"},
                                                 {"llama-bidir-llama3rope-tiny", EMBER_DTYPE_F16, "f16"}};
            for (const Golden& gd : goldens_to_convert) {
                const std::string file = scratch.path() + "/golden-" + gd.name + "-" + gd.tag + ".gguf";
                if (ember_convert((goldens + gd.name).c_str(), file.c_str(), gd.dtype) != EMBER_OK) continue;
                const std::string bytes = read_file_or_empty(file);
                uint64_t kv_end = 0, info_end = 0;
                if (!gguf_sections(bytes, &kv_end, &info_end)) continue;
                std::string meta = bytes.substr(0, kv_end);
                std::memset(&meta[8], 0, 8);
                const std::string stem = std::string("golden-") + gd.name + "-" + gd.tag;
                out.push_back({stem + "-metadata", meta});
                out.push_back({stem + "-head", bytes.substr(0, (info_end + 31) / 32 * 32 + 256)});
            }
            GgufBytes empty;
            empty.b = "GGUF";
            empty.put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(0);
            out.push_back({"empty-v3", empty.b});
            empty.b[4] = 2;
            out.push_back({"empty-v2", empty.b});
            out.push_back({"all-value-types", gguf_all_types()});
        } else {
            // The same file found by its magic instead of its name.
            if (!out.empty()) out.push_back({out[0].name + "-no-extension", gguf_load_input(2, out[0].bytes.substr(1))});
        }
    } else if (target == "model_weights") {
        const char* kTargetTypes[4] = {"qwen3", "llama", "llama_bidirec", "qwen3"};
        for (int c = 0; c < 4; ++c) {
            for (int j = 0; j < 3; ++j) {
                const TinyModel m = tiny_model(kTargetTypes[c], kDtypes[j], c == 3 ? 2 : 1, static_cast<uint64_t>(10 * c + j));
                const uint8_t flags = static_cast<uint8_t>((c << 5) | ((c + j) % 4) | (j == 2 ? 8 : 0) | (c == 1 ? 16 : 0));
                out.push_back({std::string("tiny-") + kTargetTypes[c] + std::to_string(c) + "-" + kDtypes[j],
                               std::string(1, static_cast<char>(flags)) + m.safetensors});
            }
        }
    }
    return out;
}

}  // namespace ember::fuzz
