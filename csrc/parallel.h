// One small parallel-for: work split into chunks, dynamic scheduling, cooperative cancellation.
//
// Threads are started per call, not kept in a pool: calls are coarse (a batch of documents), so
// start-up is noise next to the work, and a process that forks (multiprocessing, Ray) never inherits
// a pool of dead threads. The calling thread does no work; it polls `keep_going` (the bindings check
// for Ctrl-C there) so that only the caller ever talks to Python.
//
// Ctrl-C is honoured between chunks, so a chunk must be short in time whatever the input: chunks
// of texts are bounded in bytes (parallel_for_tape, kChunkBytes), never a fraction of the input,
// and a body that works on one long text polls cancellation_requested() inside it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "tape.h"

namespace zipsift {

// Polled on the calling thread while workers run: false cancels the call (Ctrl-C).
using KeepGoing = std::function<bool()>;

// Thrown by a batched entry point that was cancelled through KeepGoing.
struct Cancelled {};

// The most worker threads one call may ask for. More is refused (std::invalid_argument) rather
// than attempted: thousands of threads on a machine with dozens of cores only add memory (a stack
// and per-thread state each) and can exhaust the process's thread limit.
constexpr int kMaxThreads = 1024;

// Bytes of text per chunk of parallel_for_tape: ~1-100 ms of work for every kernel in the core,
// so Ctrl-C is answered well within a second and load stays balanced.
constexpr std::size_t kChunkBytes = std::size_t(1) << 20;

// Cores this process may run on (its affinity mask), never less than 1 nor more than kMaxThreads.
int usable_cores();

// 0 -> usable_cores(); negative or > kMaxThreads -> std::invalid_argument saying what to pass.
int resolve_threads(int threads);

// The number of workers parallel_for starts for `chunks` chunks: never more than there is work
// for. Size per-worker state with this (or create it lazily on a worker's first chunk).
int parallel_workers(std::size_t chunks, int threads);

// body(worker, begin, end) handles items [begin, end); worker is in [0, parallel_workers(chunks,
// threads)) and owns whatever per-thread state the caller indexed by it. Chunks are `grain` items.
// `keep_going` is called on the calling thread about every `poll_ms`; when it returns false,
// workers stop after their current chunk and parallel_for returns false. An exception thrown by a
// worker stops the others and is rethrown here. If the system refuses to start a thread, the
// workers already started are stopped and joined, and std::runtime_error says so.
bool parallel_for(std::size_t n, std::size_t grain, int threads,
                  const std::function<void(int worker, std::size_t begin, std::size_t end)>& body,
                  const std::function<bool()>& keep_going, int poll_ms = 50);

// The same over chunks given by their boundaries: chunk c is items [starts[c], starts[c+1]).
bool parallel_for_chunks(const std::vector<std::size_t>& starts, int threads,
                         const std::function<void(int worker, std::size_t begin, std::size_t end)>& body,
                         const std::function<bool()>& keep_going, int poll_ms = 50);

// Chunk boundaries over the texts of a tape: runs of whole texts of at most max_bytes together
// (a longer text is a chunk of its own) and at most max_items texts. Depends on the data only,
// never on the thread count.
std::vector<std::size_t> tape_chunks(const Tape& texts, std::size_t max_bytes = kChunkBytes,
                                     std::size_t max_items = 4096);

// parallel_for over the texts of a tape in tape_chunks. A body spending long on one text should
// poll cancellation_requested() every ~kChunkBytes of work.
bool parallel_for_tape(const Tape& texts, int threads,
                       const std::function<void(int worker, std::size_t begin, std::size_t end)>& body,
                       const std::function<bool()>& keep_going);

// parallel_for for an entry point: a call cancelled through keep_going throws Cancelled{} (which
// the bindings turn back into KeyboardInterrupt) instead of returning false.
void run_parallel(std::size_t n, std::size_t grain, int threads,
                  const std::function<void(int worker, std::size_t begin, std::size_t end)>& body,
                  const KeepGoing& keep_going);

// State each worker of a parallel_for owns (a compressor context, a meter, buffers), made on the
// worker's first chunk by `make` and reused for every later chunk: `per_worker[w]` inside the body.
// Sized for resolve_threads(threads) workers; a worker that gets no chunk makes nothing. Holder
// owns one item (a unique_ptr, or a lease that gives the item back to a pool).
template <class T, class Holder = std::unique_ptr<T>>
class PerWorker {
public:
    PerWorker(int threads, std::function<Holder()> make)
        : make_(std::move(make)), items_(static_cast<std::size_t>(resolve_threads(threads))) {}
    T& operator[](int worker) {
        auto& item = items_[static_cast<std::size_t>(worker)];
        if (!item) item = make_();
        return *item;
    }

private:
    std::function<Holder()> make_;
    std::vector<Holder> items_;
};

// True on a worker thread of a parallel_for that is being cancelled (Ctrl-C, or another worker
// failed); false elsewhere. A body working on one long item polls it and throws Cancelled{}.
bool cancellation_requested();

}  // namespace zipsift
