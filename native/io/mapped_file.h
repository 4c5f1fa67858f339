// Read-only memory mapping of a whole file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ember {

class MappedFile {
  public:
    // Throws Error(EMBER_ERR_MODEL_NOT_FOUND) when the file cannot be opened.
    static std::shared_ptr<MappedFile> open(const std::string& path);
    // The same interface over bytes already in memory (copied into an exactly sized heap block, so
    // AddressSanitizer sees a read one byte past the end). For the fuzz harnesses and tests.
    static std::shared_ptr<MappedFile> from_bytes(const std::string& name, const uint8_t* data, size_t size);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

    // True when [offset, offset + length) lies inside the file (overflow-safe).
    bool contains(uint64_t offset, uint64_t length) const {
        return offset <= size_ && length <= size_ - offset;
    }

  private:
    MappedFile() = default;
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    bool mapped_ = false;  // data_ is an mmap (else a new[] block, or null when empty)
};

// Whole small file as a string (configs). Throws MODEL_NOT_FOUND when absent, MODEL_MALFORMED
// when larger than `max_bytes`.
std::string read_text_file(const std::string& path, size_t max_bytes = 64u << 20);
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace ember
