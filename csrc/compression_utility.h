// A model-free analogue of DELIFT's utility kernel, measured with zstd (an approximation of the
// model-based kernel, not the kernel of the paper):
//
//   U_c[i, j] = (C(y_i | x_i) - C(y_i | x_j ⊕ y_j ⊕ x_i)) / |y_i|
//
// The diagonal is computed the same way (i's own pair in the window), or set to 0 when asked.
//
// C(y | p ⊕ s), the bytes zstd spends on y after the history p ⊕ s: one zstd frame (level L,
// streaming, pledged size |s| + |y|) with p as a raw-content dictionary (digested once into a CDict
// per j and shared by every i), fed s, flushed (ZSTD_e_flush closes s's blocks), then fed y and
// ended (ZSTD_e_end); C is the number of bytes written after the flush, i.e. y's blocks (3-byte
// block headers included). With no p, the frame has no dictionary. Positive when j's example,
// in the window, lets zstd encode y_i in fewer bytes; per byte of y_i so long answers do not dominate.
#pragma once

#include <cstdint>

#include "parallel.h"
#include "tape.h"

namespace zipsift {

// x (prompts) and y (responses) have n items each; every y_i is non-empty. out is n x n, row-major.
// Deterministic whatever the thread count (every entry is computed on its own). Throws
// std::invalid_argument for a bad level, when zstd is not compiled in, or for empty responses.
template <class T>
void compression_utility_kernel(const Tape& x, const Tape& y, int level, bool diagonal, int threads,
                                const KeepGoing& keep_going, T* out);

}  // namespace zipsift
