// Exact gzip/zlib sizes from raw deflate, on a reused stream.
#pragma once

#include "codec.h"

namespace zipsift {

SizeMeter* new_deflate_meter(const CodecSpec& spec);

}  // namespace zipsift
