#include "parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace zipsift {

int usable_cores() {
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
        int n = CPU_COUNT(&mask);
        if (n > 0) return n;
    }
    unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? static_cast<int>(hw) : 1;
}

int resolve_threads(int threads) {
    if (threads < 0)
        throw std::invalid_argument("threads must be >= 0 (0 = every core this process may use), got " +
                                    std::to_string(threads));
    return threads == 0 ? usable_cores() : threads;
}

bool parallel_for(std::size_t n, std::size_t grain, int threads,
                  const std::function<void(int, std::size_t, std::size_t)>& body,
                  const std::function<bool()>& keep_going, int poll_ms) {
    if (n == 0) return true;
    grain = std::max<std::size_t>(grain, 1);
    const std::size_t chunks = (n + grain - 1) / grain;
    const int workers = static_cast<int>(std::min<std::size_t>(resolve_threads(threads), chunks));

    std::atomic<std::size_t> next_chunk{0};
    std::atomic<bool> stop{false};
    std::exception_ptr failure;
    std::mutex mu;
    std::condition_variable done_cv;
    int running = workers;

    auto work = [&](int worker) {
        try {
            while (!stop.load(std::memory_order_relaxed)) {
                std::size_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
                if (c >= chunks) break;
                std::size_t begin = c * grain;
                body(worker, begin, std::min(n, begin + grain));
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            if (!failure) failure = std::current_exception();
            stop = true;
        }
        std::lock_guard<std::mutex> lock(mu);
        if (--running == 0) done_cv.notify_all();
    };

    std::vector<std::thread> pool;
    pool.reserve(workers);
    for (int w = 0; w < workers; ++w) pool.emplace_back(work, w);

    bool cancelled = false;
    {
        std::unique_lock<std::mutex> lock(mu);
        while (running > 0) {
            if (done_cv.wait_for(lock, std::chrono::milliseconds(poll_ms), [&] { return running == 0; })) break;
            lock.unlock();
            if (!cancelled && !keep_going()) {
                cancelled = true;
                stop = true;
            }
            lock.lock();
        }
    }
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
    return !cancelled;
}

}  // namespace zipsift
