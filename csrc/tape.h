// Many byte strings as one contiguous buffer plus offsets (the "tape"): built once while the GIL
// is held, then read by worker threads without touching Python objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zipsift {

struct Tape {
    std::vector<std::uint8_t> bytes;
    std::vector<std::size_t> offsets{0};  // item i is bytes[offsets[i], offsets[i+1])

    std::size_t size() const { return offsets.size() - 1; }
    const std::uint8_t* data(std::size_t i) const { return bytes.data() + offsets[i]; }
    std::size_t length(std::size_t i) const { return offsets[i + 1] - offsets[i]; }

    void append(const void* p, std::size_t n) {
        const auto* b = static_cast<const std::uint8_t*>(p);
        bytes.insert(bytes.end(), b, b + n);
        offsets.push_back(bytes.size());
    }
};

}  // namespace zipsift
