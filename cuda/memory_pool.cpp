#include "memory_pool.cuh"

#include <algorithm>

#include "core/error.h"

namespace ember::cuda {

namespace {

size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

}  // namespace

size_t DevicePool::size_class(size_t bytes) {
    if (bytes <= 4096) return std::max<size_t>(512, round_up(bytes, 512));
    int e = 63 - __builtin_clzll(static_cast<unsigned long long>(bytes - 1));  // 2^e < bytes <= 2^(e+1)
    return round_up(bytes, size_t(1) << (e - 2));
}

DevicePool::~DevicePool() {
    int prev = -1;
    cudaGetDevice(&prev);
    cudaSetDevice(device_);
    cudaDeviceSynchronize();
    for (auto& kv : free_) cudaFree(kv.second);
    for (auto& pd : pending_) {
        cudaFree(pd.p);
        for (cudaEvent_t e : pd.events) cudaEventDestroy(e);
    }
    for (auto& kv : live_) cudaFree(kv.first);
    for (cudaEvent_t e : spare_events_) cudaEventDestroy(e);
    (void)cudaGetLastError();
    if (prev >= 0) cudaSetDevice(prev);
}

void DevicePool::add_stream(cudaStream_t s) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.push_back(s);
}

void DevicePool::set_capturing(cudaStream_t s, bool capturing) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(capturing_.begin(), capturing_.end(), s);
    if (capturing && it == capturing_.end()) capturing_.push_back(s);
    if (!capturing && it != capturing_.end()) capturing_.erase(it);
}

cudaEvent_t DevicePool::event_locked() {
    if (!spare_events_.empty()) {
        cudaEvent_t e = spare_events_.back();
        spare_events_.pop_back();
        return e;
    }
    cudaEvent_t e = nullptr;
    if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
        (void)cudaGetLastError();
        return nullptr;
    }
    return e;
}

void DevicePool::poll_pending_locked() {
    for (auto it = pending_.begin(); it != pending_.end();) {
        bool done = true;
        for (cudaEvent_t e : it->events) {
            const cudaError_t q = cudaEventQuery(e);
            if (q == cudaErrorNotReady) {
                done = false;
                break;
            }
            if (q != cudaSuccess) (void)cudaGetLastError();  // a fault is reported at the next sync
        }
        if (!done) {
            ++it;
            continue;
        }
        for (cudaEvent_t e : it->events) spare_events_.push_back(e);
        free_.emplace(std::make_pair(static_cast<cudaStream_t>(nullptr), it->size), it->p);
        stats_.cached_bytes += it->size;
        it = pending_.erase(it);
    }
}

void DevicePool::free_cached_locked() {
    for (auto& kv : free_) {
        cudaFree(kv.second);
        stats_.cached_bytes -= kv.first.second;
    }
    free_.clear();
    (void)cudaGetLastError();
}

void* DevicePool::malloc_or_throw(size_t bytes) {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, bytes);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();  // allocation failures are not sticky
        // Everything queued finishes, every cached block goes back to the driver, one more try.
        cudaDeviceSynchronize();
        (void)cudaGetLastError();
        poll_pending_locked();
        free_cached_locked();
        err = cudaMalloc(&p, bytes);
    }
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        (void)cudaGetLastError();
        EMBER_FAIL(EMBER_ERR_OUT_OF_MEMORY,
                   "CUDA device %d: out of memory allocating %.1f MiB (%.1f MiB free of %.1f MiB, %.1f MiB in use by "
                   "this model): %s",
                   device_, bytes / 1048576.0, free_b / 1048576.0, total_b / 1048576.0, stats_.live_bytes / 1048576.0,
                   cudaGetErrorString(err));
    }
    ++stats_.mallocs;
    return p;
}

void* DevicePool::alloc(size_t bytes, cudaStream_t stream) {
    if (bytes == 0) return nullptr;
    const size_t cls = size_class(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_.empty()) poll_pending_locked();
    void* p = nullptr;
    for (cudaStream_t owner : {stream, static_cast<cudaStream_t>(nullptr)}) {
        auto it = free_.find(std::make_pair(owner, cls));
        if (it != free_.end()) {
            p = it->second;
            free_.erase(it);
            stats_.cached_bytes -= cls;
            ++stats_.reuses;
            break;
        }
    }
    if (p == nullptr) p = malloc_or_throw(cls);
    live_[p] = Block{cls, true};
    stats_.live_bytes += cls;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
    return p;
}

void* DevicePool::alloc_exact(size_t bytes, cudaStream_t) {
    if (bytes == 0) return nullptr;
    const size_t size = round_up(bytes, 256);
    std::lock_guard<std::mutex> lock(mu_);
    void* p = malloc_or_throw(size);
    live_[p] = Block{size, false};
    stats_.live_bytes += size;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
    return p;
}

void DevicePool::release(void* p, cudaStream_t stream) noexcept {
    if (p == nullptr) return;
    try {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = live_.find(p);
        if (it == live_.end()) return;
        const Block b = it->second;
        live_.erase(it);
        stats_.live_bytes -= b.size;
        if (!b.pooled) {
            cudaDeviceSynchronize();  // queued work may still read it
            cudaFree(p);
            (void)cudaGetLastError();
            return;
        }
        if (streams_.size() <= 1) {
            free_.emplace(std::make_pair(stream, b.size), p);
            stats_.cached_bytes += b.size;
            return;
        }
        Pending pd{p, b.size, {}};
        for (cudaStream_t s : streams_) {
            if (std::find(capturing_.begin(), capturing_.end(), s) != capturing_.end()) continue;
            cudaEvent_t e = event_locked();
            if (e == nullptr || cudaEventRecord(e, s) != cudaSuccess) {
                // Cannot fence it: wait for everything instead.
                if (e) spare_events_.push_back(e);
                for (cudaEvent_t x : pd.events) spare_events_.push_back(x);
                (void)cudaGetLastError();
                cudaDeviceSynchronize();
                (void)cudaGetLastError();
                free_.emplace(std::make_pair(static_cast<cudaStream_t>(nullptr), b.size), p);
                stats_.cached_bytes += b.size;
                return;
            }
            pd.events.push_back(e);
        }
        pending_.push_back(std::move(pd));
    } catch (...) {
        // Bookkeeping failed (host memory): the block leaks rather than risk a double use.
    }
}

DevicePool::Stats DevicePool::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
}

}  // namespace ember::cuda
