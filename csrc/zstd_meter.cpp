#ifdef ZIPSIFT_HAVE_ZSTD
#include "zstd_meter.h"

#include <zstd.h>

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace zipsift {

namespace {

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
            // An empty text's data pointer may be null, and memcpy from null is undefined even for 0 bytes.
            if (na != 0) std::memcpy(joined_.data(), a, na);
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
}  // namespace

SizeMeter* new_zstd_meter(const CodecSpec& spec) { return new ZstdMeter(spec); }

}  // namespace zipsift
#endif  // ZIPSIFT_HAVE_ZSTD
