// Exact gzip/zlib sizes from raw deflate (the vendored zlib), on a reused stream.
#pragma once

#include <cstdint>

#include "codec.h"

namespace zipsift {

SizeMeter* new_deflate_meter(const CodecSpec& spec);

// Process-wide count of (candidate, target) pairs by how they were finished: replayed from the
// target's index (deflate_suffix.h), finished on the candidate's state and restored through the
// undo log, or finished on a full copy because the target could slide the window (the candidate's
// tail plus the target beyond ~64 KB).
struct DeflateRestoreCounts {
    std::uint64_t replayed, undone, copied;
};
DeflateRestoreCounts deflate_restore_counts();

// For tests: finishes the state of x with each y and counts the pairs after which the restored
// state differs from a deep copy taken before (0 means every restore was exact).
std::uint64_t deflate_restore_mismatches(const CodecSpec& spec, const std::uint8_t* x, std::size_t nx, const Tape& ys);

// For the benchmark: one thread, every x against every y, time per stage in seconds: indexing
// the targets (once, deflate_suffix.h); compressing the candidate, parsing its tail once
// (deflate_speculate.h), saving its state and laying out its chains; replaying a pair from the
// target's index (replay, with the count of such pairs); for the pairs that cannot be replayed,
// logging and restoring (restore), the target's own deflate calls, the last block sized, not
// written (suffix), and pairs that needed a full copy instead (copy, with their count).
struct DeflateCostSplit {
    double index_seconds, candidate_seconds, replay_seconds, restore_seconds, suffix_seconds, copy_seconds;
    std::uint64_t pairs, replayed, copied;
};
DeflateCostSplit deflate_cost_split(const CodecSpec& spec, const Tape& xs, const Tape& ys);

}  // namespace zipsift
