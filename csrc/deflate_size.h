/* The size of a deflate stream's last block without writing it.
 *
 * ZIP-FIT needs only C(x ⊕ y), never its bits. When armed for a stream on the calling thread,
 * the stream's last block (the one deflate(Z_FINISH) flushes) is sized, not emitted: zlib's own
 * trees are built (their tie-breaking decides the code lengths, hence the size), and the block's
 * bit count is read from the same opt_len / static_len / stored-length decisions zlib's
 * _tr_flush_block takes. The Huffman codes, the tree description and the compressed symbols are
 * never written. Earlier blocks (a full symbol buffer in the middle of a suffix) are written as
 * usual, so their bits stay exact.
 *
 * Afterwards the stream's output is incomplete: restore it (deflate_undo_end) or end it.
 */
#ifndef ZIPSIFT_DEFLATE_SIZE_H
#define ZIPSIFT_DEFLATE_SIZE_H

#include "zlib.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size only the last block of `strm` on this thread, until deflate_size_only_disarm(). */
void deflate_size_only_arm(z_streamp strm);

/* Disarms; returns the whole raw deflate stream's length in bytes (what total_out would have
 * been at Z_STREAM_END), or 0 when no last block was flushed while armed. */
unsigned long deflate_size_only_disarm(void);

#ifdef __cplusplus
}
#endif

#endif
