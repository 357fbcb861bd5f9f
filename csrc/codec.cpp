// Codec names and levels, library versions, and the process-wide pool of size meters.
#include "codec.h"

#include <dlfcn.h>
#include <zlib.h>
#ifdef ZIPSIFT_HAVE_ZSTD
#include <zstd.h>
#endif

#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "deflate_meter.h"
#include "zstd_meter.h"

namespace zipsift {

namespace {

const char* kind_name(CodecKind kind) {
    switch (kind) {
        case CodecKind::gzip: return "gzip";
        case CodecKind::zlib: return "zlib";
        case CodecKind::zstd: return "zstd";
    }
    return "?";
}

}  // namespace

std::string CodecSpec::name() const { return kind_name(kind); }

std::vector<std::string> available_codecs() {
    std::vector<std::string> names{"gzip", "zlib"};
#ifdef ZIPSIFT_HAVE_ZSTD
    names.emplace_back("zstd");
#endif
    return names;
}

CodecSpec make_codec_spec(const std::string& name, int level) {
    if (name == "gzip" || name == "zlib") {
        CodecKind kind = name == "gzip" ? CodecKind::gzip : CodecKind::zlib;
        if (level == 0)
            throw std::invalid_argument(
                name + " level 0 is refused: it writes stored (uncompressed) blocks, so C(x+y) is C(x)+C(y) "
                "whatever the texts say and every score ignores their content. Use a level from 1 to 9 "
                "(9, the default, is the exact ZIP-FIT setting).");
        if (level < 1 || level > 9)
            throw std::invalid_argument(name + " level must be from 1 to 9, got " + std::to_string(level));
        return {kind, level};
    }
    if (name == "zstd") {
#ifdef ZIPSIFT_HAVE_ZSTD
        if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
            throw std::invalid_argument("zstd level must be from " + std::to_string(ZSTD_minCLevel()) + " to " +
                                        std::to_string(ZSTD_maxCLevel()) + ", got " + std::to_string(level));
        return {CodecKind::zstd, level};
#else
        throw std::invalid_argument(
            "codec 'zstd' is not compiled into this build of zipsift (libzstd's headers were not found when it "
            "was built). Install them (Debian/Ubuntu: apt-get install libzstd-dev; Fedora: dnf install "
            "libzstd-devel; conda: conda install zstd) and rebuild: pip install --force-reinstall "
            "--no-binary zipsift zipsift (or pip install . from a checkout). zipsift.codecs() lists what is "
            "compiled in.");
#endif
    }
    std::string known;
    for (const auto& c : available_codecs()) known += (known.empty() ? "" : ", ") + c;
    throw std::invalid_argument("unknown codec '" + name + "'; this build has: " + known);
}

namespace {

// The file the dynamic loader mapped `symbol` from ("" if it cannot tell): which libz.so a user's
// process really runs with, since sizes are exact only against that one.
std::string loaded_from(const void* symbol) {
    Dl_info info{};
    if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "";
    return info.dli_fname;
}

}  // namespace

std::vector<LibraryVersion> codec_library_versions() {
    // zlib is vendored (third_party/zlib): compiled into the module, whatever libz the system has.
    std::vector<LibraryVersion> v{
        {"zlib", ZLIB_VERSION, zlibVersion(), "bundled", loaded_from(reinterpret_cast<const void*>(&zlibVersion))}};
#ifdef ZIPSIFT_HAVE_ZSTD
#ifdef ZIPSIFT_ZSTD_BUNDLED
    const char* zstd_linkage = "bundled";
#else
    const char* zstd_linkage = "system";
#endif
    v.push_back({"zstd", ZSTD_VERSION_STRING, ZSTD_versionString(), zstd_linkage,
                 loaded_from(reinterpret_cast<const void*>(&ZSTD_versionString))});
#endif
    return v;
}

namespace {

SizeMeter* new_size_meter(const CodecSpec& spec) {
    switch (spec.kind) {
        case CodecKind::gzip:
        case CodecKind::zlib: return new_deflate_meter(spec);
        case CodecKind::zstd:
#ifdef ZIPSIFT_HAVE_ZSTD
            return new_zstd_meter(spec);
#else
            break;
#endif
    }
    throw std::invalid_argument("codec '" + spec.name() + "' is not compiled into this build");
}

// Idle meters by (codec, level). Bounded: at most this many idle meters of one kind are kept.
constexpr std::size_t kMaxIdlePerSpec = 64;
std::mutex pool_mutex;
std::map<std::pair<int, int>, std::vector<SizeMeter*>> idle_meters;

std::pair<int, int> pool_key(const CodecSpec& spec) { return {static_cast<int>(spec.kind), spec.level}; }

}  // namespace

void ReturnToPool::operator()(SizeMeter* meter) const {
    if (!meter) return;
    {
        std::lock_guard<std::mutex> lock(pool_mutex);
        auto& idle = idle_meters[pool_key(meter->spec)];
        if (idle.size() < kMaxIdlePerSpec) {
            idle.push_back(meter);
            return;
        }
    }
    delete meter;
}

MeterLease borrow_size_meter(const CodecSpec& spec) {
    {
        std::lock_guard<std::mutex> lock(pool_mutex);
        auto& idle = idle_meters[pool_key(spec)];
        if (!idle.empty()) {
            SizeMeter* meter = idle.back();
            idle.pop_back();
            return MeterLease(meter);
        }
    }
    return MeterLease(new_size_meter(spec));
}

}  // namespace zipsift
