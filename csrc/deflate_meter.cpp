#include "deflate_meter.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

#include "deflate_size.h"
#include "deflate_speculate.h"
#include "deflate_suffix.h"
#include "deflate_undo.h"

namespace zipsift {

namespace {

// CPython's gzip.compress writes a 10-byte header and an 8-byte trailer (CRC-32, size) around a
// raw deflate stream; zlib.compress writes a 2-byte header and a 4-byte Adler-32 trailer. The
// deflate stream itself does not depend on the wrapper, so we run raw deflate and add these.
constexpr std::int64_t kGzipWrapperBytes = 10 + 8;
constexpr std::int64_t kZlibWrapperBytes = 2 + 4;

// CPython's zlib.compress and gzip.compress use deflateInit2 with memLevel DEF_MEM_LEVEL (8) and the
// default strategy; matching them is what makes sizes equal.
constexpr int kCPythonMemLevel = 8;

std::atomic<std::uint64_t> pairs_replayed{0}, pairs_undone{0}, pairs_copied{0};

// A target's chains and their matches (deflate_suffix.h), shared by every meter of the same spec.
class DeflateTargetIndex final : public TargetIndex {
public:
    explicit DeflateTargetIndex(deflate_target* target) : target(target) {}
    ~DeflateTargetIndex() override { deflate_target_free(target); }
    DeflateTargetIndex(const DeflateTargetIndex&) = delete;
    DeflateTargetIndex& operator=(const DeflateTargetIndex&) = delete;
    std::size_t bytes() const override { return deflate_target_bytes(target); }
    deflate_target* const target;
};

// Recycles zlib's allocations within one meter: deflateCopy allocates ~256 KB of state per copy,
// and recycling those blocks keeps the copy to its memcpy (glibc would otherwise trim and re-fault
// them on every pair).
class BlockCache {
public:
    ~BlockCache() {
        for (void* block : idle_) std::free(block);
    }
    static voidpf alloc(voidpf opaque, uInt items, uInt size) {
        return static_cast<BlockCache*>(opaque)->take(static_cast<std::size_t>(items) * size);
    }
    static void release(voidpf opaque, voidpf address) { static_cast<BlockCache*>(opaque)->give(address); }

private:
    // Each block starts with its usable size; kHeader keeps the payload 16-byte aligned.
    static constexpr std::size_t kHeader = 16;
    static constexpr std::size_t kMaxIdle = 16;

    void* take(std::size_t n) {
        for (std::size_t i = 0; i < idle_.size(); ++i) {
            if (*static_cast<std::size_t*>(idle_[i]) == n) {
                void* block = idle_[i];
                idle_[i] = idle_.back();
                idle_.pop_back();
                return static_cast<char*>(block) + kHeader;
            }
        }
        void* block = std::malloc(n + kHeader);
        if (!block) return Z_NULL;
        *static_cast<std::size_t*>(block) = n;
        return static_cast<char*>(block) + kHeader;
    }
    void give(void* address) {
        void* block = static_cast<char*>(address) - kHeader;
        if (idle_.size() < kMaxIdle)
            idle_.push_back(block);
        else
            std::free(block);
    }

