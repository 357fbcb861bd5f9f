/* Finishing one deflate state with many suffixes, restoring it in O(what a suffix changed).
 *
 * ZIP-FIT needs C(x ⊕ y) for one candidate x and many targets y. Most pairs are replayed without
 * touching the stream (deflate_suffix.h); this is for the others (levels 1-3, long pairs, a block
 * that fills within the pair) and for targets without an index (batches too small to pay for
 * indexing them). The stream is fed x once (with
 * Z_NO_FLUSH); for each y, deflate_undo_begin() records what finishing with y may overwrite, the
 * caller runs deflate() with y and Z_FINISH, and deflate_undo_end() puts the state back exactly as
 * it was after x. Nothing is copied in proportion to the whole state (~256 KB at level 9):
 *
 *   - the deflate_state struct itself (~6 KB: scalars, Huffman trees and frequencies) and z_stream;
 *   - the hash heads the suffix can write: head[h] for the hash h of every position the suffix can
 *     insert, logged before it runs. zlib's hash of a position depends only on its 3 bytes
 *     (hash_shift * 3 >= hash_bits), so the positions and their hashes are known from x's tail and y;
 *   - the hash-chain links prev[p & w_mask] of those positions;
 *   - the pending output bytes and the symbol buffer of the open block (pending output of the final
 *     block may overwrite the symbols it has already encoded).
 * Window bytes past the end of x are not restored: deflate never lets bytes past the end of its
 * input decide a match (longest_match clips nice_match to the lookahead), which is also why a
 * deflateReset stream equals a fresh one.
 *
 * When a suffix could slide the window (x's tail plus y past w_size + MAX_DIST), every head and
 * prev entry may change: deflate_undo_begin() says so and the caller works on a deflateCopy instead.
 *
 * Built against the vendored zlib (third_party/zlib): the layout of deflate_state is private to
 * one zlib version.
 */
#ifndef ZIPSIFT_DEFLATE_UNDO_H
#define ZIPSIFT_DEFLATE_UNDO_H

#include <stddef.h>

#include "zlib.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct deflate_undo deflate_undo;

/* NULL when out of memory. */
deflate_undo* deflate_undo_new(void);
void deflate_undo_free(deflate_undo* undo);

/* Saves the state of `strm` (fed with Z_NO_FLUSH only, never finished) as the one to come back to.
 * Returns Z_OK, or Z_MEM_ERROR. */
int deflate_undo_save(deflate_undo* undo, z_streamp strm);

/* Before finishing the saved stream with the suffix y[0..ny): returns 1 when the undo log covers
 * it (then call deflate_undo_end after), 0 when the suffix may slide the window (then do not touch
 * the saved stream; finish a deflateCopy of it), or Z_MEM_ERROR. */
int deflate_undo_begin(deflate_undo* undo, z_streamp strm, const unsigned char* y, size_t ny);

/* After the suffix: restores the saved state. Returns Z_OK, or Z_DATA_ERROR if the stream is not
 * where the suffix should have left it (a bug: the window slid). */
int deflate_undo_end(deflate_undo* undo, z_streamp strm);

/* For tests: 1 when the observable state of `strm` (everything deflate reads from here on) equals
 * that of `reference` (e.g. a deflateCopy taken at save time), else 0. */
int deflate_undo_same_state(z_streamp strm, z_streamp reference);

#ifdef __cplusplus
}
#endif

#endif
