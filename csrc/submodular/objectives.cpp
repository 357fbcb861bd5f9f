#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../parallel.h"
#include "objective.h"

#include "simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace zipsift::submodular {

void Objective::gains(const std::int64_t* js, std::size_t count, double* out, int threads,
                      const KeepGoing& keep_going) const {
    // Below ~1 ms of work, starting threads costs more than it saves.
    constexpr double kWorthThreads = 2e5;
    const double cost = std::max(1.0, gain_cost());
    if (resolve_threads(threads) == 1 || count * cost < kWorthThreads) {
        // On the calling thread: poll for Ctrl-C every ~1e7 terms, as parallel_for would.
        const std::size_t poll_every = std::max<std::size_t>(1, static_cast<std::size_t>(1e7 / cost));
        for (std::size_t k = 0; k < count; ++k) {
            out[k] = gain(static_cast<std::size_t>(js[k]));
            if ((k + 1) % poll_every == 0 && keep_going && !keep_going()) throw Cancelled{};
        }
        return;
    }
    const std::size_t grain = std::max<std::size_t>(1, static_cast<std::size_t>(kWorthThreads / 4 / cost));
    if (!parallel_for(count, grain, threads, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t k = b; k < e; ++k) out[k] = gain(static_cast<std::size_t>(js[k]));
        }, keep_going))
        throw Cancelled{};
}

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Runs body(j) for j in [0, n), on threads when n is large. Each j is written by one thread only.
template <class Body>
void for_each_candidate(std::size_t n, int threads, const KeepGoing& keep_going, Body&& body) {
    constexpr std::size_t kGrain = 1 << 14;
    if (n < 4 * kGrain || resolve_threads(threads) == 1) {
        for (std::size_t j = 0; j < n; ++j) body(j);
        return;
    }
    if (!parallel_for(n, kGrain, threads, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t j = b; j < e; ++j) body(j);
        }, keep_going))
        throw Cancelled{};
}

// Bit b of the result is bound[b] > floor[b], for b < count <= 64: which blocks a gain must read.
// One compare instruction per 16 (AVX-512), 8 (AVX2) or 4 (SSE) blocks.
enum class Isa { baseline, avx2, avx512 };
inline std::uint64_t readable_blocks_baseline(const float* bound, const float* floor, std::size_t count) {
    std::uint64_t m = 0;
    std::size_t b = 0;
#if defined(__SSE2__)
    for (; b + 4 <= count; b += 4)
        m |= static_cast<std::uint64_t>(_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(bound + b), _mm_loadu_ps(floor + b))))
             << b;
#endif
    for (; b < count; ++b) m |= static_cast<std::uint64_t>(bound[b] > floor[b]) << b;
    return m;
}
#if ZS_X86_DISPATCH
ZS_TARGET_AVX2 std::uint64_t readable_blocks_avx2(const float* bound, const float* floor, std::size_t count) {
    std::uint64_t m = 0;
    std::size_t b = 0;
    for (; b + 8 <= count; b += 8) {
        const __m256 gt = _mm256_cmp_ps(_mm256_loadu_ps(bound + b), _mm256_loadu_ps(floor + b), _CMP_GT_OQ);
        m |= static_cast<std::uint64_t>(_mm256_movemask_ps(gt)) << b;
    }
    for (; b < count; ++b) m |= static_cast<std::uint64_t>(bound[b] > floor[b]) << b;
    return m;
}
ZS_TARGET_AVX512 std::uint64_t readable_blocks_avx512(const float* bound, const float* floor, std::size_t count) {
    std::uint64_t m = 0;
    std::size_t b = 0;
    for (; b + 16 <= count; b += 16)
        m |= static_cast<std::uint64_t>(
                 _mm512_cmp_ps_mask(_mm512_loadu_ps(bound + b), _mm512_loadu_ps(floor + b), _CMP_GT_OQ))
             << b;
    for (; b < count; ++b) m |= static_cast<std::uint64_t>(bound[b] > floor[b]) << b;
    return m;
}
#endif

