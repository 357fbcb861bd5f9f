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

/* A workspace to size a last block outside any stream (deflate_suffix.h): a deflate_state with
 * zlib's tree descriptors, used for nothing else. NULL when out of memory. */
struct internal_state* deflate_size_scratch_new(int strategy);
void deflate_size_scratch_free(struct internal_state* scratch);

/* The bytes a last block takes after bi_valid pending bits, as deflate_size_only_arm sizes it, for
 * the literal/length and distance frequencies the caller put in scratch's dyn_ltree and dyn_dtree
 * (everything else is reset here). stored_ok: the block's bytes are still in the window
 * (block_start >= 0), so a stored block is possible. */
unsigned long deflate_size_scratch_block(struct internal_state* scratch, int bi_valid, unsigned long stored_len,
                                         int stored_ok);

#ifdef __cplusplus
}
#endif

#endif
