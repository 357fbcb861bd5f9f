// Compression conditioned on a collection of texts, and the compression gain it gives.
//
//   C(x)      = libzstd's one-shot ZSTD_compress(x, level): the frame size in bytes
//   C(x | D)  = ZSTD_compress_usingCDict(x, D): x compressed with the raw-content dictionary D made
//               by ZSTD_createCDict_advanced2(D, ZSTD_dct_rawContent, compression level = level);
//               frame flags are libzstd's defaults: content size written, no checksum, no dict ID
//               (a raw-content dictionary has none)
//   C(x | T)  = mean over the dictionaries T_1..T_K of C(x | T_k)   (or their min, `min` combine)
//   gain(x)   = 8 * (B(x) - C(x | T)) / |x|   bits saved per byte of x, where the baseline B is
//               C(x) without a reference, or C(x | R) with a reference sample R (Moore-Lewis form)
//
// A collection is packed into dictionaries in input order: whole texts are concatenated (no
// separator) while the chunk stays within dict_bytes; a text longer than dict_bytes alone is cut
// into dict_bytes pieces. Dictionaries are built once and shared read-only by every worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "parallel.h"
#include "tape.h"

namespace zipsift {

enum class DictCombine { min, mean };

// Largest useful dictionary at a zstd level: the window of that level (1 << windowLog).
std::size_t zstd_window_bytes(int level);

// A collection of texts digested into zstd dictionaries, once.
class ConditionalCompressor {
public:
    // Throws std::invalid_argument when texts hold fewer than 8 bytes in all (libzstd ignores a
    // dictionary shorter than that) or dict_bytes < 8.
    ConditionalCompressor(const Tape& texts, int level, std::size_t dict_bytes, int threads,
                          const KeepGoing& keep_going);
    ~ConditionalCompressor();
    ConditionalCompressor(const ConditionalCompressor&) = delete;
    ConditionalCompressor& operator=(const ConditionalCompressor&) = delete;

    int level() const { return level_; }
    std::size_t dict_bytes() const { return dict_bytes_; }
    std::size_t dictionaries() const { return chunks_.size(); }
    std::size_t chunk_length(std::size_t k) const { return chunks_.length(k); }
    std::size_t total_bytes() const { return chunks_.bytes.size(); }
    const void* cdict(std::size_t k) const { return cdicts_[k]; }

private:
    int level_;
    std::size_t dict_bytes_;
    Tape chunks_;
    std::vector<void*> cdicts_;  // ZSTD_CDict*, kept opaque so zstd.h stays out of this header
};

// What one candidate's score is made of (sizes in bytes; conditional sizes combined over the
// dictionaries, so a mean may be fractional).
struct GainParts {
    double gain;          // bits per byte
    double c_target;      // C(x | T)
    double c_baseline;    // C(x) or C(x | R)
};

// Scores every candidate; a candidate of length 0 throws std::invalid_argument naming its index.
// out has candidates.size() entries. Deterministic whatever the thread count.
void compression_gain(const Tape& candidates, const ConditionalCompressor& target,
                      const ConditionalCompressor* reference, DictCombine combine, int threads,
                      const KeepGoing& keep_going, GainParts* out);

// out[i * dictionaries() + k] = C(x_i | T_k): every conditional size, for studying the combine rule.
void conditional_sizes(const Tape& texts, const ConditionalCompressor& dicts, int threads,
                       const KeepGoing& keep_going, std::int64_t* out);

}  // namespace zipsift
