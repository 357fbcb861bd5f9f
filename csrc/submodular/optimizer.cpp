#include "optimizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <queue>
#include <stdexcept>

#include "../parallel.h"

namespace zipsift::submodular {

Optimizer parse_optimizer(const std::string& name) {
    if (name == "naive") return Optimizer::naive;
    if (name == "lazy") return Optimizer::lazy;
    if (name == "stochastic") return Optimizer::stochastic;
    if (name == "lazier_than_lazy") return Optimizer::lazier_than_lazy;
    throw std::invalid_argument("unknown optimizer '" + name +
                                "'; expected one of naive, lazy, stochastic, lazier_than_lazy");
}

namespace {

// SplitMix64 with Lemire's unbiased bounded integers: the same stream on every platform, unlike
// std::uniform_int_distribution.
class Random {
public:
    explicit Random(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, bound), bound > 0.
    std::uint64_t below(std::uint64_t bound) {
        __uint128_t m = static_cast<__uint128_t>(next()) * bound;
        std::uint64_t low = static_cast<std::uint64_t>(m);
        if (low < bound) {
            const std::uint64_t threshold = -bound % bound;
            while (low < threshold) {
                m = static_cast<__uint128_t>(next()) * bound;
                low = static_cast<std::uint64_t>(m);
            }
        }
        return static_cast<std::uint64_t>(m >> 64);
    }

private:
    std::uint64_t state_;
};

// Polls for Ctrl-C and reports progress from the calling thread, at most every 100 ms.
class Poller {
public:
    Poller(const KeepGoing& keep_going, const Progress& progress) : keep_going_(keep_going), progress_(progress) {}
    void operator()(std::size_t picks, bool force = false) {
        const auto now = std::chrono::steady_clock::now();
        if (!force && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        if (keep_going_ && !keep_going_()) throw Cancelled{};
        if (progress_) progress_(picks);
    }

private:
    const KeepGoing& keep_going_;
    const Progress& progress_;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Is (g1, j1) a better pick than (g2, j2)? Higher gain; on a tie, the lower index.
inline bool better(double g1, std::int64_t j1, double g2, std::int64_t j2) {
    return g1 > g2 || (g1 == g2 && j1 < j2);
}

class Run {
public:
    Run(Objective& f, const GreedyOptions& o, const KeepGoing& keep_going, const Progress& progress)
        : f_(f), o_(o), keep_going_(keep_going), poll_(keep_going, progress) {}

    // Applies the stop rules, then commits; false means stop.
    bool take(std::int64_t j, double gain) {
        if (std::isnan(gain))
            throw std::invalid_argument("a marginal gain is NaN (index " + std::to_string(j) +
                                        "); check the kernel for NaN or inf entries");
        const bool exempt = result_.indices.empty() && f_.first_pick_is_free();
        if (!exempt && o_.stop_if_zero_gain && gain == 0) return false;
        if (!exempt && o_.stop_if_negative_gain && gain < 0) return false;
        f_.commit(static_cast<std::size_t>(j), gain, o_.threads, keep_going_);
        result_.indices.push_back(j);
        result_.gains.push_back(exempt ? 0.0 : gain);
        poll_(result_.indices.size());
        return true;
    }

    void evaluate(const std::int64_t* js, std::size_t count, double* out) {
        f_.gains(js, count, out, o_.threads, keep_going_);
        result_.evaluations += count;
    }

    GreedyResult finish() {
        result_.objective = f_.value();
        return std::move(result_);
    }

    std::size_t picks() const { return result_.indices.size(); }
    Poller& poll() { return poll_; }

private:
    Objective& f_;
    const GreedyOptions& o_;
    const KeepGoing& keep_going_;
    Poller poll_;
    GreedyResult result_;
};

void naive(Run& run, std::size_t n, std::size_t budget) {
    std::vector<std::int64_t> remaining(n);
    for (std::size_t j = 0; j < n; ++j) remaining[j] = static_cast<std::int64_t>(j);
    std::vector<double> g(n);
    while (run.picks() < budget) {
        run.evaluate(remaining.data(), remaining.size(), g.data());
        std::size_t best = 0;  // remaining is ascending, so the first maximum is the lowest index
        for (std::size_t k = 1; k < remaining.size(); ++k)
            if (g[k] > g[best]) best = k;
        if (!run.take(remaining[best], g[best])) return;
        remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(best));
    }
}

struct Bound {
    double gain;
    std::int64_t index;
    std::size_t step;  // the number of picks when `gain` was computed
};
struct LowerPriority {
    bool operator()(const Bound& a, const Bound& b) const { return better(b.gain, b.index, a.gain, a.index); }
};

// A popped bound that is fresh for this step beats every other bound, and bounds only overstate
// gains (submodularity), so it is the exact argmax with the lowest-index tie rule: naive's pick.
void lazy(Run& run, std::size_t n, std::size_t budget) {
    std::vector<std::int64_t> all(n);
    for (std::size_t j = 0; j < n; ++j) all[j] = static_cast<std::int64_t>(j);
    std::vector<double> g(n);
    run.evaluate(all.data(), n, g.data());
    std::vector<Bound> init(n);
    for (std::size_t j = 0; j < n; ++j) init[j] = {g[j], static_cast<std::int64_t>(j), 0};
    std::priority_queue<Bound, std::vector<Bound>, LowerPriority> heap(LowerPriority{}, std::move(init));
    // Most steps re-evaluate a few stale tops, one at a time. Some (early ones above all, when every
    // bound is still a gain over the empty set) re-evaluate hundreds: once a step has re-evaluated
    // kSerial candidates, it re-evaluates the next stale tops in batches as large as all it has done
    // so far, on threads. Batches can only overshoot (evaluate a candidate that was not needed), by
    // at most the last batch, and never change the pick.
    constexpr std::size_t kSerial = 8, kMaxBatch = 4096;
    std::vector<std::int64_t> js;
    std::vector<double> fresh;
    std::size_t evaluated_this_step = 0;
    while (run.picks() < budget && !heap.empty()) {
        const std::size_t step = run.picks();
        if (heap.top().step == step) {
            const Bound top = heap.top();
            heap.pop();
            if (!run.take(top.index, top.gain)) return;
            evaluated_this_step = 0;
            continue;
        }
        const std::size_t batch = evaluated_this_step < kSerial ? 1 : std::min(evaluated_this_step, kMaxBatch);
        js.clear();
        while (js.size() < batch && !heap.empty() && heap.top().step != step) {
            js.push_back(heap.top().index);
            heap.pop();
        }
        fresh.resize(js.size());
        run.evaluate(js.data(), js.size(), fresh.data());
        for (std::size_t k = 0; k < js.size(); ++k) heap.push({fresh[k], js[k], step});
        evaluated_this_step += js.size();
        run.poll()(step);
    }
}

std::size_t sample_size(std::size_t n, std::size_t budget, double epsilon) {
    const double s = std::ceil(static_cast<double>(n) / static_cast<double>(std::max<std::size_t>(budget, 1)) *
                               std::log(1.0 / epsilon));
    return static_cast<std::size_t>(std::max(1.0, std::min(s, static_cast<double>(n))));
}

// Shared by stochastic and lazier-than-lazy so both draw the same samples for a seed.
class Sampler {
public:
    Sampler(std::size_t n, std::uint64_t seed) : rng_(seed), remaining_(n) {
        for (std::size_t j = 0; j < n; ++j) remaining_[j] = static_cast<std::int64_t>(j);
    }
    // A uniform sample without replacement of min(s, remaining) candidates: a partial Fisher-Yates
    // shuffle, leaving the sample at the front of `remaining_`.
    const std::int64_t* draw(std::size_t s, std::size_t& count) {
        count = std::min(s, remaining_.size());
        for (std::size_t k = 0; k < count; ++k) {
            const std::size_t r = k + static_cast<std::size_t>(rng_.below(remaining_.size() - k));
            std::swap(remaining_[k], remaining_[r]);
        }
        return remaining_.data();
    }
    // Removes the k-th entry of the last sample from the remaining candidates.
    void remove(std::size_t k) {
        remaining_[k] = remaining_.back();
        remaining_.pop_back();
    }
    bool empty() const { return remaining_.empty(); }

private:
    Random rng_;
    std::vector<std::int64_t> remaining_;
};

void stochastic(Run& run, std::size_t n, std::size_t budget, const GreedyOptions& o) {
    Sampler sampler(n, o.seed);
    const std::size_t s = sample_size(n, budget, o.epsilon);
    std::vector<double> g(s);
    while (run.picks() < budget && !sampler.empty()) {
        std::size_t count = 0;
        const std::int64_t* sample = sampler.draw(s, count);
        run.evaluate(sample, count, g.data());
        std::size_t best = 0;
        for (std::size_t k = 1; k < count; ++k)
            if (better(g[k], sample[k], g[best], sample[best])) best = k;
        const std::int64_t j = sample[best];
        if (!run.take(j, g[best])) return;
        sampler.remove(best);
    }
}

// Stochastic greedy whose sample is evaluated in order of stale bounds, stopping as soon as no
// remaining bound can beat the best fresh gain: the exact argmax of the sample, as stochastic finds.
void lazier_than_lazy(Run& run, std::size_t n, std::size_t budget, const GreedyOptions& o) {
    Sampler sampler(n, o.seed);
    const std::size_t s = sample_size(n, budget, o.epsilon);
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> bound(n, inf);
    std::vector<std::size_t> order;
    std::vector<std::int64_t> unseen;
    std::vector<double> g;
    while (run.picks() < budget && !sampler.empty()) {
        std::size_t count = 0;
        const std::int64_t* sample = sampler.draw(s, count);
        // Never-evaluated candidates outrank any finite gain, so all of them would be evaluated:
        // do it as one batch, on threads.
        unseen.clear();
        for (std::size_t k = 0; k < count; ++k)
            if (bound[sample[k]] == inf) unseen.push_back(sample[k]);
        g.resize(unseen.size());
        run.evaluate(unseen.data(), unseen.size(), g.data());
        for (std::size_t k = 0; k < unseen.size(); ++k) bound[unseen[k]] = g[k];
        std::sort(unseen.begin(), unseen.end());
        order.resize(count);
        for (std::size_t k = 0; k < count; ++k) order[k] = k;
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return better(bound[sample[a]], sample[a], bound[sample[b]], sample[b]);
        });
        std::size_t best = count;  // position in the sample
        double best_gain = -inf;
        const std::size_t n_unseen = unseen.size();
        std::size_t seen_fresh = 0;
        for (std::size_t r = 0; r < count; ++r) {
            const std::size_t k = order[r];
            const std::int64_t j = sample[k];
            if (best < count && better(best_gain, sample[best], bound[j], j)) break;
            // Bounds of the candidates evaluated just above are already exact for this step.
            double gain;
            if (seen_fresh < n_unseen && std::binary_search(unseen.begin(), unseen.end(), j)) {
                gain = bound[j];
                ++seen_fresh;
            } else {
                run.evaluate(&j, 1, &gain);
                bound[j] = gain;
            }
            if (best == count || better(gain, j, best_gain, sample[best])) {
                best = k;
                best_gain = gain;
            }
        }
        const std::int64_t j = sample[best];
        if (!run.take(j, best_gain)) return;
        sampler.remove(best);
    }
}

}  // namespace

