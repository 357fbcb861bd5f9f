/* Parsing a candidate's tail once instead of once per target.
 *
 * Fed with Z_NO_FLUSH, zlib's deflate stops parsing MIN_LOOKAHEAD (262) bytes before the end of
 * its input: a match there could run into bytes not yet seen. Finishing the candidate's state with
 * each target then parses those last bytes again for every pair. deflate_speculate() parses them
 * once, taking a step of zlib's lazy matcher (deflate_slow, levels 4-9) only when the step read no
 * byte at or after the candidate's end, so that zlib, given any target after the candidate, takes
 * exactly that step too:
 *
 *   - inserting position p reads p + 2, so a step needs 3 bytes left;
 *   - longest_match reads a byte past the end exactly when its best length reached the end, i.e.
 *     when it returns the lookahead (it clips to it): a match that could grow, or a previous match
 *     whose last byte (scan_end) lies past the end. Below that, its nice_match clip and its result
 *     are those of a longer input (a clipped nice_match would have needed a match reaching the end);
 *   - emitting a match inserts its positions up to max_insert = end - 3, which a target moves:
 *     only matches whose positions all lie below are emitted.
 * The first step that fails stops it, its hash insertion undone; so does a step that could fill
 * the symbol buffer (the block flush then happens in deflate() proper, as it would).
 *
 * Afterwards the stream is the one zlib would have reached on the candidate followed by any target,
 * at the same position, as long as the target does not slide the window (deflate_undo_begin says
 * when it could: then finish a state that was not advanced). Levels 1-3 (deflate_fast) are left as
 * they are.
 */
#ifndef ZIPSIFT_DEFLATE_SPECULATE_H
#define ZIPSIFT_DEFLATE_SPECULATE_H

#include "zlib.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Advances `strm` (fed with Z_NO_FLUSH only, never finished) over its tail as far as the steps are
 * the same for every continuation; returns how many positions it advanced (0 for levels 1-3). */
unsigned deflate_speculate(z_streamp strm);

#ifdef __cplusplus
}
#endif

#endif
