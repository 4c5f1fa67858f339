// Hugging Face safetensors checkpoints, single file or sharded with model.safetensors.index.json.
// Files are memory-mapped; the header is untrusted and every dtype, shape and offset is checked
// against the file before a tensor is handed out.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/mapped_file.h"

namespace ember {

struct TensorView {
    std::string name;
    std::string st_dtype;       // as written in the header: "F32", "BF16", "I64", ...
    int32_t dtype = -1;         // ember_dtype for F32/F16/BF16, -1 for types Ember does not compute with
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr;
    uint64_t bytes = 0;
    std::shared_ptr<MappedFile> file;  // keeps the mapping alive

    int64_t numel() const;
    std::string shape_string() const;
};

class SafetensorsArchive {
  public:
    // `dir` holds model.safetensors or model.safetensors.index.json (+ shards).
    static std::unique_ptr<SafetensorsArchive> open_dir(const std::string& dir);
    // One file.
    static std::unique_ptr<SafetensorsArchive> open_file(const std::string& path);
    // One file's bytes, already in memory (copied); `name` stands for the file in messages.
    // The same checks as open_file: the fuzz harness's entry point.
    static std::unique_ptr<SafetensorsArchive> open_memory(const std::string& name, const uint8_t* data, size_t size);

    // Looks `name` up as given, then with a "model." prefix added or removed (both spellings
    // occur in published checkpoints). nullptr when absent.
    const TensorView* find(const std::string& name) const;
    // Like find, but fails with EMBER_ERR_MODEL_MALFORMED ("missing tensor") when absent.
    const TensorView& get(const std::string& name) const;
    // Like get, and checks the shape exactly.
    const TensorView& get(const std::string& name, const std::vector<int64_t>& shape) const;

    const std::map<std::string, TensorView>& tensors() const { return tensors_; }
    std::string describe() const { return source_; }

  private:
    void add_file(const std::shared_ptr<MappedFile>& file, const std::vector<std::string>* only);

    std::map<std::string, TensorView> tensors_;
    std::string source_;
};

// model.safetensors.index.json: the tensor names of each shard, by shard file name. Shard names
// are checked to be plain file names (no path separators, not "." or ".."). `what` names the file
// in errors.
std::map<std::string, std::vector<std::string>> parse_shard_index(const Json& index, const std::string& what);

}  // namespace ember
