#include "codec.h"

#include <zlib.h>
#ifdef ZIPSIFT_HAVE_ZSTD
#include <zstd.h>
#endif

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>

namespace zipsift {

namespace {

// CPython's gzip.compress writes a 10-byte header and an 8-byte trailer (CRC-32, size) around a
// raw deflate stream; zlib.compress writes a 2-byte header and a 4-byte Adler-32 trailer. The
// deflate stream itself does not depend on the wrapper, so we run raw deflate and add these.
constexpr std::int64_t kGzipWrapperBytes = 10 + 8;
constexpr std::int64_t kZlibWrapperBytes = 2 + 4;

// CPython's zlib.compress and gzip.compress use deflateInit2 with memLevel DEF_MEM_LEVEL (8) and the
// default strategy; matching them is what makes sizes equal.
constexpr int kCPythonMemLevel = 8;

// Recycles zlib's allocations within one meter: deflateCopy allocates ~256 KB of state per copy,
// and recycling those blocks keeps the copy to its memcpy (glibc would otherwise trim and re-fault
// them on every pair).
class BlockCache {
public:
    ~BlockCache() {
        for (void* block : idle_) std::free(block);
    }
    static voidpf alloc(voidpf opaque, uInt items, uInt size) {
        return static_cast<BlockCache*>(opaque)->take(static_cast<std::size_t>(items) * size);
    }
    static void release(voidpf opaque, voidpf address) { static_cast<BlockCache*>(opaque)->give(address); }

private:
    // Each block starts with its usable size; kHeader keeps the payload 16-byte aligned.
    static constexpr std::size_t kHeader = 16;
    static constexpr std::size_t kMaxIdle = 16;

    void* take(std::size_t n) {
        for (std::size_t i = 0; i < idle_.size(); ++i) {
            if (*static_cast<std::size_t*>(idle_[i]) == n) {
                void* block = idle_[i];
                idle_[i] = idle_.back();
                idle_.pop_back();
                return static_cast<char*>(block) + kHeader;
            }
        }
        void* block = std::malloc(n + kHeader);
        if (!block) return Z_NULL;
        *static_cast<std::size_t*>(block) = n;
        return static_cast<char*>(block) + kHeader;
    }
    void give(void* address) {
        void* block = static_cast<char*>(address) - kHeader;
        if (idle_.size() < kMaxIdle)
            idle_.push_back(block);
        else
            std::free(block);
    }

    std::vector<void*> idle_;
};

// Below this candidate length, copying the deflate state (~256 KB of memcpy, ~8 us) costs more
// than compressing the candidate again. Crossovers measured on a 2-core EPYC with stdlib text
// (a C loop, malloc'd copies): ~0.95 KB at level 9, ~1 KB at level 6, ~1.8 KB at level 1;
// recycled blocks make the copy a little cheaper, hence 768 B at level 9.
std::size_t prefix_reuse_min_bytes(int level) {
    return level >= 9 ? 768 : level >= 6 ? 1024 : level >= 2 ? 1536 : 2048;
}

class DeflateMeter final : public SizeMeter {
public:
    DeflateMeter(const CodecSpec& spec, std::int64_t wrapper_bytes)
        : SizeMeter(spec), wrapper_bytes_(wrapper_bytes), prefix_reuse_min_(prefix_reuse_min_bytes(spec.level)) {
        std::memset(&stream_, 0, sizeof(stream_));
        stream_.zalloc = &BlockCache::alloc;
        stream_.zfree = &BlockCache::release;
        stream_.opaque = &blocks_;
        if (deflateInit2(&stream_, spec.level, Z_DEFLATED, -MAX_WBITS, kCPythonMemLevel, Z_DEFAULT_STRATEGY) != Z_OK)
            throw std::bad_alloc();
    }
    ~DeflateMeter() override { deflateEnd(&stream_); }
    DeflateMeter(const DeflateMeter&) = delete;
    DeflateMeter& operator=(const DeflateMeter&) = delete;