    std::vector<void*> idle_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class DeflateMeter final : public SizeMeter {
public:
    DeflateMeter(const CodecSpec& spec, std::int64_t wrapper_bytes)
        : SizeMeter(spec), wrapper_bytes_(wrapper_bytes), undo_(deflate_undo_new()), candidate_(deflate_candidate_new()) {
        if (!undo_ || !candidate_) {
            deflate_undo_free(undo_);
            deflate_candidate_free(candidate_);
            throw std::bad_alloc();
        }
        std::memset(&stream_, 0, sizeof(stream_));
        stream_.zalloc = &BlockCache::alloc;
        stream_.zfree = &BlockCache::release;
        stream_.opaque = &blocks_;
        if (deflateInit2(&stream_, spec.level, Z_DEFLATED, -MAX_WBITS, kCPythonMemLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
            deflate_undo_free(undo_);
            deflate_candidate_free(candidate_);
            throw std::bad_alloc();
        }
    }
    ~DeflateMeter() override {
        deflateEnd(&stream_);
        if (plain_init_) deflateEnd(&plain_);
        deflate_undo_free(undo_);
        deflate_candidate_free(candidate_);
    }
    DeflateMeter(const DeflateMeter&) = delete;
    DeflateMeter& operator=(const DeflateMeter&) = delete;

    std::int64_t size(const std::uint8_t* a, std::size_t na, const std::uint8_t* b, std::size_t nb) override {
        // A reset stream keeps the previous input's bytes past the end of the window's data
        // (deflateReset does not lower zlib's zeroing high-water mark), while CPython's fresh stream
        // has zeros there. The output is still identical: longest_match clips nice_match to the
        // lookahead, so the first candidate that reaches the end of the input stops the search and
        // bytes past the end never decide a match. tests/test_ncd_exact.py pins this adversarially.
        deflateReset(&stream_);
        // Feeding a then b gives the same stream as feeding a ⊕ b at once: with Z_NO_FLUSH deflate
        // stops while it still needs lookahead, and block boundaries depend only on positions.
        // This spares a copy of the concatenation.
        if (nb == 0) return finish_size(stream_, a, na);
        feed(stream_, a, na, Z_NO_FLUSH);
        return finish_size(stream_, b, nb);
    }

    std::unique_ptr<const TargetIndex> index_target(const std::uint8_t* y, std::size_t ny) override {
        deflate_target* target = deflate_target_new(&stream_, y, ny);
        if (!target) return nullptr;
        return std::make_unique<DeflateTargetIndex>(target);
    }

    void concat_sizes(const std::uint8_t* x, std::size_t nx, const Tape& ys, std::size_t j0, std::size_t j1,
                      std::int64_t* out, const TargetIndexes* indexes) override {
        // The candidate comes first in every pair: compress it once, then replay the rest of
        // deflate's parse (deflate_suffix.h; at levels 4-9 from the target's index), or finish the
        // candidate's state with the target and put it back (deflate_undo.h).
        start_candidate(x, nx);
        const bool replay = (fast_levels() || indexes != nullptr) && prepare_replay(x, nx);
        for (std::size_t j = j0; j < j1; ++j) {
            std::int64_t size = replay ? replayed(ys.data(j), ys.length(j), indexes ? (*indexes)[j].get() : nullptr) : -1;
            out[j - j0] = size >= 0 ? size : finish_with(ys.data(j), ys.length(j));
        }
    }

    // Levels 1-3 replay a pair without a target index (deflate_suffix.h).
    bool fast_levels() const { return spec.level <= 3; }

    // After start_candidate: lays out x's chains for replayed pairs; false when none can be.
    bool prepare_replay(const std::uint8_t* x, std::size_t nx) {
        return deflate_candidate_prepare(candidate_, &stream_, x, nx) == 1;
    }

    // C(x ⊕ y) replayed (after prepare_replay) from y's index at levels 4-9, from y itself at
    // levels 1-3; -1 when the pair needs zlib's own stream (no index, or the pair is outside what a
    // replay covers).
    std::int64_t replayed(const std::uint8_t* y, std::size_t ny, const TargetIndex* index) {
        unsigned long raw;
        if (deflate_candidate_fast(candidate_)) {
            raw = deflate_suffix_size_fast(candidate_, y, ny);
        } else {
            const auto* deflate_index = dynamic_cast<const DeflateTargetIndex*>(index);
            if (deflate_index == nullptr) return -1;
            raw = deflate_suffix_size(candidate_, deflate_index->target);
        }
        if (raw == 0) return -1;
        pairs_replayed.fetch_add(1, std::memory_order_relaxed);
        return static_cast<std::int64_t>(raw) + wrapper_bytes_;
    }

    // Compresses x and keeps its state to finish with suffixes. Its tail is parsed here, once,
    // as far as every target would parse it alike (deflate_speculate.h).
    void start_candidate(const std::uint8_t* x, std::size_t nx) {
        deflateReset(&stream_);
        feed(stream_, x, nx, Z_NO_FLUSH);
        stream_.next_out = sink_;
        stream_.avail_out = sizeof(sink_);
        deflate_speculate(&stream_);
        if (deflate_undo_save(undo_, &stream_) != Z_OK) throw std::bad_alloc();
        x_ = x;
        nx_ = nx;
        plain_ready_ = false;
    }

    // C(x ⊕ y) for the x of start_candidate; the state is left as start_candidate left it.
    // Feeding x then y with Z_NO_FLUSH gives the same stream as x ⊕ y at once (deflate stops while
    // it still needs lookahead; block boundaries depend only on positions), so this is exact.
    std::int64_t finish_with(const std::uint8_t* y, std::size_t ny) {
        if (split) return timed_finish_with(y, ny);
        int rc = deflate_undo_begin(undo_, &stream_, y, ny);
        if (rc == 1) {
            pairs_undone.fetch_add(1, std::memory_order_relaxed);
            std::int64_t size = finish_size(stream_, y, ny);
            if (deflate_undo_end(undo_, &stream_) != Z_OK)
                throw std::logic_error("deflate undo: the suffix did not end where it should (window slid)");
            return size;
        }
        if (rc != 0) throw std::bad_alloc();
        // The suffix may slide the window, which rewrites every hash entry: finish a full copy of
        // x's state as zlib left it, before the tail parse (a slide's timing depends on where
        // deflate calls fill_window; the tail parse is proven equal only without a slide).
        pairs_copied.fetch_add(1, std::memory_order_relaxed);
        const z_stream& plain = plain_candidate();
        z_stream work;
        if (deflateCopy(&work, const_cast<z_stream*>(&plain)) != Z_OK) throw std::bad_alloc();
        std::int64_t size;
        try {
            size = finish_size(work, y, ny);
        } catch (...) {
            deflateEnd(&work);
            throw;
        }
        deflateEnd(&work);
        return size;
    }

    // finish_with, with each stage's time added to *split (for the benchmark's cost split).
    std::int64_t timed_finish_with(const std::uint8_t* y, std::size_t ny) {
        auto t0 = std::chrono::steady_clock::now();
        int rc = deflate_undo_begin(undo_, &stream_, y, ny);
        auto t1 = std::chrono::steady_clock::now();
        if (rc != 1) {
            DeflateCostSplit* keep = split;
            split = nullptr;
            std::int64_t size = finish_with(y, ny);
            split = keep;
            split->copy_seconds += seconds_since(t1);
            split->copied += 1;
            return size;
        }
        std::int64_t size = finish_size(stream_, y, ny);
        auto t2 = std::chrono::steady_clock::now();
        if (deflate_undo_end(undo_, &stream_) != Z_OK) throw std::logic_error("deflate undo: the window slid");
        split->restore_seconds += std::chrono::duration<double>(t1 - t0).count() + seconds_since(t2);
        split->suffix_seconds += std::chrono::duration<double>(t2 - t1).count();
        return size;
    }

    DeflateCostSplit* split = nullptr;  // set by deflate_cost_split only

    // Runs y through the undo path and compares the restored state with a deep copy taken before.
    bool restore_is_exact(const std::uint8_t* y, std::size_t ny) {
        z_stream reference;
        if (deflateCopy(&reference, &stream_) != Z_OK) throw std::bad_alloc();
        bool same;
        try {
            finish_with(y, ny);
            same = deflate_undo_same_state(&stream_, &reference) == 1;
        } catch (...) {
            deflateEnd(&reference);
            throw;
        }
        deflateEnd(&reference);
        return same;
    }

private:
    // x's stream as zlib leaves it after Z_NO_FLUSH, compressed on first need (targets long enough
    // to slide the window are rare in ZIP-FIT) and kept for the candidate's other targets.
    const z_stream& plain_candidate() {
        if (!plain_init_) {
            std::memset(&plain_, 0, sizeof(plain_));
            plain_.zalloc = &BlockCache::alloc;
            plain_.zfree = &BlockCache::release;
            plain_.opaque = &blocks_;
            if (deflateInit2(&plain_, spec.level, Z_DEFLATED, -MAX_WBITS, kCPythonMemLevel, Z_DEFAULT_STRATEGY) != Z_OK)
                throw std::bad_alloc();
            plain_init_ = true;
        }
        if (!plain_ready_) {
            deflateReset(&plain_);
            feed(plain_, x_, nx_, Z_NO_FLUSH);
            plain_ready_ = true;
        }
        return plain_;
    }

    // Finishes `stream` with data[0..n) and returns the gzip/zlib size. The last block is sized,
    // not written (deflate_size.h), so the stream's output is incomplete afterwards: callers
    // restore it, reset it or end it.
    std::int64_t finish_size(z_stream& stream, const std::uint8_t* data, std::size_t n) {
        struct Disarm {
            ~Disarm() { deflate_size_only_disarm(); }
        } disarm;
        deflate_size_only_arm(&stream);
        feed(stream, data, n, Z_FINISH);
        unsigned long raw = deflate_size_only_disarm();
        if (raw == 0) throw std::logic_error("deflate: the last block was not sized");
        return static_cast<std::int64_t>(raw) + wrapper_bytes_;
    }

    void feed(z_stream& stream, const std::uint8_t* data, std::size_t n, int flush) {
        // zlib counts input in uInt; feed huge texts in slices.
        constexpr std::size_t kSlice = 1u << 30;
        do {
            std::size_t take = n < kSlice ? n : kSlice;
            stream.next_in = const_cast<Bytef*>(data);
            stream.avail_in = static_cast<uInt>(take);
            data += take;
            n -= take;
            int mode = n == 0 ? flush : Z_NO_FLUSH;
            for (;;) {
                // Only the size is wanted: the output goes to a small buffer that is overwritten.
                stream.next_out = sink_;
                stream.avail_out = sizeof(sink_);
                int rc = deflate(&stream, mode);
                if (rc == Z_STREAM_END) break;
                if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("zlib deflate failed");
                // Z_FINISH runs until Z_STREAM_END; otherwise stop once input is taken and output fit.
                if (mode != Z_FINISH && stream.avail_in == 0 && stream.avail_out != 0) break;
            }
        } while (n != 0);
    }

    BlockCache blocks_;  // declared before stream_: it must outlive the stream's deflateEnd
    z_stream stream_;
    z_stream plain_;  // see plain_candidate()
    bool plain_init_ = false, plain_ready_ = false;
    const std::uint8_t* x_ = nullptr;  // the candidate of start_candidate (the caller keeps it alive)
    std::size_t nx_ = 0;
    std::int64_t wrapper_bytes_;
    deflate_undo* undo_;
    deflate_candidate* candidate_;
    Bytef sink_[1 << 14];
};

std::int64_t wrapper_bytes(const CodecSpec& spec) {
    return spec.kind == CodecKind::gzip ? kGzipWrapperBytes : kZlibWrapperBytes;
}

}  // namespace

SizeMeter* new_deflate_meter(const CodecSpec& spec) { return new DeflateMeter(spec, wrapper_bytes(spec)); }

DeflateRestoreCounts deflate_restore_counts() {
    return {pairs_replayed.load(std::memory_order_relaxed), pairs_undone.load(std::memory_order_relaxed),
            pairs_copied.load(std::memory_order_relaxed)};
}

std::uint64_t deflate_restore_mismatches(const CodecSpec& spec, const std::uint8_t* x, std::size_t nx, const Tape& ys) {
    DeflateMeter meter(spec, wrapper_bytes(spec));
    meter.start_candidate(x, nx);
    std::uint64_t mismatches = 0;
    for (std::size_t j = 0; j < ys.size(); ++j) mismatches += meter.restore_is_exact(ys.data(j), ys.length(j)) ? 0 : 1;
    return mismatches;
}

DeflateCostSplit deflate_cost_split(const CodecSpec& spec, const Tape& xs, const Tape& ys) {
    DeflateMeter meter(spec, wrapper_bytes(spec));
    DeflateCostSplit split{};
    auto t0 = std::chrono::steady_clock::now();
    TargetIndexes indexes(ys.size());
    for (std::size_t j = 0; j < ys.size(); ++j) indexes[j] = meter.index_target(ys.data(j), ys.length(j));
    split.index_seconds = seconds_since(t0);
    meter.split = &split;
    for (std::size_t i = 0; i < xs.size(); ++i) {
        t0 = std::chrono::steady_clock::now();
        meter.start_candidate(xs.data(i), xs.length(i));
        const bool replay = meter.prepare_replay(xs.data(i), xs.length(i));
        split.candidate_seconds += seconds_since(t0);
        for (std::size_t j = 0; j < ys.size(); ++j) {
            if (replay) {
                t0 = std::chrono::steady_clock::now();
                std::int64_t size = meter.replayed(ys.data(j), ys.length(j), indexes[j].get());
                if (size >= 0) {
                    split.replay_seconds += seconds_since(t0);
                    split.replayed += 1;
                    continue;
                }
            }
            meter.finish_with(ys.data(j), ys.length(j));
        }
    }
    split.pairs = xs.size() * ys.size();
    return split;
}

}  // namespace zipsift