template <Isa I>
inline std::uint64_t readable_blocks(const float* bound, const float* floor, std::size_t count) {
#if ZS_X86_DISPATCH
    if constexpr (I == Isa::avx512) return readable_blocks_avx512(bound, floor, count);
    if constexpr (I == Isa::avx2) return readable_blocks_avx2(bound, floor, count);
#endif
    return readable_blocks_baseline(bound, floor, count);
}

// sum_i max(0, min(col_i, cap_i) - cur_i), in float per entry and double per lane, over 16 fixed
// lanes added in a fixed order: vectorised, yet the same bits on every instruction set and thread.
//
// With block bounds (Blocked), rows go in blocks of 16 (one 64-byte line of the column); a block
// whose bound max_i min(s_ij, cap_i) is <= min_i cur_i can only add zeros, so it is not read. Adding
// +0.0 leaves a lane unchanged, so skipping changes no bit of the result, only the memory traffic.
template <bool Capped, bool Blocked, Isa I>
ZS_INLINE double fl_gain_body(const float* col, const float* cur, const float* cap, std::size_t n,
                              const float* bound, const float* floor_of_block) {
    typedef float v8f __attribute__((vector_size(32)));
    typedef double v8d __attribute__((vector_size(64)));
    v8d acc0{}, acc1{};
    const v8f zero{};
    auto add_block = [&](std::size_t i) {
        v8f s0, s1, c0, c1;
        __builtin_memcpy(&s0, col + i, 32);
        __builtin_memcpy(&s1, col + i + 8, 32);
        __builtin_memcpy(&c0, cur + i, 32);
        __builtin_memcpy(&c1, cur + i + 8, 32);
        if constexpr (Capped) {
            v8f p0, p1;
            __builtin_memcpy(&p0, cap + i, 32);
            __builtin_memcpy(&p1, cap + i + 8, 32);
            s0 = p0 < s0 ? p0 : s0;
            s1 = p1 < s1 ? p1 : s1;
        }
        v8f d0 = s0 - c0, d1 = s1 - c1;
        d0 = d0 > zero ? d0 : zero;
        d1 = d1 > zero ? d1 : zero;
        acc0 += __builtin_convertvector(d0, v8d);
        acc1 += __builtin_convertvector(d1, v8d);
    };
    const std::size_t blocks = n / 16;
    if constexpr (Blocked) {
        // Which blocks to read is decided 64 at a time into a bit mask, then the set bits are walked
        // in ascending order: no unpredictable branch per block, and the next word's blocks are
        // prefetched while this word's are added (a column is read at scattered places).
        const std::size_t words = (blocks + 63) / 64;
        auto build = [&](std::size_t w) {
            const std::size_t b0 = w * 64;
            return readable_blocks<I>(bound + b0, floor_of_block + b0, std::min<std::size_t>(64, blocks - b0));
        };
        auto prefetch = [&](std::size_t w, std::uint64_t m) {
            for (; m; m &= m - 1) __builtin_prefetch(col + (w * 64 + __builtin_ctzll(m)) * 16);
        };
        std::uint64_t next = words ? build(0) : 0;
        prefetch(0, next);
        for (std::size_t w = 0; w < words; ++w) {
            std::uint64_t m = next;
            if (w + 1 < words) {
                next = build(w + 1);
                prefetch(w + 1, next);
            }
            for (; m; m &= m - 1) add_block((w * 64 + __builtin_ctzll(m)) * 16);
        }
    } else {
        constexpr std::size_t kAhead = 8;  // blocks of 64 bytes
        for (std::size_t b = 0; b < std::min(kAhead, blocks); ++b) __builtin_prefetch(col + b * 16);
        for (std::size_t b = 0; b < blocks; ++b) {
            if (b + kAhead < blocks) __builtin_prefetch(col + (b + kAhead) * 16);
            add_block(b * 16);
        }
    }
    double tail = 0;
    for (std::size_t i = blocks * 16; i < n; ++i) {
        float s = col[i];
        if constexpr (Capped) s = cap[i] < s ? cap[i] : s;
        const float d = s - cur[i];
        tail += d > 0.0f ? d : 0.0f;
    }
    double lanes = 0;
    for (int l = 0; l < 8; ++l) lanes += acc0[l];
    for (int l = 0; l < 8; ++l) lanes += acc1[l];
    return lanes + tail;
}

