#ifdef ZIPSIFT_HAVE_ZSTD
#include "zstd_context.h"

#include <zstd.h>

#include <new>
#include <stdexcept>
#include <string>

namespace zipsift {

namespace {

ZSTD_CCtx* cctx(void* p) { return static_cast<ZSTD_CCtx*>(p); }

std::size_t check(std::size_t rc, const char* what) {
    if (ZSTD_isError(rc)) throw std::runtime_error(std::string("zstd ") + what + " failed: " + ZSTD_getErrorName(rc));
    return rc;
}

}  // namespace

ZstdContext::ZstdContext() : cctx_(ZSTD_createCCtx()) {
    if (!cctx_) throw std::bad_alloc();
}

ZstdContext::~ZstdContext() { ZSTD_freeCCtx(cctx(cctx_)); }

void ZstdContext::reserve(std::size_t bytes) {
    if (out_.size() < bytes) out_.resize(bytes);
}

std::int64_t ZstdContext::size(const std::uint8_t* src, std::size_t n, int level) {
    reserve(ZSTD_compressBound(n));
    return static_cast<std::int64_t>(
        check(ZSTD_compressCCtx(cctx(cctx_), out_.data(), out_.size(), src, n, level), "compression"));
}

std::int64_t ZstdContext::size_with_dict(const std::uint8_t* src, std::size_t n, const void* cdict) {
    reserve(ZSTD_compressBound(n));
    return static_cast<std::int64_t>(check(ZSTD_compress_usingCDict(cctx(cctx_), out_.data(), out_.size(), src, n,
                                                                     static_cast<const ZSTD_CDict*>(cdict)),
                                           "compression with a dictionary"));
}

void ZstdContext::feed(const std::uint8_t* p, std::size_t n, int end_directive) {
    ZSTD_outBuffer ob{out_.data(), out_.size(), pos_};
    ZSTD_inBuffer ib{p, n, 0};
    std::size_t remaining;
    do {
        remaining = check(ZSTD_compressStream2(cctx(cctx_), &ob, &ib, static_cast<ZSTD_EndDirective>(end_directive)),
                          "compressStream2");
        if (remaining && ob.pos == ob.size) throw std::logic_error("zstd output buffer too small");
    } while (remaining != 0);
    pos_ = ob.pos;
}

std::int64_t ZstdContext::conditional_size(const void* cdict, const std::uint8_t* s, std::size_t ns,
                                           const std::uint8_t* y, std::size_t ny, int level) {
    ZSTD_CCtx* c = cctx(cctx_);
    check(ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters), "reset");
    check(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level), "setParameter");
    // The pledged size sizes zstd's tables to the frame (a few KB, not the MBs an unknown size
    // gets), which makes short frames ~10x cheaper; it also writes the size into the header,
    // which C does not count.
    check(ZSTD_CCtx_setPledgedSrcSize(c, ns + ny), "setPledgedSrcSize");
    if (cdict) check(ZSTD_CCtx_refCDict(c, static_cast<const ZSTD_CDict*>(cdict)), "refCDict");
    reserve(ZSTD_compressBound(ns) + ZSTD_compressBound(ny) + 64);
    pos_ = 0;
    feed(s, ns, ZSTD_e_flush);
    const std::size_t before = pos_;
    feed(y, ny, ZSTD_e_end);
    return static_cast<std::int64_t>(pos_ - before);
}

}  // namespace zipsift
#endif  // ZIPSIFT_HAVE_ZSTD
