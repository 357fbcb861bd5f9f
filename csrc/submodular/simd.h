// Runtime instruction-set dispatch for the hot loops. Wheels target baseline x86-64, so each hot loop
// is written once as an always-inline template and instantiated inside functions compiled for
// AVX-512, AVX2+FMA and the baseline; the best one this CPU supports is chosen on first use.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ZS_X86_DISPATCH 1
#define ZS_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define ZS_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define ZS_X86_DISPATCH 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ZS_INLINE inline __attribute__((always_inline))
#else
#define ZS_INLINE inline
#endif

namespace zipsift::submodular::simd {

enum class Level { baseline, avx2, avx512 };

// The best level this CPU supports (cached).
Level level();

}  // namespace zipsift::submodular::simd
