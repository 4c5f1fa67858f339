// A small fixed pool of worker threads for the CPU kernels.
//
// parallel_for splits [0, n) into chunks claimed dynamically by the workers and the calling
// thread. Calls from several threads at once are serialized (one job runs at a time, op by op),
// which keeps every core busy without oversubscription; a call made from inside a job runs
// inline. An exception thrown by a chunk is rethrown on the calling thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ember {

class ThreadPool {
  public:
    // Upper bound on `threads`: a typo or a hostile option must not start a million threads.
    static constexpr int kMaxThreads = 4096;

    // `threads` counts the calling thread; <= 0 means the number of hardware threads. Throws
    // Error(INVALID_ARGUMENT) above kMaxThreads and Error(OUT_OF_MEMORY) when the system refuses
    // a thread (the workers already started are stopped first).
    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    // fn(begin, end) over chunks of at least `grain` items covering [0, n).
    void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

    static int hardware_threads();

  private:
    void worker_loop();
    void stop_workers() noexcept;
    void run_chunks();

    std::vector<std::thread> workers_;
    std::mutex submit_mutex_;  // one job at a time

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    uint64_t generation_ = 0;
    bool stop_ = false;
    int active_ = 0;  // workers still inside the current job

    const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
    int64_t n_ = 0;
    int64_t chunk_ = 1;
    std::atomic<int64_t> next_{0};
    std::exception_ptr error_;
    std::mutex error_mutex_;
};

}  // namespace ember
