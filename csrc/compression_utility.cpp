#include "compression_utility.h"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec.h"

#ifdef ZIPSIFT_HAVE_ZSTD
#include <zstd.h>
#endif

namespace zipsift {

#ifdef ZIPSIFT_HAVE_ZSTD
namespace {

void check(std::size_t rc, const char* what) {
    if (ZSTD_isError(rc)) throw std::runtime_error(std::string("zstd ") + what + " failed: " + ZSTD_getErrorName(rc));
}

// One worker's compressor: a context and an output buffer, reset (never re-created) per frame.
class ConditionalMeter {
public:
    explicit ConditionalMeter(int level) : level_(level), cctx_(ZSTD_createCCtx()) {
        if (!cctx_) throw std::bad_alloc();
    }
    ~ConditionalMeter() { ZSTD_freeCCtx(cctx_); }
    ConditionalMeter(const ConditionalMeter&) = delete;
    ConditionalMeter& operator=(const ConditionalMeter&) = delete;

    // C(y | p ⊕ s) as defined in the header; dict is p's CDict or null for no p.
    std::int64_t cost(const ZSTD_CDict* dict, const std::uint8_t* s, std::size_t ns, const std::uint8_t* y,
                      std::size_t ny) {
        check(ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters), "reset");
        check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level_), "setParameter");
        // The pledged size sizes zstd's tables to the frame (a few KB, not the MBs an unknown size
        // gets), which makes short frames ~10x cheaper; it also writes the size into the header,
        // which C does not count.
        check(ZSTD_CCtx_setPledgedSrcSize(cctx_, ns + ny), "setPledgedSrcSize");
        if (dict) check(ZSTD_CCtx_refCDict(cctx_, dict), "refCDict");
        const std::size_t room = ZSTD_compressBound(ns) + ZSTD_compressBound(ny) + 64;
        if (out_.size() < room) out_.resize(room);
        ZSTD_outBuffer ob{out_.data(), out_.size(), 0};
        feed(ob, s, ns, ZSTD_e_flush);
        const std::size_t before = ob.pos;
        feed(ob, y, ny, ZSTD_e_end);
        return static_cast<std::int64_t>(ob.pos - before);
    }

private:
    void feed(ZSTD_outBuffer& ob, const std::uint8_t* p, std::size_t n, ZSTD_EndDirective mode) {
        ZSTD_inBuffer ib{p, n, 0};
        std::size_t remaining;
        do {
            remaining = ZSTD_compressStream2(cctx_, &ob, &ib, mode);
            check(remaining, "compressStream2");
            if (remaining && ob.pos == ob.size) throw std::logic_error("zstd output buffer too small");
        } while (remaining != 0);
    }

    int level_;
    ZSTD_CCtx* cctx_;
    std::vector<std::uint8_t> out_;
};

struct CDictDeleter {
    void operator()(ZSTD_CDict* d) const { ZSTD_freeCDict(d); }
};

}  // namespace
#endif

template <class T>
void compression_utility_kernel(const Tape& x, const Tape& y, int level, bool diagonal, int threads,
                                const KeepGoing& keep_going, T* out) {
    make_codec_spec("zstd", level);  // the level's range, or why zstd is missing
    resolve_threads(threads);
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
    const int workers = resolve_threads(threads);
    std::vector<std::unique_ptr<ConditionalMeter>> meters(workers);
    auto meter = [&](int w) -> ConditionalMeter& {
        if (!meters[w]) meters[w] = std::make_unique<ConditionalMeter>(level);
        return *meters[w];
    };
    // C(y_i | x_i): no dictionary.
    std::vector<std::int64_t> base(n);
    if (!parallel_for(n, 16, threads, [&](int w, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) base[i] = meter(w).cost(nullptr, x.data(i), x.length(i), y.data(i), y.length(i));
        }, keep_going))
        throw Cancelled{};
    // One column j per task: p = x_j ⊕ y_j digested once, then every i.
    std::vector<std::vector<std::uint8_t>> joined(workers);
    if (!parallel_for(n, 1, threads, [&](int w, std::size_t b, std::size_t e) {
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
                    const std::int64_t with = meter(w).cost(dict.get(), x.data(i), x.length(i), y.data(i), y.length(i));
                    out[i * n + j] = static_cast<T>(static_cast<double>(base[i] - with) / static_cast<double>(y.length(i)));
                }
            }
        }, keep_going))
        throw Cancelled{};
#else
    (void)keep_going;
    (void)out;
#endif
}

template void compression_utility_kernel<float>(const Tape&, const Tape&, int, bool, int, const KeepGoing&, float*);
template void compression_utility_kernel<double>(const Tape&, const Tape&, int, bool, int, const KeepGoing&,
                                                 double*);

}  // namespace zipsift