GreedyResult maximize(Objective& f, const GreedyOptions& o, const KeepGoing& keep_going, const Progress& progress) {
    const std::size_t n = f.size();
    if (o.budget > n)
        throw std::invalid_argument("budget " + std::to_string(o.budget) + " is larger than the ground set (" +
                                    std::to_string(n) + " items)");
    if ((o.optimizer == Optimizer::stochastic || o.optimizer == Optimizer::lazier_than_lazy) &&
        !(o.epsilon > 0 && o.epsilon < 1))
        throw std::invalid_argument("epsilon must be in (0, 1), got " + std::to_string(o.epsilon));
    if ((o.optimizer == Optimizer::lazy || o.optimizer == Optimizer::lazier_than_lazy) && f.gains_can_grow())
        throw std::invalid_argument("this objective's gains grow as the selection grows, so stale gains are no "
                                    "upper bounds: use optimizer 'naive' or 'stochastic'");
    Run run(f, o, keep_going, progress);
    if (o.budget > 0) {
        switch (o.optimizer) {
            case Optimizer::naive: naive(run, n, o.budget); break;
            case Optimizer::lazy: lazy(run, n, o.budget); break;
            case Optimizer::stochastic: stochastic(run, n, o.budget, o); break;
            case Optimizer::lazier_than_lazy: lazier_than_lazy(run, n, o.budget, o); break;
        }
    }
    run.poll()(run.picks(), true);
    return run.finish();
}

}  // namespace zipsift::submodular