    std::int64_t size(const std::uint8_t* a, std::size_t na, const std::uint8_t* b, std::size_t nb) override {
        // A reset stream keeps the previous input's bytes past the end of the window's data
        // (deflateReset does not lower zlib's zeroing high-water mark), while CPython's fresh stream
        // has zeros there. The output is still identical: longest_match clips nice_match to the
        // lookahead, so the first candidate that reaches the end of the input stops the search and
        // bytes past the end never decide a match. tests/test_ncd_exact.py pins this adversarially.
        deflateReset(&stream_);
        // Feeding a then b gives the same stream as feeding a ⊕ b at once: with Z_NO_FLUSH deflate
        // stops while it still needs lookahead, and block boundaries depend only on positions.
        // This spares a copy of the concatenation.
        feed(stream_, a, na, nb == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (nb != 0) feed(stream_, b, nb, Z_FINISH);
        return static_cast<std::int64_t>(stream_.total_out) + wrapper_bytes_;
    }

    void concat_sizes(const std::uint8_t* x, std::size_t nx, const Tape& ys, std::size_t j0, std::size_t j1,
                      std::int64_t* out) override {
        if (nx < prefix_reuse_min_ || j1 - j0 < 2) {
            SizeMeter::concat_sizes(x, nx, ys, j0, j1, out);
            return;
        }
        // The candidate comes first in every pair: compress it once, then finish a copy of that
        // state with each target. deflateCopy carries the pending output and counters, so the
        // result is byte-for-byte C(x ⊕ y).
        deflateReset(&stream_);
        feed(stream_, x, nx, Z_NO_FLUSH);
        for (std::size_t j = j0; j < j1; ++j) {
            z_stream work;
            if (deflateCopy(&work, &stream_) != Z_OK) throw std::bad_alloc();
            try {
                feed(work, ys.data(j), ys.length(j), Z_FINISH);
            } catch (...) {
                deflateEnd(&work);
                throw;
            }
            out[j - j0] = static_cast<std::int64_t>(work.total_out) + wrapper_bytes_;
            deflateEnd(&work);
        }
    }

private:
    void feed(z_stream& stream, const std::uint8_t* data, std::size_t n, int flush) {
        // zlib counts input in uInt; feed huge texts in slices.
        constexpr std::size_t kSlice = 1u << 30;
        do {
            std::size_t take = n < kSlice ? n : kSlice;
            stream.next_in = const_cast<Bytef*>(data);
            stream.avail_in = static_cast<uInt>(take);
            data += take;
            n -= take;
            int mode = n == 0 ? flush : Z_NO_FLUSH;
            for (;;) {
                // Only the size is wanted: the output goes to a small buffer that is overwritten.
                stream.next_out = sink_;
                stream.avail_out = sizeof(sink_);
                int rc = deflate(&stream, mode);
                if (rc == Z_STREAM_END) break;
                if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("zlib deflate failed");
                // Z_FINISH runs until Z_STREAM_END; otherwise stop once input is taken and output fit.
                if (mode != Z_FINISH && stream.avail_in == 0 && stream.avail_out != 0) break;
            }
        } while (n != 0);
    }

    BlockCache blocks_;  // declared before stream_: it must outlive the stream's deflateEnd
    z_stream stream_;
    std::int64_t wrapper_bytes_;
    std::size_t prefix_reuse_min_;
    Bytef sink_[1 << 14];
};

#ifdef ZIPSIFT_HAVE_ZSTD
class ZstdMeter final : public SizeMeter {
public:
    explicit ZstdMeter(const CodecSpec& spec) : SizeMeter(spec), level_(spec.level), cctx_(ZSTD_createCCtx()) {
        if (!cctx_) throw std::bad_alloc();
    }
    ~ZstdMeter() override { ZSTD_freeCCtx(cctx_); }
    ZstdMeter(const ZstdMeter&) = delete;
    ZstdMeter& operator=(const ZstdMeter&) = delete;

