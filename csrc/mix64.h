// A 64-bit integer mixer shared by the hashed n-gram features and the byte language model.
#pragma once

#include <cstdint>

namespace zipsift {

// MurmurHash3's 64-bit finalizer: a cheap bijection under which every input bit affects every
// output bit, so nearby keys (consecutive n-gram hashes, contexts) land in unrelated buckets.
inline std::uint64_t fmix64(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

}  // namespace zipsift
