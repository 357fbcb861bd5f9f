// Set functions maximised by the greedy family (optimizer.h). An objective owns the state of the
// current selection A and answers marginal gains f(A + j) - f(A).
//
// Kernels: s_ij is the similarity of ground element i to candidate j. A dense kernel is given both
// row-major (rows[i * n + j] = s_ij) and candidate-major (cols[j * n + i] = s_ij); for a symmetric
// kernel both are the same buffer. A sparse kernel is given as CSR (by row i) and CSC (by candidate
// j); entries not stored are 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "../ncd.h"  // KeepGoing, Cancelled

namespace zipsift::submodular {

struct DenseKernel {
    const float* rows;
    const float* cols;
    std::size_t n;
};

struct SparseKernel {
    std::size_t n;
    const std::int64_t* row_ptr;  // n + 1
    const std::int32_t* row_index;
    const float* row_value;
    const std::int64_t* col_ptr;  // n + 1
    const std::int32_t* col_index;
    const float* col_value;
};

class Objective {
public:
    virtual ~Objective() = default;

    // |V|, the ground set.
    virtual std::size_t size() const = 0;

    // f(A + j) - f(A) for j not in A. Computed sequentially in a fixed order, so the same j gives
    // the same bits whichever optimizer or thread asks.
    virtual double gain(std::size_t j) const = 0;

    // Rough cost of one gain() in memory touches; decides when batches are worth threads.
    virtual double gain_cost() const = 0;

    // A <- A + j, where `gain` is gain(j) as just computed.
    virtual void commit(std::size_t j, double gain, int threads, const KeepGoing& keep_going) = 0;

    // f(A).
    virtual double value() const = 0;

    // True when the first pick's gain is a convention: it is reported as 0 and skips the stop rules.
    virtual bool first_pick_is_free() const { return false; }

    // True when a gain may grow as A grows (not submodular): stale gains are then no upper bounds,
    // and the lazy optimizers refuse the objective.
    virtual bool gains_can_grow() const { return false; }

    // out[k] = gain(js[k]); in parallel over candidates when the batch is large enough to pay for
    // threads. Deterministic: every value comes from gain().
    void gains(const std::int64_t* js, std::size_t count, double* out, int threads,
               const KeepGoing& keep_going) const;
};

// Facility location and its two DELIFT relatives, as one family over per-row floors and caps:
//   f(A) = sum_i max(0, min(max_{j in A} s_ij, cap_i) - floor_i)   (empty max = floor_i)
//   FL:   floor = 0, cap = +inf
//   FLMI: floor = 0, cap_i = eta * max_q s_iq       (query kernel)
//   FLCG: floor_i = nu * max_p s_ip, cap = +inf     (private kernel)
// floor and cap may be null (0 and +inf). Requires s >= 0 and floor >= 0 (checked by the caller).
// The dense form keeps a bound per candidate and block of 16 rows (n^2 / 16 floats, built on
// `threads`) to skip blocks that cannot add to a gain.
std::unique_ptr<Objective> facility_location(const DenseKernel& k, const float* floor, const float* cap, int threads,
                                             const KeepGoing& keep_going);
std::unique_ptr<Objective> facility_location(const SparseKernel& k, const float* floor, const float* cap);

// Graph cut: f(A) = sum_{i in V, j in A} s_ij - lambda * sum_{i, j in A} s_ij.
std::unique_ptr<Objective> graph_cut(const DenseKernel& k, double lambda);
std::unique_ptr<Objective> graph_cut(const SparseKernel& k, double lambda);

// Disparity sum: f(A) = sum_{i < j in A} d_ij with d_ij = 1 - (s_ij + s_ji) / 2. Supermodular (gains
// grow), so only the naive and stochastic optimizers apply.
std::unique_ptr<Objective> disparity_sum(const DenseKernel& k);
std::unique_ptr<Objective> disparity_sum(const SparseKernel& k);

// Disparity min: f(A) = min_{i != j in A} d_ij (0 while |A| < 2). Not submodular: the greedy picks
// the candidate farthest from its nearest selected item (the max-min dispersion greedy), and the
// "gain" it reports is that distance, min_{a in A} d_aj (0 for the first pick, index 0).
std::unique_ptr<Objective> disparity_min(const DenseKernel& k);
std::unique_ptr<Objective> disparity_min(const SparseKernel& k);

// Log determinant: f(A) = log det(S_A + regularizer * I), by incremental Cholesky; memory
// size() * max_picks doubles. Symmetric kernels only (the caller checks).
std::unique_ptr<Objective> log_determinant(const DenseKernel& k, double regularizer, std::size_t max_picks);

}  // namespace zipsift::submodular