#define ZS_FL_ARGS const float *col, const float *cur, const float *cap, std::size_t n, const float *bound, \
                   const float *floor_of_block
#define ZS_FL_BODY(I)                                                                                   \
    if (bound) return cap ? fl_gain_body<true, true, I>(col, cur, cap, n, bound, floor_of_block)        \
                          : fl_gain_body<false, true, I>(col, cur, cap, n, bound, floor_of_block);      \
    return cap ? fl_gain_body<true, false, I>(col, cur, cap, n, bound, floor_of_block)                  \
               : fl_gain_body<false, false, I>(col, cur, cap, n, bound, floor_of_block);
double fl_gain_baseline(ZS_FL_ARGS) { ZS_FL_BODY(Isa::baseline) }
#if ZS_X86_DISPATCH
ZS_TARGET_AVX2 double fl_gain_avx2(ZS_FL_ARGS) { ZS_FL_BODY(Isa::avx2) }
ZS_TARGET_AVX512 double fl_gain_avx512(ZS_FL_ARGS) { ZS_FL_BODY(Isa::avx512) }
#endif
#undef ZS_FL_BODY
#undef ZS_FL_ARGS

ZS_INLINE double column_sum_body(const float* col, std::size_t n) {
    typedef float v8f __attribute__((vector_size(32)));
    typedef double v8d __attribute__((vector_size(64)));
    v8d acc0{}, acc1{};
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v8f s0, s1;
        __builtin_memcpy(&s0, col + i, 32);
        __builtin_memcpy(&s1, col + i + 8, 32);
        acc0 += __builtin_convertvector(s0, v8d);
        acc1 += __builtin_convertvector(s1, v8d);
    }
    double tail = 0;
    for (; i < n; ++i) tail += col[i];
    double lanes = 0;
    for (int l = 0; l < 8; ++l) lanes += acc0[l];
    for (int l = 0; l < 8; ++l) lanes += acc1[l];
    return lanes + tail;
}

double column_sum_baseline(const float* col, std::size_t n) { return column_sum_body(col, n); }
#if ZS_X86_DISPATCH
ZS_TARGET_AVX2 double column_sum_avx2(const float* col, std::size_t n) { return column_sum_body(col, n); }
ZS_TARGET_AVX512 double column_sum_avx512(const float* col, std::size_t n) { return column_sum_body(col, n); }
#endif

// out[b] = max over the 16 rows of block b of min(col_i, cap_i), for b < blocks.
template <bool Capped>
ZS_INLINE void block_max_body(const float* col, const float* cap, std::size_t blocks, float* out) {
    typedef float v8f __attribute__((vector_size(32)));
    for (std::size_t b = 0; b < blocks; ++b) {
        v8f s0, s1;
        __builtin_memcpy(&s0, col + b * 16, 32);
        __builtin_memcpy(&s1, col + b * 16 + 8, 32);
        if constexpr (Capped) {
            v8f p0, p1;
            __builtin_memcpy(&p0, cap + b * 16, 32);
            __builtin_memcpy(&p1, cap + b * 16 + 8, 32);
            s0 = p0 < s0 ? p0 : s0;
            s1 = p1 < s1 ? p1 : s1;
        }
        v8f m = s0 > s1 ? s0 : s1;
        float r = m[0];
        for (int l = 1; l < 8; ++l) r = m[l] > r ? m[l] : r;
        out[b] = r;
    }
}
#define ZS_BM_BODY \
    cap ? block_max_body<true>(col, cap, blocks, out) : block_max_body<false>(col, cap, blocks, out);
void block_max_baseline(const float* col, const float* cap, std::size_t blocks, float* out) { ZS_BM_BODY }
#if ZS_X86_DISPATCH
ZS_TARGET_AVX2 void block_max_avx2(const float* col, const float* cap, std::size_t blocks, float* out) { ZS_BM_BODY }
ZS_TARGET_AVX512 void block_max_avx512(const float* col, const float* cap, std::size_t blocks, float* out) {
    ZS_BM_BODY
}
#endif
#undef ZS_BM_BODY

