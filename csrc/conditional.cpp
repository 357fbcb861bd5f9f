#include "conditional.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "zstd_context.h"

#ifdef ZIPSIFT_HAVE_ZSTD
// The raw-content dictionary constructor (ZSTD_createCDict_advanced2) is in libzstd's stable-ABI
// "experimental" section: plain ZSTD_createCDict would parse a target starting with zstd's
// dictionary magic number as a zstd dictionary instead of as text.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#endif

namespace zipsift {

#ifdef ZIPSIFT_HAVE_ZSTD

namespace {

// Candidates per task: small, so that a batch of long documents still spreads over the threads.
constexpr std::size_t kCandidatesPerTask = 8;

void check(std::size_t rc, const char* what) {
    if (ZSTD_isError(rc)) throw std::runtime_error(std::string(what) + ": " + ZSTD_getErrorName(rc));
}

// C(x | D) combined over every dictionary of `dicts`, on a worker's context.
double combined(ZstdContext& zstd, const std::uint8_t* x, std::size_t n, const ConditionalCompressor& dicts,
                DictCombine combine) {
    std::int64_t best = 0, sum = 0;
    for (std::size_t k = 0; k < dicts.dictionaries(); ++k) {
        std::int64_t c = zstd.size_with_dict(x, n, dicts.cdict(k));
        best = k == 0 ? c : std::min(best, c);
        sum += c;
    }
    // Integer sum then one division: the same value whatever the thread that computed it.
    return combine == DictCombine::min ? static_cast<double>(best)
                                       : static_cast<double>(sum) / static_cast<double>(dicts.dictionaries());
}

PerWorker<ZstdContext> contexts(int threads) {
    return PerWorker<ZstdContext>(threads, [] { return std::make_unique<ZstdContext>(); });
}

// Whole texts in input order while the chunk stays within dict_bytes; a longer text is cut.
Tape pack(const Tape& texts, std::size_t dict_bytes) {
    Tape chunks;
    std::vector<std::uint8_t> current;
    auto flush = [&] {
        if (!current.empty()) chunks.append(current.data(), current.size());
        current.clear();
    };
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const std::uint8_t* p = texts.data(i);
        std::size_t n = texts.length(i);
        if (current.size() + n > dict_bytes) flush();
        while (n > dict_bytes) {
            chunks.append(p, dict_bytes);
            p += dict_bytes;
            n -= dict_bytes;
        }
        current.insert(current.end(), p, p + n);
    }
    flush();
    return chunks;
}

}  // namespace

std::size_t zstd_window_bytes(int level) {
    return std::size_t{1} << ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, 0).windowLog;
}

ConditionalCompressor::ConditionalCompressor(const Tape& texts, int level, std::size_t dict_bytes, int threads,
                                             const KeepGoing& keep_going)
    : level_(level), dict_bytes_(dict_bytes) {
    if (dict_bytes < 8)
        throw std::invalid_argument("dict_bytes must be at least 8 (libzstd ignores shorter dictionaries), got " +
                                    std::to_string(dict_bytes));
    if (texts.bytes.size() < 8)
        throw std::invalid_argument("the texts total " + std::to_string(texts.bytes.size()) +
                                    " bytes; a zstd dictionary needs at least 8 (libzstd ignores shorter ones), "
                                    "so give more text");
    chunks_ = pack(texts, dict_bytes);
    cdicts_.assign(chunks_.size(), nullptr);
    try {
        run_parallel(
            chunks_.size(), 1, threads,
            [&](int, std::size_t begin, std::size_t end) {
                for (std::size_t k = begin; k < end; ++k) {
                    ZSTD_CCtx_params* params = ZSTD_createCCtxParams();
                    if (!params) throw std::bad_alloc();
                    std::size_t rc = ZSTD_CCtxParams_setParameter(params, ZSTD_c_compressionLevel, level);
                    ZSTD_CDict* cdict = ZSTD_isError(rc) ? nullptr
                                                         : ZSTD_createCDict_advanced2(chunks_.data(k), chunks_.length(k),
                                                                                      ZSTD_dlm_byRef, ZSTD_dct_rawContent,
                                                                                      params, ZSTD_defaultCMem);
                    ZSTD_freeCCtxParams(params);
                    check(rc, "zstd level");
                    if (!cdict) throw std::runtime_error("libzstd could not build a dictionary (out of memory?)");
                    cdicts_[k] = cdict;
                }
            },
            keep_going);
    } catch (...) {
        for (void* d : cdicts_) ZSTD_freeCDict(static_cast<ZSTD_CDict*>(d));
        throw;
    }
}

