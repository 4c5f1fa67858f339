#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace ember {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "cannot open %s: %s", path.c_str(), std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "%s is not a regular file", path.c_str());
    }
    std::shared_ptr<MappedFile> file(new MappedFile());
    file->path_ = path;
    file->size_ = static_cast<size_t>(st.st_size);
    if (file->size_ > 0) {
        void* p = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            EMBER_FAIL(err == ENOMEM ? EMBER_ERR_OUT_OF_MEMORY : EMBER_ERR_MODEL_NOT_FOUND,
                       "cannot map %s: %s", path.c_str(), std::strerror(err));
        }
        file->data_ = static_cast<const uint8_t*>(p);
        file->mapped_ = true;
    }
    ::close(fd);  // the mapping stays valid
    return file;
}

std::shared_ptr<MappedFile> MappedFile::from_bytes(const std::string& name, const uint8_t* data, size_t size) {
    std::shared_ptr<MappedFile> file(new MappedFile());
    file->path_ = name;
    file->size_ = size;
    if (size > 0) {
        uint8_t* copy = new uint8_t[size];
        std::memcpy(copy, data, size);
        file->data_ = copy;
    }
    return file;
}

MappedFile::~MappedFile() {
    if (data_ == nullptr) return;
    if (mapped_) {
        munmap(const_cast<uint8_t*>(data_), size_);
    } else {
        delete[] data_;
    }
}

bool file_exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string join_path(const std::string& dir, const std::string& name) {
    if (dir.empty() || dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

std::string read_text_file(const std::string& path, size_t max_bytes) {
    if (!file_exists(path)) EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "missing file %s", path.c_str());
    std::ifstream in(path, std::ios::binary);
    if (!in) EMBER_FAIL(EMBER_ERR_MODEL_NOT_FOUND, "cannot read %s", path.c_str());
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    if (size < 0 || static_cast<uint64_t>(size) > max_bytes)
        EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "%s is too large (%lld bytes)", path.c_str(), (long long)size);
    in.seekg(0);
    std::string text(static_cast<size_t>(size), '\0');
    in.read(text.data(), size);
    if (!in) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, "short read on %s", path.c_str());
    return text;
}

}  // namespace ember