using BlockMax = void (*)(const float*, const float*, std::size_t, float*);
BlockMax pick_block_max() {
#if ZS_X86_DISPATCH
    if (simd::level() == simd::Level::avx512) return block_max_avx512;
    if (simd::level() == simd::Level::avx2) return block_max_avx2;
#endif
    return block_max_baseline;
}

using FlGain = double (*)(const float*, const float*, const float*, std::size_t, const float*, const float*);
using ColumnSum = double (*)(const float*, std::size_t);

FlGain pick_fl_gain() {
#if ZS_X86_DISPATCH
    if (simd::level() == simd::Level::avx512) return fl_gain_avx512;
    if (simd::level() == simd::Level::avx2) return fl_gain_avx2;
#endif
    return fl_gain_baseline;
}
ColumnSum pick_column_sum() {
#if ZS_X86_DISPATCH
    if (simd::level() == simd::Level::avx512) return column_sum_avx512;
    if (simd::level() == simd::Level::avx2) return column_sum_avx2;
#endif
    return column_sum_baseline;
}

double column_sum(const float* col, std::size_t n) {
    static const ColumnSum impl = pick_column_sum();
    return impl(col, n);
}

// ---- facility location family ----------------------------------------------------------------

class FacilityLocationBase : public Objective {
public:
    FacilityLocationBase(std::size_t n, const float* floor, const float* cap)
        : n_(n), cur_(n, 0.0f), cap_(cap ? std::vector<float>(cap, cap + n) : std::vector<float>()) {
        if (floor) std::copy(floor, floor + n, cur_.begin());
    }
    std::size_t size() const override { return n_; }
    double value() const override { return value_; }

protected:
    float capped(float s, std::size_t i) const { return cap_.empty() ? s : std::min(s, cap_[i]); }
    const float* cap() const { return cap_.empty() ? nullptr : cap_.data(); }

    std::size_t n_;
    std::vector<float> cur_;  // max(floor_i, min(max_{j in A} s_ij, cap_i))
    std::vector<float> cap_;
    double value_ = 0;
};

class DenseFacilityLocation final : public FacilityLocationBase {
public:
    DenseFacilityLocation(const DenseKernel& k, const float* floor, const float* cap, int threads,
                          const KeepGoing& keep_going)
        : FacilityLocationBase(k.n, floor, cap), k_(k), impl_(pick_fl_gain()), block_max_(pick_block_max()) {
        // Block bounds pay off once the kernel no longer fits in cache; they take n^2 / 16 floats.
        if (n_ < kMinBlockedRows) return;
        blocks_ = n_ / 16;
        bound_.resize(n_ * blocks_);
        floor_of_block_.resize(blocks_);
        initial_.resize(n_);
        const float* capv = this->cap();
        // One pass over the kernel: the bounds of column j, then its gain over the empty selection
        // while the column is still in cache (every optimizer asks for all of those first).
        const float* cur = cur_.data();
        if (!parallel_for(n_, 64, threads, [&](int, std::size_t b, std::size_t e) {
                for (std::size_t j = b; j < e; ++j) {
                    const float* col = k_.cols + j * n_;
                    block_max_(col, capv, blocks_, bound_.data() + j * blocks_);
                    initial_[j] = impl_(col, cur, capv, n_, nullptr, nullptr);
                }
            }, keep_going))
            throw Cancelled{};
        refresh_block_floors();
    }
    double gain(std::size_t j) const override {
        if (picks_ == 0 && !initial_.empty()) return initial_[j];  // the bits impl_ gives: skipped blocks add only zeros
        return impl_(k_.cols + j * n_, cur_.data(), cap(), n_, blocks_ ? bound_.data() + j * blocks_ : nullptr,
                     floor_of_block_.data());
    }
    double gain_cost() const override { return static_cast<double>(n_); }
    void commit(std::size_t j, double gain, int threads, const KeepGoing& keep_going) override {
        const float* col = k_.cols + j * n_;
        for_each_candidate(n_, threads, keep_going, [&](std::size_t i) { cur_[i] = std::max(cur_[i], capped(col[i], i)); });
        refresh_block_floors();
        value_ += gain;
        ++picks_;
    }

private:
    static constexpr std::size_t kMinBlockedRows = 1024;

