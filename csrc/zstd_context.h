// One reusable zstd compression context with its output buffer: the unit of zstd work every
// method shares (exact sizes, sizes with a target's dictionary, conditional costs). A worker owns
// one and resets it per frame, never re-creating it. Only built with libzstd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zipsift {

class ZstdContext {
public:
    ZstdContext();  // throws std::bad_alloc when libzstd cannot make a context
    ~ZstdContext();
    ZstdContext(const ZstdContext&) = delete;
    ZstdContext& operator=(const ZstdContext&) = delete;

    // Bytes of libzstd's one-shot ZSTD_compress(src, level): the frame as the zstandard package
    // writes it with default parameters.
    std::int64_t size(const std::uint8_t* src, std::size_t n, int level);

    // Bytes of src compressed with a digested dictionary (a ZSTD_CDict*; its level and the frame
    // flags are the dictionary's): ZSTD_compress_usingCDict.
    std::int64_t size_with_dict(const std::uint8_t* src, std::size_t n, const void* cdict);

    // C(y | p ⊕ s): the bytes zstd at `level` spends on y after the history p ⊕ s, in one streaming
    // frame with p as the digested dictionary `cdict` (null for none) and pledged size |s| + |y|:
    // s is fed and flushed (its blocks closed), then y is fed and the frame ended; the bytes
    // written after the flush are counted (y's blocks with their headers).
    std::int64_t conditional_size(const void* cdict, const std::uint8_t* s, std::size_t ns, const std::uint8_t* y,
                                  std::size_t ny, int level);

private:
    void reserve(std::size_t bytes);
    void feed(const std::uint8_t* p, std::size_t n, int end_directive);

    void* cctx_;  // ZSTD_CCtx*, opaque so that zstd.h stays out of this header
    std::vector<std::uint8_t> out_;
    std::size_t pos_ = 0;
};

}  // namespace zipsift
