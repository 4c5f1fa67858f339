// Recognizes what a path holds and builds the matching architecture.
#include <cstdio>
#include <cstring>
#include <string>

#include "core/error.h"
#include "io/mapped_file.h"
#include "core/dtype.h"
#include "model/causal2vec_model.h"
#include "model/config.h"
#include "model/decoder_model.h"
#include "model/families.h"
#include "model/gguf_model.h"
#include "model/model.h"
#include "model/nvembed_model.h"
#include "model/weight_source.h"

namespace ember {

namespace {

// Checked for every backend, so that a bad value fails where it is written, not on the next
// machine that has a GPU.
CudaSettings cuda_settings(const ember_load_options& opts) {
    EMBER_CHECK_ARG(opts.cuda_precision >= EMBER_CUDA_PRECISION_DEFAULT && opts.cuda_precision <= EMBER_CUDA_PRECISION_FP32,
                    "cuda_precision %d: expected 0 (default), 1 (fast) or 2 (fp32)", opts.cuda_precision);
    for (const auto& [value, name] : {std::pair{opts.cuda_graphs, "cuda_graphs"}, std::pair{opts.cuda_cublaslt, "cuda_cublaslt"}})
        EMBER_CHECK_ARG(value >= EMBER_SWITCH_DEFAULT && value <= EMBER_SWITCH_OFF,
                        "%s %d: expected 0 (default), 1 (on) or 2 (off)", name, value);
    return CudaSettings{opts.cuda_precision, opts.cuda_graphs, opts.cuda_cublaslt};
}

std::unique_ptr<Backend> make_backend(const ember_load_options& opts) {
    const CudaSettings cuda = cuda_settings(opts);
    switch (opts.backend) {
        case EMBER_BACKEND_CPU: return make_cpu_backend(opts.threads);
        case EMBER_BACKEND_CUDA: return make_cuda_backend(opts.device, cuda);
        case EMBER_BACKEND_AUTO: {
            std::string reason;
            if (cuda_device_count(&reason) > 0) {
                try {
                    return make_cuda_backend(opts.device, cuda);
                } catch (const Error& e) {
                    if (e.status() != EMBER_ERR_BACKEND_UNAVAILABLE) throw;
                }
            }
            return make_cpu_backend(opts.threads);
        }
        default: EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, "unknown backend %d", opts.backend);
    }
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// What ember_model_describe reports for any model: its own facts, shape, memory, backend.
Json describe_model(const Model& m) {
    const ember_model_info& info = m.info();
    Json d = m.describe();
    d["attention"] = info.causal ? "causal" : "bidirectional";
    d["pooling"] = pooling_name(info.pooling);
    d["hidden_size"] = info.hidden_size;
    d["embedding_size"] = info.embedding_size;
    d["weight_dtype"] = dtype_info(info.weight_dtype) ? dtype_info(info.weight_dtype)->name : "?";
    Json mem = Json::object();
    mem["weight_bytes"] = info.weight_bytes;
    mem["activation_bytes_per_token"] = m.activation_bytes_per_token();
    d["memory"] = mem;
    d["backend"] = m.backend().describe();
    return d;
}

// A Hugging Face folder's description adds the family's facts and the folder's prompts.
std::string describe(const Model& m, const Family& family, const Json& config, const std::string& dir) {
    Json d = describe_model(m);
    d["family"] = family.name;
    if (const Json* a = json_find(config, "architectures"); a != nullptr) d["architectures"] = *a;
    d["model_type"] = json_string_or(config, "model_type", "", "config.json");
    d["eos"] = family.eos;
    d["instruction_masking"] = family.mask_instruction;
    d["prompts"] = describe_prompts(family, dir);
    d["note"] = family.note;
    return d.dump();
}

std::unique_ptr<Model> load_hf_folder(const std::string& dir, const ember_load_options& opts) {
    const std::string config_path = join_path(dir, "config.json");
    if (!file_exists(config_path))
        EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "%s has no config.json (expected a Hugging Face model folder or a .gguf file)",
                   dir.c_str());
    const Json config = read_json_file(config_path);
    if (!config.is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "config.json is not a JSON object");
    const Family& family = recognize_family(config, "config.json");
    // Read early so that a malformed file fails before any weights are touched.
    describe_prompts(family, dir);

    std::unique_ptr<Model> model;
    if (family.kind == FamilyKind::Decoder) {
        DecoderModelSpec spec;
        spec.decoder = parse_decoder_config(config, "config.json");
        if (family.attention != AttentionDefault::FromConfig)
            spec.decoder.causal = family.attention == AttentionDefault::Causal;
        apply_long_context_options(spec.decoder, opts);
        spec.family = family.name;
        spec.pooling = family.pooling;
        const int32_t st_pooling = read_st_pooling(dir);
        if (st_pooling >= 0) spec.pooling = st_pooling;
        // Parse and check everything from files before allocating a backend.
        auto weights = make_safetensors_source(SafetensorsArchive::open_dir(dir));
        model = make_decoder_model(spec, make_backend(opts), std::move(weights));
    } else {
        auto weights = make_safetensors_source(SafetensorsArchive::open_dir(dir));
        model = family.kind == FamilyKind::NvEmbed
                    ? make_nvembed_model(config, family, opts, make_backend(opts), std::move(weights))
                    : make_causal2vec_model(config, family, opts, make_backend(opts), std::move(weights));
    }
    model->set_description(describe(*model, family, config, dir));
    return model;
}

bool looks_like_gguf(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return false;
    char magic[4] = {};
    const bool ok = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
    std::fclose(f);
    return ok;
}

std::unique_ptr<Model> load_gguf(const std::string& path, const ember_load_options& opts) {
    auto file = GgufFile::open(path);
    DecoderModelSpec spec = gguf_decoder_spec(*file);
    apply_long_context_options(spec.decoder, opts);
    // Parse and check everything from the file before allocating a backend.
    auto weights = make_gguf_source(std::move(file));
    auto model = make_decoder_model(spec, make_backend(opts), std::move(weights));
    Json d = describe_model(*model);
    d["format"] = "gguf";
    d["family"] = spec.family;
    d["model_type"] = spec.decoder.model_type;
    model->set_description(d.dump());
    return model;
}

}  // namespace

std::unique_ptr<Model> load_model(const std::string& path, const ember_load_options& opts) {
    check_long_context_options(opts);  // bad options fail before any file is read
    if (is_directory(path)) return load_hf_folder(path, opts);
    if (!file_exists(path)) EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "model path %s does not exist", path.c_str());
    if (ends_with(path, ".gguf") || looks_like_gguf(path)) return load_gguf(path, opts);
    EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s is neither a model folder nor a .gguf file", path.c_str());
}

}  // namespace ember