    void refresh_block_floors() {
        for (std::size_t blk = 0; blk < blocks_; ++blk)
            floor_of_block_[blk] = *std::min_element(cur_.begin() + blk * 16, cur_.begin() + blk * 16 + 16);
    }

    DenseKernel k_;
    FlGain impl_;
    BlockMax block_max_;
    std::size_t blocks_ = 0;
    std::vector<float> bound_;           // n x blocks: max over a block of rows of min(s_ij, cap_i)
    std::vector<float> floor_of_block_;  // min over a block of rows of cur_i
    std::vector<double> initial_;        // gain(j) over the empty selection
    std::size_t picks_ = 0;
};

class SparseFacilityLocation final : public FacilityLocationBase {
public:
    SparseFacilityLocation(const SparseKernel& k, const float* floor, const float* cap)
        : FacilityLocationBase(k.n, floor, cap), k_(k) {}
    double gain(std::size_t j) const override {
        double sum = 0;
        for (std::int64_t e = k_.col_ptr[j]; e < k_.col_ptr[j + 1]; ++e) {
            const std::size_t i = static_cast<std::size_t>(k_.col_index[e]);
            const float d = capped(k_.col_value[e], i) - cur_[i];
            sum += d > 0.0f ? d : 0.0f;
        }
        return sum;
    }
    double gain_cost() const override { return 4.0 * static_cast<double>(k_.col_ptr[n_]) / std::max<std::size_t>(1, n_); }
    void commit(std::size_t j, double gain, int, const KeepGoing&) override {
        for (std::int64_t e = k_.col_ptr[j]; e < k_.col_ptr[j + 1]; ++e) {
            const std::size_t i = static_cast<std::size_t>(k_.col_index[e]);
            cur_[i] = std::max(cur_[i], capped(k_.col_value[e], i));
        }
        value_ += gain;
    }

private:
    SparseKernel k_;
};

// ---- pairwise objectives: graph cut, disparity sum, disparity min ------------------------------

// pair_[j] = sum_{a in A} (s_aj + s_ja): what graph cut and disparity sum need of the selection.
class PairSums {
public:
    explicit PairSums(std::size_t n) : pair_(n, 0.0) {}
    void add(const DenseKernel& k, std::size_t a, int threads, const KeepGoing& keep_going) {
        const float* row = k.rows + a * k.n;
        const float* col = k.cols + a * k.n;
        for_each_candidate(k.n, threads, keep_going,
                           [&](std::size_t j) { pair_[j] += static_cast<double>(row[j]) + col[j]; });
    }
    void add(const SparseKernel& k, std::size_t a) {
        for (std::int64_t e = k.row_ptr[a]; e < k.row_ptr[a + 1]; ++e) pair_[k.row_index[e]] += k.row_value[e];
        for (std::int64_t e = k.col_ptr[a]; e < k.col_ptr[a + 1]; ++e) pair_[k.col_index[e]] += k.col_value[e];
    }
    double operator[](std::size_t j) const { return pair_[j]; }

private:
    std::vector<double> pair_;
};

float sparse_entry(const SparseKernel& k, std::size_t i, std::size_t j) {
    const std::int32_t* b = k.col_index + k.col_ptr[j];
    const std::int32_t* e = k.col_index + k.col_ptr[j + 1];
    const std::int32_t* it = std::lower_bound(b, e, static_cast<std::int32_t>(i));
    return (it != e && *it == static_cast<std::int32_t>(i)) ? k.col_value[it - k.col_index] : 0.0f;
}

