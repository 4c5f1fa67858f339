#include "core/thread_pool.h"

#include <pthread.h>

#include <algorithm>

#include "core/error.h"

namespace ember {

namespace {
thread_local bool t_inside_job = false;
}

int ThreadPool::hardware_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads) {
    if (threads <= 0) threads = hardware_threads();
    EMBER_CHECK_ARG(threads <= kMaxThreads, "%d threads requested; at most %d are supported", threads, kMaxThreads);
    try {
        workers_.reserve(static_cast<size_t>(threads - 1));
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
    } catch (const std::exception& e) {
        // A std::thread still joinable when the vector is destroyed would call std::terminate and
        // take the JVM with it: stop the workers that did start, then report.
        stop_workers();
        if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) throw;
        EMBER_FAIL(EMBER_ERR_OUT_OF_MEMORY, "cannot start %d worker threads (started %zu): %s", threads - 1,
                   workers_.size(), e.what());
    }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() noexcept {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_)
        if (t.joinable()) t.join();
}

void ThreadPool::run_chunks() {
    const bool was_inside = t_inside_job;
    t_inside_job = true;
    for (;;) {
        int64_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
        if (begin >= n_) break;
        int64_t end = std::min(n_, begin + chunk_);
        try {
            (*fn_)(begin, end);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
            next_.store(n_, std::memory_order_relaxed);  // stop handing out work
        }
    }
    t_inside_job = was_inside;
}

void ThreadPool::worker_loop() {
    // Named so that leak checks (and people reading top -H) can count Ember's threads.
    pthread_setname_np(pthread_self(), "ember-worker");
    uint64_t seen = 0;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
        }
        run_chunks();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (--active_ == 0) done_.notify_one();
        }
    }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    if (workers_.empty() || t_inside_job || n <= grain) {
        fn(0, n);
        return;
    }
    std::lock_guard<std::mutex> submit(submit_mutex_);
    const int64_t threads = size();
    // About four chunks per thread balances uneven chunks without much claiming traffic.
    int64_t chunk = std::max<int64_t>(grain, (n + threads * 4 - 1) / (threads * 4));
    {
        std::lock_guard<std::mutex> lock(mutex_);
        fn_ = &fn;
        n_ = n;
        chunk_ = chunk;
        next_.store(0, std::memory_order_relaxed);
        error_ = nullptr;
        active_ = static_cast<int>(workers_.size());
        ++generation_;
    }
    wake_.notify_all();
    run_chunks();
    {
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return active_ == 0; });
        fn_ = nullptr;
    }
    if (error_) std::rethrow_exception(error_);
}

}  // namespace ember
