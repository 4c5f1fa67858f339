// Per-thread scratch memory for the CPU kernels: 64-byte aligned, grown on demand and kept for the
// life of the thread, so hot loops never allocate (a fresh multi-page allocation per task would
// cost page faults on every call).
#pragma once

#include <cstddef>

namespace ember {

// At least `floats` floats, 64-byte aligned, owned by the calling thread. The previous contents
// are not kept when it grows. One user at a time: a kernel takes it at the start of a task and
// does not call another kernel while using it.
float* thread_scratch(size_t floats);

}  // namespace ember