template <class Kernel>
class GraphCut final : public Objective {
public:
    GraphCut(const Kernel& k, double lambda) : k_(k), lambda_(lambda), pair_(k.n), total_(k.n), diag_(k.n) {
        for (std::size_t j = 0; j < k.n; ++j) {
            if constexpr (std::is_same_v<Kernel, DenseKernel>) {
                total_[j] = column_sum(k.cols + j * k.n, k.n);
                diag_[j] = k.cols[j * k.n + j];
            } else {
                double s = 0;
                for (std::int64_t e = k.col_ptr[j]; e < k.col_ptr[j + 1]; ++e) s += k.col_value[e];
                total_[j] = s;
                diag_[j] = sparse_entry(k, j, j);
            }
        }
    }
    std::size_t size() const override { return k_.n; }
    double gain(std::size_t j) const override { return total_[j] - lambda_ * (pair_[j] + diag_[j]); }
    double gain_cost() const override { return 1; }
    void commit(std::size_t j, double gain, int threads, const KeepGoing& keep_going) override {
        if constexpr (std::is_same_v<Kernel, DenseKernel>) pair_.add(k_, j, threads, keep_going);
        else pair_.add(k_, j);
        value_ += gain;
    }
    double value() const override { return value_; }

private:
    Kernel k_;
    double lambda_;
    PairSums pair_;
    std::vector<double> total_, diag_;
    double value_ = 0;
};

template <class Kernel>
class DisparitySum final : public Objective {
public:
    explicit DisparitySum(const Kernel& k) : k_(k), pair_(k.n) {}
    std::size_t size() const override { return k_.n; }
    // sum_{a in A} (1 - (s_aj + s_ja) / 2)
    double gain(std::size_t j) const override { return static_cast<double>(picks_) - 0.5 * pair_[j]; }
    double gain_cost() const override { return 1; }
    bool gains_can_grow() const override { return true; }
    void commit(std::size_t j, double gain, int threads, const KeepGoing& keep_going) override {
        if constexpr (std::is_same_v<Kernel, DenseKernel>) pair_.add(k_, j, threads, keep_going);
        else pair_.add(k_, j);
        ++picks_;
        value_ += gain;
    }
    double value() const override { return value_; }

private:
    Kernel k_;
    PairSums pair_;
    std::size_t picks_ = 0;
    double value_ = 0;
};

template <class Kernel>
class DisparityMin final : public Objective {
public:
    explicit DisparityMin(const Kernel& k)
        : k_(k), nearest_(k.n, std::numeric_limits<double>::infinity()), touched_(k.n, 0.0) {}
    std::size_t size() const override { return k_.n; }
    // Before the first pick every candidate ties at +inf (an upper bound on every later gain, as the
    // lazy optimizers need), so the first pick is index 0; it is reported with gain 0.
    double gain(std::size_t j) const override {
        return picks_ == 0 ? std::numeric_limits<double>::infinity() : nearest_[j];
    }
    double gain_cost() const override { return 1; }
    bool first_pick_is_free() const override { return true; }
    void commit(std::size_t a, double gain, int threads, const KeepGoing& keep_going) override {
        if constexpr (std::is_same_v<Kernel, DenseKernel>) {
            const float* row = k_.rows + a * k_.n;
            const float* col = k_.cols + a * k_.n;
            for_each_candidate(k_.n, threads, keep_going, [&](std::size_t j) {
                const double d = 1.0 - 0.5 * (static_cast<double>(row[j]) + col[j]);
                nearest_[j] = std::min(nearest_[j], d);
            });
        } else {
            // Entries not stored have s = 0, so d = 1; stored pairs lower it.
            for (std::size_t j = 0; j < k_.n; ++j) nearest_[j] = std::min(nearest_[j], 1.0);
            std::vector<std::int32_t> seen;
            for (std::int64_t e = k_.row_ptr[a]; e < k_.row_ptr[a + 1]; ++e) {
                seen.push_back(k_.row_index[e]);
                touched_[k_.row_index[e]] += k_.row_value[e];
            }
            for (std::int64_t e = k_.col_ptr[a]; e < k_.col_ptr[a + 1]; ++e) {
                seen.push_back(k_.col_index[e]);
                touched_[k_.col_index[e]] += k_.col_value[e];
            }
            for (std::int32_t j : seen) {
                nearest_[j] = std::min(nearest_[j], 1.0 - 0.5 * touched_[j]);
            }
            for (std::int32_t j : seen) touched_[j] = 0.0;
        }
        if (picks_ == 1) value_ = gain;
        else if (picks_ > 1) value_ = std::min(value_, gain);
        ++picks_;
    }
    double value() const override { return value_; }

private:
    Kernel k_;
    std::vector<double> nearest_;  // min_{a in A} d_aj
    std::vector<double> touched_;
    std::size_t picks_ = 0;
    double value_ = 0;
};

