// Recognizes what a path holds and builds the matching architecture.
#include <cstdio>
#include <cstring>
#include <string>

#include "core/error.h"
#include "io/mapped_file.h"
#include "model/config.h"
#include "model/decoder_model.h"
#include "model/gguf_model.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace ember {

namespace {

std::unique_ptr<Backend> make_backend(const ember_load_options& opts) {
    switch (opts.backend) {
        case EMBER_BACKEND_CPU: return make_cpu_backend(opts.threads);
        case EMBER_BACKEND_CUDA: return make_cuda_backend(opts.device);
        case EMBER_BACKEND_AUTO: {
            std::string reason;
            if (cuda_device_count(&reason) > 0) {
                try {
                    return make_cuda_backend(opts.device);
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

std::unique_ptr<Model> load_hf_folder(const std::string& dir, const ember_load_options& opts) {
    const std::string config_path = join_path(dir, "config.json");
    if (!file_exists(config_path))
        EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "%s has no config.json (expected a Hugging Face model folder or a .gguf file)",
                   dir.c_str());
    const Json config = read_json_file(config_path);
    if (!config.is_object()) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "config.json is not a JSON object");
    const std::string model_type = json_string_or(config, "model_type", "", "config.json");

    if (model_type == "nvembed" || model_type == "causal2vec")
        EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "model_type \"%s\" is not supported yet", model_type.c_str());

    DecoderModelSpec spec;
    spec.decoder = parse_decoder_config(config, "config.json");
    if (model_type == "qwen3") {
        spec.family = "qwen3-embedding";
        spec.pooling = EMBER_POOLING_LAST;
    } else if (!spec.decoder.causal) {
        spec.family = model_type == "llama_bidirec" ? "llama-embed-nemotron" : "bidirectional-decoder";
        spec.pooling = EMBER_POOLING_MEAN;
    } else {
        spec.family = "decoder";
        spec.pooling = EMBER_POOLING_LAST;
    }
    const int32_t st_pooling = read_st_pooling(dir);
    if (st_pooling >= 0) spec.pooling = st_pooling;

    // Parse and check everything from files before allocating a backend.
    auto weights = make_safetensors_source(SafetensorsArchive::open_dir(dir));
    return make_decoder_model(spec, make_backend(opts), std::move(weights));
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
    const DecoderModelSpec spec = gguf_decoder_spec(*file);
    // Parse and check everything from the file before allocating a backend.
    auto weights = make_gguf_source(std::move(file));
    return make_decoder_model(spec, make_backend(opts), std::move(weights));
}

}  // namespace

std::unique_ptr<Model> load_model(const std::string& path, const ember_load_options& opts) {
    if (is_directory(path)) return load_hf_folder(path, opts);
    if (!file_exists(path)) EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "model path %s does not exist", path.c_str());
    if (ends_with(path, ".gguf") || looks_like_gguf(path)) return load_gguf(path, opts);
    EMBER_FAIL(EMBER_ERR_MODEL_UNSUPPORTED, "%s is neither a model folder nor a .gguf file", path.c_str());
}

}  // namespace ember
