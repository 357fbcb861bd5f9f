#include "simd.h"

namespace zipsift::submodular::simd {

Level level() {
    static const Level detected = [] {
#if ZS_X86_DISPATCH
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
            return Level::avx512;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Level::avx2;
#endif
        return Level::baseline;
    }();
    return detected;
}

}  // namespace zipsift::submodular::simd
