#include "ncd.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <vector>

#include "parallel.h"

namespace zipsift {

namespace {

constexpr std::size_t kSizesPerChunk = 32;
// Work is split into tasks of one candidate against up to this many targets: long enough for a
// codec to reuse the work done on the candidate across targets, short enough to balance load.
// Fixed (not derived from the thread count) so the order of summation in alignment, and so every
// score, is the same whatever the number of threads.
constexpr std::size_t kTargetsPerTask = 32;

// One leased meter per worker, taken on first use.
using WorkerMeters = PerWorker<SizeMeter, MeterLease>;

WorkerMeters worker_meters(const CodecSpec& spec, int threads) {
    return WorkerMeters(threads, [spec] { return borrow_size_meter(spec); });
}

// Indexing a target costs about what replaying it against a few candidates saves (deflate: ~100 ns
// per target byte to index, ~8 µs saved per pair of ~600-byte texts), so targets are indexed only
// for batches of at least this many candidates.
constexpr std::size_t kCandidatesWorthIndexing = 8;

// Indexes beyond this much memory are not made (those targets are paired without one: exact, slower).
// Per byte of target the deflate index takes ~13 bytes, so this covers ~20 MB of target text.
constexpr std::size_t kTargetIndexBudget = std::size_t{256} << 20;

TargetIndexes index_targets(const Tape& ys, WorkerMeters& meters, int threads, const KeepGoing& keep_going) {
    TargetIndexes indexes(ys.size());
    std::atomic<std::size_t> used{0};
    run_parallel(
        ys.size(), 1, threads,
        [&](int w, std::size_t begin, std::size_t end) {
            for (std::size_t j = begin; j < end; ++j) {
                if (used.load(std::memory_order_relaxed) >= kTargetIndexBudget) return;
                indexes[j] = meters[w].index_target(ys.data(j), ys.length(j));
                if (indexes[j]) used.fetch_add(indexes[j]->bytes(), std::memory_order_relaxed);
            }
        },
        keep_going);
    return indexes;
}

inline double ncd(std::int64_t c_xy, std::int64_t c_x, std::int64_t c_y) {
    std::int64_t lo = std::min(c_x, c_y), hi = std::max(c_x, c_y);
    return static_cast<double>(c_xy - lo) / static_cast<double>(hi);
}

}  // namespace

void compressed_sizes(const Tape& texts, const CodecSpec& codec, int threads, const KeepGoing& keep_going,
                      std::int64_t* out) {
    WorkerMeters meters = worker_meters(codec, threads);
    run_parallel(
        texts.size(), kSizesPerChunk, threads,
        [&](int w, std::size_t begin, std::size_t end) {
            SizeMeter& meter = meters[w];
            for (std::size_t i = begin; i < end; ++i) out[i] = meter.size(texts.data(i), texts.length(i));
        },
        keep_going);
}

void ncd_matrix(const Tape& a, const Tape& b, const CodecSpec& codec, int threads, const KeepGoing& keep_going,
                double* out) {
    std::vector<std::int64_t> c_a(a.size()), c_b(b.size());
    compressed_sizes(a, codec, threads, keep_going, c_a.data());
    compressed_sizes(b, codec, threads, keep_going, c_b.data());
    const std::size_t nb = b.size();
    if (nb == 0) return;
    const std::size_t tasks_per_row = (nb + kTargetsPerTask - 1) / kTargetsPerTask;
    WorkerMeters meters = worker_meters(codec, threads);
    const TargetIndexes indexes =
        a.size() >= kCandidatesWorthIndexing ? index_targets(b, meters, threads, keep_going) : TargetIndexes{};
    run_parallel(
        a.size() * tasks_per_row, 1, threads,
        [&](int w, std::size_t begin, std::size_t end) {
            std::int64_t c_ab[kTargetsPerTask];
            for (std::size_t t = begin; t < end; ++t) {
                std::size_t i = t / tasks_per_row;
                std::size_t j0 = (t % tasks_per_row) * kTargetsPerTask, j1 = std::min(nb, j0 + kTargetsPerTask);
                meters[w].concat_sizes(a.data(i), a.length(i), b, j0, j1, c_ab, indexes.empty() ? nullptr : &indexes);
                for (std::size_t j = j0; j < j1; ++j) out[i * nb + j] = ncd(c_ab[j - j0], c_a[i], c_b[j]);
            }
        },
        keep_going);
}

TargetSet::TargetSet(Tape targets, const CodecSpec& codec, int threads, const KeepGoing& keep_going)
    : targets_(std::move(targets)), codec_(codec), sizes_(targets_.size()) {
    if (targets_.size() == 0)
        throw std::invalid_argument("targets is empty: alignment is a mean over the targets, so give at least one");
    compressed_sizes(targets_, codec_, threads, keep_going, sizes_.data());
}

const TargetIndexes* TargetSet::indexes_for(std::size_t candidates, int threads, const KeepGoing& keep_going) const {
    std::lock_guard<std::mutex> lock(index_mutex_);
    if (!indexed_ && candidates >= kCandidatesWorthIndexing) {
        WorkerMeters meters = worker_meters(codec_, threads);
        indexes_ = index_targets(targets_, meters, threads, keep_going);
        indexed_ = true;
    }
    return indexed_ ? &indexes_ : nullptr;
}

void TargetSet::alignment(const Tape& candidates, int threads, const KeepGoing& keep_going, double* out) const {
    const std::size_t n = candidates.size(), m = targets_.size();
    if (n == 0) return;
    std::vector<std::int64_t> c_x(n);
    compressed_sizes(candidates, codec_, threads, keep_going, c_x.data());
    const TargetIndexes* indexes = indexes_for(n, threads, keep_going);

    const std::size_t tasks_per_row = (m + kTargetsPerTask - 1) / kTargetsPerTask;
    std::vector<double> partial(n * tasks_per_row);
    WorkerMeters meters = worker_meters(codec_, threads);
    run_parallel(
        n * tasks_per_row, 1, threads,
        [&](int w, std::size_t begin, std::size_t end) {
            std::int64_t c_xy[kTargetsPerTask];
            for (std::size_t t = begin; t < end; ++t) {
                std::size_t i = t / tasks_per_row;
                std::size_t j0 = (t % tasks_per_row) * kTargetsPerTask, j1 = std::min(m, j0 + kTargetsPerTask);
                meters[w].concat_sizes(candidates.data(i), candidates.length(i), targets_, j0, j1, c_xy, indexes);
                double sum = 0.0;
                for (std::size_t j = j0; j < j1; ++j) sum += ncd(c_xy[j - j0], c_x[i], sizes_[j]);
                partial[t] = sum;
            }
        },
        keep_going);
    for (std::size_t i = 0; i < n; ++i) {
        double sum = 0.0;
        for (std::size_t c = 0; c < tasks_per_row; ++c) sum += partial[i * tasks_per_row + c];
        out[i] = 1.0 - sum / static_cast<double>(m);
    }
}

}  // namespace zipsift
