#include "fuzz/fuzz_targets.h"

#include <dirent.h>
#include <fcntl.h>
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
#include "core/half.h"
#include "ember/ember.h"
#include "ember/kernels.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/rope_freqs.h"
#include "model/weight_source.h"

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
        // What the decoder relies on once the config is accepted.
        const bool ok = c.hidden_size > 0 && c.num_layers > 0 && c.num_heads > 0 && c.num_kv_heads > 0 &&
                        c.num_heads % c.num_kv_heads == 0 && c.head_dim > 0 && c.head_dim % 2 == 0 &&
                        c.head_dim <= EMBER_MAX_HEAD_DIM && c.intermediate_size > 0 && c.vocab_size > 0 &&
                        c.max_positions > 0 && std::isfinite(c.rms_eps) && c.rms_eps > 0 &&
                        std::isfinite(static_cast<float>(c.rms_eps)) && std::isfinite(c.rope.theta) &&
                        c.rope.theta > 1 && c.rope.factor >= 0 && std::isfinite(c.rope.factor);
        if (!ok) fuzz_fail("config.json: accepted a config the decoder cannot use");
        const RopeFrequencies f = compute_rope_frequencies(c.rope, c.head_dim, c.max_positions, 16);
        if (f.inv_freq.size() != static_cast<size_t>(c.head_dim / 2)) fuzz_fail("config.json: %zu RoPE frequencies", f.inv_freq.size());
        std::vector<float> cos, sin;
        build_rope_table(f, 4, cos, sin);
        for (size_t i = 0; i < cos.size(); ++i)
            if (!std::isfinite(cos[i]) || !std::isfinite(sin[i])) fuzz_fail("config.json: RoPE table is not finite");
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

// The files run_model_folder may leave there.
const char* const kFolderFiles[] = {"config.json", "1_Pooling/config.json", "modules.json", "model.safetensors",
                                    "model-00001-of-00001.safetensors", "model.safetensors.index.json"};

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

    ember_load_options opts;
    ember_load_options_init(&opts);
    opts.backend = EMBER_BACKEND_CPU;
    opts.threads = (flags & 16) ? 2 : 1;
    ember_model* model = nullptr;
    const ember_status st_load = ember_model_load(dir.c_str(), &opts, &model);
    static const bool verbose = std::getenv("EMBER_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "model_load: load status %d %s\n", st_load, ember_last_error());
    if (st_load != EMBER_OK) {
        if (model != nullptr) fuzz_fail("load failed (%d) but returned a handle", st_load);
        if (st_load == EMBER_ERR_INTERNAL || st_load == EMBER_ERR_INVALID_ARGUMENT)
            fuzz_fail("load: status %d for bad file content: %s", st_load, ember_last_error());
        if (ember_last_error()[0] == '\0') fuzz_fail("load: status %d without a message", st_load);
        return;
    }
    ember_model_info info;
    if (ember_model_get_info(model, &info) != EMBER_OK) fuzz_fail("get_info: %s", ember_last_error());
    if (info.vocab_size <= 0 || info.hidden_size <= 0 || info.embedding_size <= 0)
        fuzz_fail("loaded model with vocab %d, hidden %d, embedding %d", info.vocab_size, info.hidden_size,
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
        fuzz_fail("a loaded model failed to embed a valid batch (status %d): %s", s, ember_last_error());
    int64_t rows = 0;
    s = ember_hidden_rows(model, &batch, &rows);
    if (s != EMBER_OK || rows < 0 || rows > 1024) fuzz_fail("hidden_rows: status %d, %lld rows", s, (long long)rows);
    std::vector<float> hidden(static_cast<size_t>(rows) * info.hidden_size);
    s = ember_forward_hidden(model, &batch, hidden.data(), hidden.size());
    if (s != EMBER_OK && s != EMBER_ERR_OUT_OF_MEMORY)
        fuzz_fail("a loaded model failed forward_hidden on a valid batch (status %d): %s", s, ember_last_error());
    ember_model_free(model);
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

// ---------------------------------------------------------------------------------- registry

const std::vector<Target>& targets() {
    static const std::vector<Target> all = {
        {"safetensors", &safetensors},
        {"config_json", &config_json},
        {"st_json", &st_json},
        {"model_load", &model_load},
        {"model_weights", &model_weights},
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

TinyModel tiny_model(const std::string& model_type, const std::string& dtype, int layers, uint64_t seed) {
    const int H = 8, heads = 2, kv = 1, D = 4, F = 16, V = 16;
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

std::string model_input(uint8_t flags, const std::string& config_json, const std::string& safetensors) {
    std::string out(1, static_cast<char>(flags));
    out += config_json;
    out += '\0';
    return out + safetensors;
}

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
