#include "deflate_meter.h"

#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

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

}  // namespace

SizeMeter* new_deflate_meter(const CodecSpec& spec) {
    return new DeflateMeter(spec, spec.kind == CodecKind::gzip ? kGzipWrapperBytes : kZlibWrapperBytes);
}

}  // namespace zipsift
