// Fuzz targets: every parser of bytes from a downloaded model, each behind one function that
// takes the raw bytes. A target returns normally for any input; a clean ember::Error (caught
// inside) is a pass. Crashes, sanitizer reports, std::terminate and abort() are findings; so is
// a state the caller could not have caused (EMBER_ERR_INTERNAL, a loaded model that then fails
// to embed a valid batch): those call fuzz_fail, which aborts with a message.
//
// The libFuzzer executables (fuzz_main.cpp, EMBER_FUZZ=ON, clang) call these; so does
// test_fuzz_regressions.cpp in every build, replaying tests/fuzz-regressions/<target>/* and the
// seeds below, so a fixed crash stays fixed without clang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ember::fuzz {

using TargetFn = void (*)(const uint8_t* data, size_t size);

struct Target {
    const char* name;  // also the folder name under tests/fuzz-regressions and the corpus name
    TargetFn fn;
};

// safetensors header + tensor table (SafetensorsArchive::open_memory), then every tensor's
// bytes are read (ASan checks each accepted range) and looked up through the weight source.
void safetensors(const uint8_t* data, size_t size);
// config.json: parse_json + parse_decoder_config (+ the RoPE section), and the invariants the
// model code relies on afterwards.
void config_json(const uint8_t* data, size_t size);
// The other JSON files of a model folder: 1_Pooling/config.json, modules.json and
// model.safetensors.index.json, all three interpreters on the same document.
void st_json(const uint8_t* data, size_t size);
// Bytes to a model handle: a model folder written from the input (layout: see model_load in
// fuzz_targets.cpp), ember_model_load, then ember_embed / ember_forward_hidden on a
// short ragged batch, then ember_model_free. EMBER_FUZZ_VERBOSE=1 prints each load's status.
void model_load(const uint8_t* data, size_t size);
// The same path with one of four valid tiny configs (qwen3, llama, llama_bidirec; 1 or 2 layers)
// and only model.safetensors fuzzed, so mutations go into the tensor table and weights instead
// of breaking config.json's syntax. Byte 0: model_load's flags in bits 0-4, the config in 5-6.
void model_weights(const uint8_t* data, size_t size);
// A GGUF file (GgufFile::parse: header, metadata, tensor infos, alignment, data offsets), then
// every accepted tensor's bytes are read (and a row of each computable one decoded), the typed
// getters run on every key, gguf_decoder_spec maps the metadata to a decoder config (checked
// like config_json's), the weight source answers every Hugging Face name, and the tokenizer
// metadata is rebuilt as JSON (gguf_tokenizer_json), which must parse.
void gguf(const uint8_t* data, size_t size);
// Bytes to a model handle through a GGUF file: byte 0 = flags (bit 0: 2 CPU threads; bit 1: the
// file is named "model" instead of "model.gguf", found by its magic), the rest is the file.
// ember_gguf_tokenizer_json on it, then ember_model_load / ember_embed / ember_forward_hidden /
// ember_model_free as model_load does.
void gguf_load(const uint8_t* data, size_t size);

const std::vector<Target>& targets();
const Target* find_target(const std::string& name);

// Seed inputs for a target: files derived from tests/goldens (configs whole, safetensors cut to
// their header plus a little data) and synthetic tiny models; for the GGUF targets, what
// ember_convert writes for synthetic decoders (whole, one per weight type) and for the goldens
// (cut to their metadata, or to the tensor infos plus a little data). `source_dir` is the checkout.
struct Seed {
    std::string name;
    std::string bytes;
};
std::vector<Seed> seeds(const std::string& target, const std::string& source_dir);

// The model_load input for a folder's parts (what seeds() builds for that target).
std::string model_input(uint8_t flags, const std::string& config_json, const std::string& safetensors);

// The gguf_load input for flags and a GGUF file's bytes.
std::string gguf_load_input(uint8_t flags, const std::string& gguf);

// A complete tiny model (config.json text and model.safetensors bytes) for tests: hidden 8,
// `layers` layers, 2 heads of 4 (1 kv head), ffn 16, vocab 16. model_type: qwen3, llama or
// llama_bidirec; dtype: F32, BF16 or F16.
struct TinyModel {
    std::string config_json;
    std::string safetensors;
};
TinyModel tiny_model(const std::string& model_type, const std::string& dtype, int layers = 2, uint64_t seed = 1);

[[noreturn]] void fuzz_fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace ember::fuzz
