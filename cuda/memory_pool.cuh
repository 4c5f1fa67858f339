// Device memory for one CUDA backend: a caching allocator so that the activation buffers of every
// forward pass (allocated and freed per call) stop costing cudaMalloc / cudaFree, which
// synchronize the device.
//
// Sizes are rounded up to a class (multiples of 512 bytes below 4 KiB, then 4 steps per power of
// two: at most 25% slack); a freed block waits in its class for the next request of that class.
// Reuse must never let new work overwrite a block that queued kernels still read:
//   - while the backend has had only one stream, a block freed on it is reused on it (stream
//     order makes that safe);
//   - once several streams exist (several calling threads), a freed block gets an event recorded
//     on every stream and is reused, by any stream, only after all of them completed. A stream
//     that is recording a CUDA graph is left out: its owner synchronized it before recording, and
//     the recorded work runs only at replay, on memory the recording's owner holds, so the stream
//     has nothing queued that could read the block (and an event recorded into a capture could not
//     be queried).
// Weights use exact, unpooled allocations (alloc_exact); freeing one calls cudaFree.
// On cudaMalloc failure the pool synchronizes the device, returns every cached block to the
// driver and tries once more; then it throws Error(EMBER_ERR_OUT_OF_MEMORY). The pool stays
// consistent either way. All methods are thread-safe.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ember::cuda {

class DevicePool {
  public:
    explicit DevicePool(int device) : device_(device) {}
    ~DevicePool();
    DevicePool(const DevicePool&) = delete;
    DevicePool& operator=(const DevicePool&) = delete;

    // A block of at least `bytes` for work queued on `stream`; nullptr for 0 bytes.
    void* alloc(size_t bytes, cudaStream_t stream);
    // A block of exactly `bytes` (rounded to 256), not cached when freed.
    void* alloc_exact(size_t bytes, cudaStream_t stream);
    // Gives a block back; `stream` is the calling thread's stream.
    void release(void* p, cudaStream_t stream) noexcept;
    // Every stream that work is queued on (for the events of cross-stream frees).
    void add_stream(cudaStream_t s);
    // Marks a stream as recording a graph (see above), or as running again.
    void set_capturing(cudaStream_t s, bool capturing);

    static size_t size_class(size_t bytes);

    struct Stats {
        size_t live_bytes = 0, cached_bytes = 0, peak_bytes = 0;
        size_t mallocs = 0, reuses = 0;
    };
    Stats stats() const;

  private:
    struct Block {
        size_t size = 0;
        bool pooled = true;
    };
    struct Pending {
        void* p;
        size_t size;
        std::vector<cudaEvent_t> events;
    };
    void* malloc_or_throw(size_t bytes);
    void poll_pending_locked();
    void free_cached_locked();
    cudaEvent_t event_locked();

    const int device_;
    mutable std::mutex mu_;
    std::unordered_map<void*, Block> live_;
    // (owner stream, size class) -> blocks; owner nullptr: idle, usable by any stream.
    std::multimap<std::pair<cudaStream_t, size_t>, void*> free_;
    std::deque<Pending> pending_;
    std::vector<cudaStream_t> streams_, capturing_;
    std::vector<cudaEvent_t> spare_events_;
    Stats stats_;
};

}  // namespace ember::cuda
