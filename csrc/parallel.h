// One small parallel-for: work split into chunks, dynamic scheduling, cooperative cancellation.
//
// Threads are started per call, not kept in a pool: calls are coarse (a batch of documents), so
// start-up is noise next to the work, and a process that forks (multiprocessing, Ray) never inherits
// a pool of dead threads. The calling thread does no work; it polls `keep_going` (the bindings check
// for Ctrl-C there) so that only the caller ever talks to Python.
#pragma once

#include <cstddef>
#include <functional>

namespace zipsift {

// Polled on the calling thread while workers run: false cancels the call (Ctrl-C).
using KeepGoing = std::function<bool()>;

// Thrown by a batched entry point that was cancelled through KeepGoing.
struct Cancelled {};

// Cores this process may run on (its affinity mask), never less than 1.
int usable_cores();

// 0 -> usable_cores(); negative -> std::invalid_argument.
int resolve_threads(int threads);

// body(worker, begin, end) handles items [begin, end); worker is in [0, threads) and owns whatever
// per-thread state the caller indexed by it. Chunks are `grain` items. `keep_going` is called on the
// calling thread about every `poll_ms`; when it returns false, workers stop after their current
// chunk and parallel_for returns false. An exception thrown by a worker stops the others and is
// rethrown here.
bool parallel_for(std::size_t n, std::size_t grain, int threads,
                  const std::function<void(int worker, std::size_t begin, std::size_t end)>& body,
                  const std::function<bool()>& keep_going, int poll_ms = 50);

}  // namespace zipsift
