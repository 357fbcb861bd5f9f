#include "byte_lm.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>

#include "mix64.h"
#include "parallel.h"

namespace zipsift {

namespace {


constexpr int kMaxOrder = 16;

// ctx[k] = hash of the k bytes before position i (k = 1..order-1), bytes before the text's start
// read as the boundary symbol 256.
inline void context_hashes(const std::uint8_t* s, std::size_t i, int order, std::uint64_t* ctx) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int k = 1; k < order; ++k) {
        std::uint64_t sym = i >= static_cast<std::size_t>(k) ? s[i - k] : 256u;
        h = fmix64(h + sym + (static_cast<std::uint64_t>(k) << 12));
        ctx[k] = h;
    }
}

inline std::uint64_t pair_slot(std::uint64_t ctx, std::uint8_t b, std::uint64_t mask) {
    return fmix64(ctx ^ (0x100000001B3ull * (b + 1))) & mask;
}

// Workers check for Ctrl-C every this many bytes: a chunk of texts (or one long text) can take
// seconds here (~2 MB/s per thread at order 6: random access to tables larger than the caches).
constexpr std::size_t kPollBytes = std::size_t(1) << 16;

}  // namespace

ByteNgramLM::ByteNgramLM(int order, int table_bits, double beta)
    : order_(order), table_bits_(table_bits), beta_(beta) {
    if (!(beta > 0) || !std::isfinite(beta))
        throw std::invalid_argument("beta (the prior weight of the shorter context) must be > 0, got " +
                                    std::to_string(beta));
    if (order < 1 || order > kMaxOrder)
        throw std::invalid_argument("order must be between 1 and 16 bytes of context + 1, got " + std::to_string(order));
    if (table_bits < 10 || table_bits > 30)
        throw std::invalid_argument("table_bits must be between 10 and 30 (2^bits counters per table), got " +
                                    std::to_string(table_bits));
    mask_ = (std::uint64_t(1) << table_bits) - 1;
    if (order > 1) {
        const std::size_t size = std::size_t(1) << table_bits;
        pair_counts_ = std::vector<std::atomic<std::uint32_t>>(size);
        ctx_counts_ = std::vector<std::atomic<std::uint32_t>>(size);
    }
    for (auto& c : byte_counts_) c.store(0);
}

std::int64_t ByteNgramLM::fitted_bytes() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return total0_;
}

void ByteNgramLM::fit(const Tape& texts, int threads, const KeepGoing& keep_going) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    bool ok = true;
    try {
        ok = parallel_for_tape(texts, threads, [&](int, std::size_t begin, std::size_t end) {
                               std::uint64_t ctx[kMaxOrder];
                               std::int64_t local[256] = {0};
                               std::size_t since_poll = 0;
                               auto flush = [&] {
                                   for (int b = 0; b < 256; ++b)
                                       if (local[b]) byte_counts_[b].fetch_add(local[b], std::memory_order_relaxed);
                               };
                               for (std::size_t t = begin; t < end; ++t) {
                                   const std::uint8_t* s = texts.data(t);
                                   const std::size_t n = texts.length(t);
                                   for (std::size_t i = 0; i < n; ++i) {
                                       if (++since_poll == kPollBytes) {
                                           since_poll = 0;
                                           if (cancellation_requested()) {
                                               flush();
                                               throw Cancelled{};
                                           }
                                       }
                                       const std::uint8_t b = s[i];
                                       ++local[b];
                                       context_hashes(s, i, order_, ctx);
                                       for (int k = 1; k < order_; ++k) {
                                           const std::uint64_t cs = fmix64(ctx[k]) & mask_;
                                           const std::uint64_t ps = pair_slot(ctx[k], b, mask_);
                                           pair_counts_[ps].fetch_add(1, std::memory_order_relaxed);
                                           ctx_counts_[cs].fetch_add(1, std::memory_order_relaxed);
                                       }
                                   }
                               }
                               flush();
                           },
                           keep_going);
    } catch (const Cancelled&) {
        ok = false;
    }
    // Also after a cancelled fit: the counts added so far are in the model, and total0_ agrees.
    total0_ = 0;
    for (auto& c : byte_counts_) total0_ += c.load();
    if (!ok) throw Cancelled{};
}

void ByteNgramLM::bits(const Tape& texts, int threads, const KeepGoing& keep_going, double* out) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    double p0[256];
    for (int b = 0; b < 256; ++b)
        p0[b] = (static_cast<double>(byte_counts_[b].load()) + 1.0) / (static_cast<double>(total0_) + 256.0);
    bool ok = parallel_for_tape(texts, threads, [&](int, std::size_t begin, std::size_t end) {
                               std::uint64_t ctx[kMaxOrder];
                               std::size_t since_poll = 0;
                               for (std::size_t t = begin; t < end; ++t) {
                                   const std::uint8_t* s = texts.data(t);
                                   const std::size_t n = texts.length(t);
                                   double total = 0.0;
                                   for (std::size_t i = 0; i < n; ++i) {
                                       if (++since_poll == kPollBytes) {
                                           since_poll = 0;
                                           if (cancellation_requested()) throw Cancelled{};
                                       }
                                       const std::uint8_t b = s[i];
                                       double p = p0[b];
                                       context_hashes(s, i, order_, ctx);
                                       for (int k = 1; k < order_; ++k) {
                                           const std::uint64_t cs = fmix64(ctx[k]) & mask_;
                                           const double c = ctx_counts_[cs].load(std::memory_order_relaxed);
                                           if (c == 0) break;  // an unseen context has no longer seen extension
                                           // A collision can inflate the pair count; a count above its
                                           // context's total would not be a probability.
                                           const double pair = std::min<double>(
                                               pair_counts_[pair_slot(ctx[k], b, mask_)].load(std::memory_order_relaxed), c);
                                           p = (pair + beta_ * p) / (c + beta_);
                                       }
                                       total -= std::log2(p);
                                   }
                                   out[t] = total;
                               }
                           },
                           keep_going);
    if (!ok) throw Cancelled{};
}

}  // namespace zipsift