// ---- log determinant -----------------------------------------------------------------------

// Greedy MAP by incremental Cholesky (Chen, Zhang & Zhou 2018): for L = S + regularizer * I,
// d_j^2 = L_jj - |c_j|^2 is the Schur complement of j given A, and gain(j) = log d_j^2.
class LogDeterminant final : public Objective {
public:
    LogDeterminant(const DenseKernel& k, double regularizer, std::size_t max_picks)
        : k_(k), reg_(regularizer), max_picks_(max_picks), c_(k.n * max_picks, 0.0), d2_(k.n) {
        for (std::size_t j = 0; j < k.n; ++j) d2_[j] = static_cast<double>(k.rows[j * k.n + j]) + reg_;
    }
    std::size_t size() const override { return k_.n; }
    double gain(std::size_t j) const override {
        return d2_[j] > 0 ? std::log(d2_[j]) : -std::numeric_limits<double>::infinity();
    }
    double gain_cost() const override { return 1; }
    void commit(std::size_t a, double gain, int threads, const KeepGoing& keep_going) override {
        if (picks_ >= max_picks_) throw std::logic_error("log_determinant: more picks than the budget it was built for");
        if (!(d2_[a] > 0) || !std::isfinite(gain))
            throw std::invalid_argument("log_determinant: S + regularizer * I is not positive definite on the "
                                        "selection (Schur complement " + std::to_string(d2_[a]) + " at index " +
                                        std::to_string(a) + "); use a positive semidefinite kernel or raise "
                                        "the regularizer");
        const double da = std::sqrt(d2_[a]);
        const double* ca = c_.data() + a * max_picks_;
        const float* row = k_.rows + a * k_.n;
        const std::size_t p = picks_;
        for_each_candidate(k_.n, threads, keep_going, [&](std::size_t j) {
            double* cj = c_.data() + j * max_picks_;
            double dot = 0;
            for (std::size_t m = 0; m < p; ++m) dot += ca[m] * cj[m];
            const double e = (static_cast<double>(row[j]) + (j == a ? reg_ : 0.0) - dot) / da;
            cj[p] = e;
            d2_[j] -= e * e;
        });
        ++picks_;
        value_ += gain;
    }
    double value() const override { return value_; }

private:
    DenseKernel k_;
    double reg_;
    std::size_t max_picks_;
    std::vector<double> c_;   // n x max_picks: row j is c_j
    std::vector<double> d2_;
    std::size_t picks_ = 0;
    double value_ = 0;
};

}  // namespace

std::unique_ptr<Objective> facility_location(const DenseKernel& k, const float* floor, const float* cap, int threads,
                                             const KeepGoing& keep_going) {
    return std::make_unique<DenseFacilityLocation>(k, floor, cap, threads, keep_going);
}
std::unique_ptr<Objective> facility_location(const SparseKernel& k, const float* floor, const float* cap) {
    return std::make_unique<SparseFacilityLocation>(k, floor, cap);
}
std::unique_ptr<Objective> graph_cut(const DenseKernel& k, double lambda) {
    return std::make_unique<GraphCut<DenseKernel>>(k, lambda);
}
std::unique_ptr<Objective> graph_cut(const SparseKernel& k, double lambda) {
    return std::make_unique<GraphCut<SparseKernel>>(k, lambda);
}
std::unique_ptr<Objective> disparity_sum(const DenseKernel& k) { return std::make_unique<DisparitySum<DenseKernel>>(k); }
std::unique_ptr<Objective> disparity_sum(const SparseKernel& k) { return std::make_unique<DisparitySum<SparseKernel>>(k); }
std::unique_ptr<Objective> disparity_min(const DenseKernel& k) { return std::make_unique<DisparityMin<DenseKernel>>(k); }
std::unique_ptr<Objective> disparity_min(const SparseKernel& k) { return std::make_unique<DisparityMin<SparseKernel>>(k); }
std::unique_ptr<Objective> log_determinant(const DenseKernel& k, double regularizer, std::size_t max_picks) {
    return std::make_unique<LogDeterminant>(k, regularizer, max_picks);
}

}  // namespace zipsift::submodular
