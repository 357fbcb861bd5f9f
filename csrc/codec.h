// One interface over the compressors NCD is measured with: the compressed size of a byte string,
// or of the concatenation of two, with no output kept.
//
// Sizes are exact: "gzip" equals len(gzip.compress(s, L)) from CPython, "zlib" equals
// len(zlib.compress(s, L)), "zstd" equals libzstd's one-shot ZSTD_compress(s, L) (and so the
// `zstandard` package's frame when it carries the same libzstd).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tape.h"

namespace zipsift {

enum class CodecKind { gzip, zlib, zstd };

struct CodecSpec {
    CodecKind kind;
    int level;
    std::string name() const;
};

// Validates the name, whether it was compiled in, and the level (gzip/zlib level 0 is refused:
// stored blocks make every score blind to content). Throws std::invalid_argument saying what to do.
CodecSpec make_codec_spec(const std::string& name, int level);

// Names of the codecs compiled into this build, in a stable order.
std::vector<std::string> available_codecs();

// Library versions the sizes depend on: {library, compiled-against version, runtime version,
// linkage, path}. linkage is "system" (a shared library of the machine, loaded from `path`) or
// "bundled" (compiled into the module from source; `path` is then the module itself).
struct LibraryVersion {
    std::string library, compiled, runtime, linkage, path;
};
std::vector<LibraryVersion> codec_library_versions();

// What a codec learns from one target once and reuses for every candidate paired with it.
// Read-only after it is made, so all threads share it.
class TargetIndex {
public:
    virtual ~TargetIndex() = default;
    virtual std::size_t bytes() const = 0;  // memory it holds
};
// One entry per target of a Tape; an entry may be null (the codec then works without it).
using TargetIndexes = std::vector<std::unique_ptr<const TargetIndex>>;

// Measures compressed sizes. Not thread-safe: each worker thread owns one and reuses it; the
// compressor state is reset between calls, never re-created (re-initialising costs ~10x more than
// the compression of a short text).
class SizeMeter {
public:
    explicit SizeMeter(const CodecSpec& spec) : spec(spec) {}
    virtual ~SizeMeter() = default;
    const CodecSpec spec;

    // C(a ⊕ b); pass nb = 0 for C(a).
    virtual std::int64_t size(const std::uint8_t* a, std::size_t na, const std::uint8_t* b, std::size_t nb) = 0;
    std::int64_t size(const std::uint8_t* a, std::size_t na) { return size(a, na, nullptr, 0); }

    // The index of one target for concat_sizes, or null when this codec has none for it.
    virtual std::unique_ptr<const TargetIndex> index_target(const std::uint8_t* /*y*/, std::size_t /*ny*/) {
        return nullptr;
    }

    // out[j - j0] = C(x ⊕ y_j) for j in [j0, j1). Codecs that can reuse the work done on x
    // across the y's, or on each y across the x's (`indexes`: from index_target of a meter with
    // the same spec, one per target of ys, or null), override this; the results are the same as
    // calling size() per pair.
    virtual void concat_sizes(const std::uint8_t* x, std::size_t nx, const Tape& ys, std::size_t j0, std::size_t j1,
                              std::int64_t* out, const TargetIndexes* indexes = nullptr) {
        (void)indexes;
        for (std::size_t j = j0; j < j1; ++j) out[j - j0] = size(x, nx, ys.data(j), ys.length(j));
    }
};

// Meters are costly to create (a level-9 deflate state is ~270 KB): a borrowed one goes back to a
// process-wide free list when its lease ends, so repeated batch calls do not re-initialise.
struct ReturnToPool {
    void operator()(SizeMeter* meter) const;
};
using MeterLease = std::unique_ptr<SizeMeter, ReturnToPool>;
MeterLease borrow_size_meter(const CodecSpec& spec);

}  // namespace zipsift
