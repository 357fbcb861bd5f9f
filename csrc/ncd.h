// Batched normalized compression distance (ZIP-FIT, Obbad et al. 2024):
//   NCD(x, y) = (C(x ⊕ y) - min(C(x), C(y))) / max(C(x), C(y)),  x first, y second, no separator
//   alignment(x, T) = 1 - mean_{y in T} NCD(x, y)
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "codec.h"
#include "parallel.h"
#include "tape.h"

namespace zipsift {

// C(s) for every item; out has texts.size() entries.
void compressed_sizes(const Tape& texts, const CodecSpec& codec, int threads, const KeepGoing& keep_going,
                      std::int64_t* out);

// out[i * b.size() + j] = NCD(a_i, b_j), row-major.
void ncd_matrix(const Tape& a, const Tape& b, const CodecSpec& codec, int threads, const KeepGoing& keep_going,
                double* out);

// The targets of an alignment, prepared once: their tape and C(y), reused for every batch of
// candidates (ZipFit scores a stream batch by batch against the same targets).
class TargetSet {
public:
    TargetSet(Tape targets, const CodecSpec& codec, int threads, const KeepGoing& keep_going);

    std::size_t size() const { return targets_.size(); }
    const CodecSpec& codec() const { return codec_; }

    // out[i] = alignment(candidates_i, targets); deterministic whatever the thread count.
    void alignment(const Tape& candidates, int threads, const KeepGoing& keep_going, double* out) const;

private:
    // The targets' indexes (codec.h), made by the first call with enough candidates to pay for
    // them and shared by every later call; null before.
    const TargetIndexes* indexes_for(std::size_t candidates, int threads, const KeepGoing& keep_going) const;

    Tape targets_;
    CodecSpec codec_;
    std::vector<std::int64_t> sizes_;
    mutable std::mutex index_mutex_;
    mutable bool indexed_ = false;
    mutable TargetIndexes indexes_;
};

}  // namespace zipsift
