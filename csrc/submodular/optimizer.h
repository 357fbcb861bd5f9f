// The greedy family, generic over objectives (objective.h).
//
//   naive             every step evaluates every remaining candidate
//   lazy              a max-heap of stale upper bounds (gain desc, index asc); the same picks as naive
//   stochastic        every step evaluates a uniform sample of ceil(n/k * ln(1/epsilon)) remaining
//                     candidates (Mirzasoleiman et al. 2015): (1 - 1/e - epsilon) in expectation
//   lazier_than_lazy  stochastic greedy that evaluates its sample in order of stale bounds; the same
//                     picks as stochastic for the same seed, fewer evaluations
//
// Ties go to the lowest index. The sample stream comes from one seeded generator on the calling
// thread, so results depend on the seed, never on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "objective.h"

namespace zipsift::submodular {

enum class Optimizer { naive, lazy, stochastic, lazier_than_lazy };

// Throws std::invalid_argument naming the accepted optimizers.
Optimizer parse_optimizer(const std::string& name);

struct GreedyOptions {
    Optimizer optimizer = Optimizer::lazy;
    std::size_t budget = 0;
    double epsilon = 0.1;
    std::uint64_t seed = 0;
    bool stop_if_zero_gain = false;
    bool stop_if_negative_gain = false;
    int threads = 0;
};

struct GreedyResult {
    std::vector<std::int64_t> indices;  // in pick order
    std::vector<double> gains;          // gain of each pick when it was made
    double objective = 0;               // f(selected)
    std::size_t evaluations = 0;        // gain() calls
};

// Called on the calling thread about every 100 ms with the number of picks so far.
using Progress = std::function<void(std::size_t picks)>;

GreedyResult maximize(Objective& f, const GreedyOptions& options, const KeepGoing& keep_going,
                      const Progress& progress);

}  // namespace zipsift::submodular
