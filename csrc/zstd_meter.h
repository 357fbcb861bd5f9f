// Exact zstd sizes (libzstd's one-shot ZSTD_compress) on a reused context. Only built with libzstd.
#pragma once

#include "codec.h"

namespace zipsift {

SizeMeter* new_zstd_meter(const CodecSpec& spec);

}  // namespace zipsift
