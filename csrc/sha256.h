// SHA-256 (FIPS 180-4), our own: DSIR's compat scheme buckets every n-gram by its SHA-256 digest,
// as the `data-selection` package does with hashlib, and the core has no OpenSSL to lean on.
#pragma once

#include <cstddef>
#include <cstdint>

namespace zipsift {

// The 32-byte digest of data[0, n).
void sha256(const std::uint8_t* data, std::size_t n, std::uint8_t digest[32]);

// int.from_bytes(sha256(data).digest(), "big") % m, without big integers; m >= 1.
std::uint64_t sha256_mod(const std::uint8_t* data, std::size_t n, std::uint64_t m);

// Whether the x86 SHA extensions are used (picked at load time from cpuid; same digests either way).
bool sha256_uses_cpu_extensions();

}  // namespace zipsift
