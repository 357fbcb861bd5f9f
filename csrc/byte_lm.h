// A smoothed, hashed byte n-gram language model: the second proxy of `zipsift eval`.
//
// Order N means each byte is predicted from up to N-1 preceding bytes of the same text (positions
// before the start read as a boundary symbol). Interpolated Dirichlet smoothing, from order 0 up
// (each order's estimate is the prior of the next, with prior weight beta):
//   p_0(b)            = (c(b) + 1) / (c + 256)                                   (add-one over bytes)
//   p_k(b | ctx_k)    = (c(ctx_k, b) + beta * p_{k-1}(b | ctx_{k-1})) / (c(ctx_k) + beta)
// where c(ctx, b) counts ctx followed by b in the fitting texts and c(ctx) = sum_b c(ctx, b).
// (Witten-Bell or Kneser-Ney would need the number of distinct bytes after a context, which hashed
// tables filled by several threads cannot count deterministically; counts alone can.)
// Counts of orders >= 1 live in fixed tables of 2^table_bits entries indexed by a hash of
// (order, context[, byte]): memory is fixed, and a collision can only merge counts (a slightly
// optimistic model on a very large fit), never fail.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <vector>

#include "parallel.h"
#include "tape.h"

namespace zipsift {

class ByteNgramLM {
public:
    // 1 <= order <= 16; 10 <= table_bits <= 30; beta > 0.
    ByteNgramLM(int order, int table_bits, double beta);

    int order() const { return order_; }
    int table_bits() const { return table_bits_; }
    double beta() const { return beta_; }
    std::int64_t fitted_bytes() const;

    // Thread safety: fit, bits and fitted_bytes may be called from several threads on one model
    // (Python threads do: the GIL is released during the work). A fit holds the model exclusively
    // (its workers still run in parallel); bits and fitted_bytes share it; so bits never sees half
    // of a fit, and concurrent fits add up to the same model as sequential ones.

    // Adds the counts of every text. Counts are integer adds, so the model is the same whatever
    // the thread count. A fit cancelled by Ctrl-C keeps the counts of the bytes it had read.
    void fit(const Tape& texts, int threads, const KeepGoing& keep_going);

    // out[i] = -sum over the bytes of text i of log2 p(byte | context): its code length in bits.
    void bits(const Tape& texts, int threads, const KeepGoing& keep_going, double* out) const;

private:
    int order_, table_bits_;
    double beta_;
    std::uint64_t mask_;
    std::vector<std::atomic<std::uint32_t>> pair_counts_;  // c(ctx, b)
    std::vector<std::atomic<std::uint32_t>> ctx_counts_;   // c(ctx)
    std::atomic<std::int64_t> byte_counts_[256];
    std::int64_t total0_ = 0;  // sum of byte_counts_, updated at the end of a fit
    mutable std::shared_mutex mu_;
};

}  // namespace zipsift
