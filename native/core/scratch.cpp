#include "core/scratch.h"

#include <cstdlib>
#include <memory>
#include <new>

namespace ember {

namespace {

struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
};

struct Scratch {
    std::unique_ptr<float, FreeDeleter> data;
    size_t capacity = 0;
};

thread_local Scratch t_scratch;

}  // namespace

float* thread_scratch(size_t floats) {
    Scratch& s = t_scratch;
    if (floats > s.capacity || !s.data) {
        // Round up to whole 64-byte lines (aligned_alloc wants a multiple of the alignment).
        const size_t bytes = ((floats == 0 ? 1 : floats) * sizeof(float) + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, bytes);
        if (p == nullptr) throw std::bad_alloc();
        s.data.reset(static_cast<float*>(p));
        s.capacity = bytes / sizeof(float);
    }
    return s.data.get();
}

}  // namespace ember