ConditionalCompressor::~ConditionalCompressor() {
    for (void* d : cdicts_) ZSTD_freeCDict(static_cast<ZSTD_CDict*>(d));
}

void compression_gain(const Tape& candidates, const ConditionalCompressor& target,
                      const ConditionalCompressor* reference, DictCombine combine, int threads,
                      const KeepGoing& keep_going, GainParts* out) {
    for (std::size_t i = 0; i < candidates.size(); ++i)
        if (candidates.length(i) == 0)
            throw std::invalid_argument("candidates[" + std::to_string(i) +
                                        "] is empty: the gain is per byte of text, so an empty text has none; "
                                        "drop empty texts first (zipsift's readers refuse or skip them)");
    PerWorker<ZstdContext> workers = contexts(threads);
    run_parallel(
        candidates.size(), kCandidatesPerTask, threads,
        [&](int w, std::size_t begin, std::size_t end) {
            ZstdContext& zstd = workers[w];
            for (std::size_t i = begin; i < end; ++i) {
                const std::uint8_t* x = candidates.data(i);
                std::size_t n = candidates.length(i);
                double c_t = combined(zstd, x, n, target, combine);
                double base = reference ? combined(zstd, x, n, *reference, combine)
                                        : static_cast<double>(zstd.size(x, n, target.level()));
                out[i] = {8.0 * (base - c_t) / static_cast<double>(n), c_t, base};
            }
        },
        keep_going);
}

void conditional_sizes(const Tape& texts, const ConditionalCompressor& dicts, int threads,
                       const KeepGoing& keep_going, std::int64_t* out) {
    PerWorker<ZstdContext> workers = contexts(threads);
    const std::size_t k = dicts.dictionaries();
    run_parallel(
        texts.size(), kCandidatesPerTask, threads,
        [&](int w, std::size_t begin, std::size_t end) {
            ZstdContext& zstd = workers[w];
            for (std::size_t i = begin; i < end; ++i)
                for (std::size_t d = 0; d < k; ++d)
                    out[i * k + d] = zstd.size_with_dict(texts.data(i), texts.length(i), dicts.cdict(d));
        },
        keep_going);
}

#else  // built without libzstd: every entry point says how to get it

namespace {
[[noreturn]] void no_zstd() {
    throw std::invalid_argument(
        "CompressionGain needs the zstd codec, which is not compiled into this build of zipsift. Install "
        "libzstd's headers (Debian/Ubuntu: apt-get install libzstd-dev) and reinstall zipsift from source.");
}
}  // namespace

std::size_t zstd_window_bytes(int) { no_zstd(); }
ConditionalCompressor::ConditionalCompressor(const Tape&, int, std::size_t, int, const KeepGoing&) { no_zstd(); }
ConditionalCompressor::~ConditionalCompressor() = default;
void compression_gain(const Tape&, const ConditionalCompressor&, const ConditionalCompressor*, DictCombine, int,
                      const KeepGoing&, GainParts*) { no_zstd(); }
void conditional_sizes(const Tape&, const ConditionalCompressor&, int, const KeepGoing&, std::int64_t*) { no_zstd(); }

#endif  // ZIPSIFT_HAVE_ZSTD

}  // namespace zipsift
