#include "compression_utility.h"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec.h"

#ifdef ZIPSIFT_HAVE_ZSTD
#include <zstd.h>

#include "zstd_context.h"
#endif

namespace zipsift {

#ifdef ZIPSIFT_HAVE_ZSTD
namespace {

struct CDictDeleter {
    void operator()(ZSTD_CDict* d) const { ZSTD_freeCDict(d); }
};

}  // namespace
#endif

template <class T>
void compression_utility_kernel(const Tape& x, const Tape& y, int level, bool diagonal, int threads,
                                const KeepGoing& keep_going, T* out) {
    make_codec_spec("zstd", level);  // the level's range, or why zstd is missing
    const std::size_t n = x.size();
    if (y.size() != n)
        throw std::invalid_argument("prompts and responses differ in length (" + std::to_string(n) + " and " +
                                    std::to_string(y.size()) + ")");
    for (std::size_t i = 0; i < n; ++i)
        if (y.length(i) == 0)
            throw std::invalid_argument("response " + std::to_string(i) +
                                        " is empty: the utility is per byte of the response, so every response "
                                        "needs at least one byte; drop that pair");
#ifdef ZIPSIFT_HAVE_ZSTD
    PerWorker<ZstdContext> contexts(threads, [] { return std::make_unique<ZstdContext>(); });
    // C(y_i | x_i): no dictionary.
    std::vector<std::int64_t> base(n);
    run_parallel(n, 16, threads, [&](int w, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i)
                base[i] = contexts[w].conditional_size(nullptr, x.data(i), x.length(i), y.data(i), y.length(i), level);
        }, keep_going);
    // One column j per task: p = x_j ⊕ y_j digested once, then every i.
    PerWorker<std::vector<std::uint8_t>> joined(threads, [] { return std::make_unique<std::vector<std::uint8_t>>(); });
    run_parallel(n, 1, threads, [&](int w, std::size_t b, std::size_t e) {
            for (std::size_t j = b; j < e; ++j) {
                std::vector<std::uint8_t>& p = joined[w];
                p.assign(x.data(j), x.data(j) + x.length(j));
                p.insert(p.end(), y.data(j), y.data(j) + y.length(j));
                std::unique_ptr<ZSTD_CDict, CDictDeleter> dict(ZSTD_createCDict(p.data(), p.size(), level));
                if (!dict) throw std::bad_alloc();
                for (std::size_t i = 0; i < n; ++i) {
                    if (i == j && !diagonal) {
                        out[i * n + j] = T(0);
                        continue;
                    }
                    const std::int64_t with =
                        contexts[w].conditional_size(dict.get(), x.data(i), x.length(i), y.data(i), y.length(i), level);
                    out[i * n + j] = static_cast<T>(static_cast<double>(base[i] - with) / static_cast<double>(y.length(i)));
                }
            }
        }, keep_going);
#else
    (void)keep_going;
    (void)out;
#endif
}

template void compression_utility_kernel<float>(const Tape&, const Tape&, int, bool, int, const KeepGoing&, float*);
template void compression_utility_kernel<double>(const Tape&, const Tape&, int, bool, int, const KeepGoing&,
                                                 double*);

}  // namespace zipsift