    std::int64_t size(const std::uint8_t* a, std::size_t na, const std::uint8_t* b, std::size_t nb) override {
        const std::uint8_t* src = a;
        std::size_t n = na + nb;
        if (nb != 0) {
            // Streaming a then b could change zstd's frame (buffering, parameter choice by pledged
            // size); one-shot on a contiguous copy is what ZSTD_compress does.
            if (joined_.size() < n) joined_.resize(n);
            std::memcpy(joined_.data(), a, na);
            std::memcpy(joined_.data() + na, b, nb);
            src = joined_.data();
        }
        std::size_t bound = ZSTD_compressBound(n);
        if (out_.size() < bound) out_.resize(bound);
        std::size_t rc = ZSTD_compressCCtx(cctx_, out_.data(), out_.size(), src, n, level_);
        if (ZSTD_isError(rc)) throw std::runtime_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(rc));
        return static_cast<std::int64_t>(rc);
    }

private:
    int level_;
    ZSTD_CCtx* cctx_;
    std::vector<std::uint8_t> joined_, out_;
};
#endif

const char* kind_name(CodecKind kind) {
    switch (kind) {
        case CodecKind::gzip: return "gzip";
        case CodecKind::zlib: return "zlib";
        case CodecKind::zstd: return "zstd";
    }
    return "?";
}

}  // namespace

std::string CodecSpec::name() const { return kind_name(kind); }

std::vector<std::string> available_codecs() {
    std::vector<std::string> names{"gzip", "zlib"};
#ifdef ZIPSIFT_HAVE_ZSTD
    names.emplace_back("zstd");
#endif
    return names;
}

CodecSpec make_codec_spec(const std::string& name, int level) {
    if (name == "gzip" || name == "zlib") {
        CodecKind kind = name == "gzip" ? CodecKind::gzip : CodecKind::zlib;
        if (level == 0)
            throw std::invalid_argument(
                name + " level 0 is refused: it writes stored (uncompressed) blocks, so C(x+y) is C(x)+C(y) "
                "whatever the texts say and every score ignores their content. Use a level from 1 to 9 "
                "(9, the default, is the exact ZIP-FIT setting).");
        if (level < 1 || level > 9)
            throw std::invalid_argument(name + " level must be from 1 to 9, got " + std::to_string(level));
        return {kind, level};
    }
    if (name == "zstd") {
#ifdef ZIPSIFT_HAVE_ZSTD
        if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
            throw std::invalid_argument("zstd level must be from " + std::to_string(ZSTD_minCLevel()) + " to " +
                                        std::to_string(ZSTD_maxCLevel()) + ", got " + std::to_string(level));
        return {CodecKind::zstd, level};
#else
        throw std::invalid_argument(
            "codec 'zstd' is not compiled into this build of zipsift (libzstd's headers were not found when it "
            "was built). Install them (Debian/Ubuntu: apt-get install libzstd-dev; Fedora: dnf install "
            "libzstd-devel; conda: conda install zstd) and rebuild: pip install --force-reinstall "
            "--no-binary zipsift zipsift (or pip install . from a checkout). zipsift.codecs() lists what is "
            "compiled in.");
#endif
    }
    std::string known;
    for (const auto& c : available_codecs()) known += (known.empty() ? "" : ", ") + c;
    throw std::invalid_argument("unknown codec '" + name + "'; this build has: " + known);
}

std::vector<LibraryVersion> codec_library_versions() {
    std::vector<LibraryVersion> v{{"zlib", ZLIB_VERSION, zlibVersion()}};
#ifdef ZIPSIFT_HAVE_ZSTD
    v.push_back({"zstd", ZSTD_VERSION_STRING, ZSTD_versionString()});
#endif
    return v;
}

namespace {

SizeMeter* new_size_meter(const CodecSpec& spec) {
    switch (spec.kind) {
        case CodecKind::gzip: return new DeflateMeter(spec, kGzipWrapperBytes);
        case CodecKind::zlib: return new DeflateMeter(spec, kZlibWrapperBytes);
        case CodecKind::zstd:
#ifdef ZIPSIFT_HAVE_ZSTD
            return new ZstdMeter(spec);
#else
            break;
#endif
    }
    throw std::invalid_argument("codec '" + spec.name() + "' is not compiled into this build");
}

// Idle meters by (codec, level). Bounded: at most this many idle meters of one kind are kept.
constexpr std::size_t kMaxIdlePerSpec = 64;
std::mutex pool_mutex;
std::map<std::pair<int, int>, std::vector<SizeMeter*>> idle_meters;

std::pair<int, int> pool_key(const CodecSpec& spec) { return {static_cast<int>(spec.kind), spec.level}; }

}  // namespace

void ReturnToPool::operator()(SizeMeter* meter) const {
    if (!meter) return;
    {
        std::lock_guard<std::mutex> lock(pool_mutex);
        auto& idle = idle_meters[pool_key(meter->spec)];
        if (idle.size() < kMaxIdlePerSpec) {
            idle.push_back(meter);
            return;
        }
    }
    delete meter;
}

MeterLease borrow_size_meter(const CodecSpec& spec) {
    {
        std::lock_guard<std::mutex> lock(pool_mutex);
        auto& idle = idle_meters[pool_key(spec)];
        if (!idle.empty()) {
            SizeMeter* meter = idle.back();
            idle.pop_back();
            return MeterLease(meter);
        }
    }
    return MeterLease(new_size_meter(spec));
}

}  // namespace zipsift
