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

namespace {

// The stop flag of the parallel_for whose worker this thread is (null on other threads). In the
// static TLS block ("initial-exec"): the default model allocates a dlopen'ed module's TLS with
// malloc on a thread's first access, and glibc aborts the process when that fails (thread start
// under memory pressure is exactly when it does).
__attribute__((tls_model("initial-exec"))) thread_local const std::atomic<bool>* t_stop = nullptr;

}  // namespace

int usable_cores() {
    int n = 0;
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof(mask), &mask) == 0) n = CPU_COUNT(&mask);
    if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
    return std::clamp(n, 1, kMaxThreads);
}

int resolve_threads(int threads) {
    if (threads < 0 || threads > kMaxThreads)
        throw std::invalid_argument("threads must be >= 0 and at most " + std::to_string(kMaxThreads) +
                                    " (0 = every core this process may use, " + std::to_string(usable_cores()) +
                                    " here), got " + std::to_string(threads));
    return threads == 0 ? usable_cores() : threads;
}

int parallel_workers(std::size_t chunks, int threads) {
    return static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(threads)), chunks));
}

bool cancellation_requested() { return t_stop && t_stop->load(std::memory_order_relaxed); }

namespace {

// Runs body over `chunks` chunks, chunk c being items [first(c), first(c + 1)).
bool run_chunks(std::size_t chunks, const std::function<std::size_t(std::size_t)>& first, int threads,
                const std::function<void(int, std::size_t, std::size_t)>& body,
                const std::function<bool()>& keep_going, int poll_ms) {
    const int workers = parallel_workers(chunks, threads);
    if (workers == 0) return true;

    std::atomic<std::size_t> next_chunk{0};
    std::atomic<bool> stop{false};
    std::exception_ptr failure;
    std::mutex mu;
    std::condition_variable done_cv;
    int running = workers;

    auto work = [&](int worker) {
        t_stop = &stop;
        try {
            while (!stop.load(std::memory_order_relaxed)) {
                std::size_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
                if (c >= chunks) break;
                const std::size_t begin = first(c), end = first(c + 1);
                if (begin < end) body(worker, begin, end);
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            if (!failure) failure = std::current_exception();
            stop = true;
        }
        t_stop = nullptr;
        std::lock_guard<std::mutex> lock(mu);
        if (--running == 0) done_cv.notify_all();
    };

    std::vector<std::thread> pool;
    pool.reserve(workers);
    std::string start_error;
    for (int w = 0; w < workers; ++w) {
        try {
            pool.emplace_back(work, w);
        } catch (const std::exception& e) {
            // Out of threads (EAGAIN) or memory for a stack: stop and join those started, then say so.
            start_error = "could not start worker thread " + std::to_string(w + 1) + " of " + std::to_string(workers) +
                          " (" + e.what() + "): the system limits threads or memory; pass a smaller threads= "
                          "(0 = one per core)";
            stop = true;
            std::lock_guard<std::mutex> lock(mu);
            running -= workers - w;
            if (running == 0) done_cv.notify_all();
            break;
        }
    }

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
    if (!start_error.empty()) throw std::runtime_error(start_error);
    if (failure) std::rethrow_exception(failure);
    return !cancelled;
}

}  // namespace

bool parallel_for_chunks(const std::vector<std::size_t>& starts, int threads,
                         const std::function<void(int, std::size_t, std::size_t)>& body,
                         const std::function<bool()>& keep_going, int poll_ms) {
    resolve_threads(threads);
    const std::size_t chunks = starts.size() < 2 ? 0 : starts.size() - 1;
    return run_chunks(chunks, [&](std::size_t c) { return starts[c]; }, threads, body, keep_going, poll_ms);
}

bool parallel_for(std::size_t n, std::size_t grain, int threads,
                  const std::function<void(int, std::size_t, std::size_t)>& body,
                  const std::function<bool()>& keep_going, int poll_ms) {
    resolve_threads(threads);
    if (n == 0) return true;
    grain = std::max<std::size_t>(grain, 1);
    const std::size_t chunks = (n + grain - 1) / grain;
    return run_chunks(chunks, [&](std::size_t c) { return std::min(n, c * grain); }, threads, body, keep_going,
                      poll_ms);
}

void run_parallel(std::size_t n, std::size_t grain, int threads,
                  const std::function<void(int, std::size_t, std::size_t)>& body, const KeepGoing& keep_going) {
    if (!parallel_for(n, grain, threads, body, keep_going)) throw Cancelled{};
}

std::vector<std::size_t> tape_chunks(const Tape& texts, std::size_t max_bytes, std::size_t max_items) {
    const std::size_t n = texts.size();
    std::vector<std::size_t> starts{0};
    std::size_t begin = 0;
    for (std::size_t i = 0; i < n; ++i) {
        // Close the chunk before text i if adding it would pass either bound.
        if (i > begin && (i - begin >= max_items || texts.offsets[i + 1] - texts.offsets[begin] > max_bytes)) {
            starts.push_back(i);
            begin = i;
        }
    }
    if (n > 0) starts.push_back(n);
    return starts;
}

bool parallel_for_tape(const Tape& texts, int threads,
                       const std::function<void(int, std::size_t, std::size_t)>& body,
                       const std::function<bool()>& keep_going) {
    resolve_threads(threads);
    return parallel_for_chunks(tape_chunks(texts), threads, body, keep_going);
}

}  // namespace zipsift
