#ifdef ZIPSIFT_HAVE_ZSTD
#include "zstd_meter.h"

#include <cstring>
#include <vector>

#include "zstd_context.h"

namespace zipsift {

namespace {

class ZstdMeter final : public SizeMeter {
public:
    explicit ZstdMeter(const CodecSpec& spec) : SizeMeter(spec), level_(spec.level) {}

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
        return context_.size(src, n, level_);
    }

private:
    int level_;
    ZstdContext context_;
    std::vector<std::uint8_t> joined_;
};
}  // namespace

SizeMeter* new_zstd_meter(const CodecSpec& spec) { return new ZstdMeter(spec); }

}  // namespace zipsift
#endif  // ZIPSIFT_HAVE_ZSTD
