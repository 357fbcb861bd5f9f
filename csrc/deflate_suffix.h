/* The target's part of a (candidate, target) pair without running deflate on it.
 *
 * ZIP-FIT needs C(x ⊕ y) for every candidate x and target y. After x has been fed to zlib (and its
 * tail parsed once, deflate_speculate.h), what is left for each pair is zlib's lazy matcher
 * (deflate_slow, levels 4-9) over the rest of x and over y, then the last block's trees. Most of
 * that work does not depend on the pair:
 *
 *   - A position of y searches its hash chain newest first: first the earlier positions of y with
 *     the same hash, then those of x. The first part, and what longest_match finds in it under each
 *     of its two chain budgets (max_chain, and max_chain / 4 after a good match), depend on y
 *     alone: deflate_target_new() computes them once per target, for every position.
 *   - x's part of each chain is fixed once x is fed: deflate_candidate_prepare() lays every chain
 *     out contiguously, so the walk reads an array instead of chasing prev[] links.
 *
 * deflate_suffix_size() then replays deflate_slow's loop statement for statement (the same lazy
 * decisions, the same TOO_FAR rule, the same chain budgets, nice_match clipped to the lookahead),
 * taking y's part of each search from the target and walking only x's part (plus the few positions
 * of x's tail that are inserted per pair, whose hashes read y's first bytes). The stream is never
 * written: no insertion, no undo. The symbols are only counted, and the last block is sized from
 * zlib's own trees (deflate_size.h). Why the replay equals zlib: a search's result is the first
 * chain entry whose match is longer than every earlier one and than prev_length (stopping at the
 * first one reaching nice_match, which prev_length never does), so the result over y's part taken
 * with prev_length = MIN_MATCH - 1 is the result with any larger prev_length when it is longer than
 * it, and otherwise y's part contributes nothing and x's part continues with what is left of the
 * budget.
 *
 * It covers the common case and says when it does not (deflate_suffix_size returns 0): levels 1-3
 * (see deflate_suffix_size_fast below), a candidate whose window slid, x ⊕ y longer than MAX_DIST (32,506 bytes: chain limits and window
 * slides would apply), a symbol buffer that could fill within the pair (a block would end before
 * the last), or a strategy other than the default. The caller then finishes zlib's own stream.
 */
#ifndef ZIPSIFT_DEFLATE_SUFFIX_H
#define ZIPSIFT_DEFLATE_SUFFIX_H

#include <stddef.h>

#include "zlib.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct deflate_target deflate_target;
typedef struct deflate_candidate deflate_candidate;

/* y's own chains and longest_match's results in them, for streams configured like `strm`
 * (level, memLevel). NULL when out of memory or when y cannot take this path (longer than
 * MAX_DIST, or a level without lazy matching). */
deflate_target* deflate_target_new(z_streamp strm, const unsigned char* y, size_t ny);
void deflate_target_free(deflate_target* target);
/* Bytes held by the target's index (for memory accounting). */
size_t deflate_target_bytes(const deflate_target* target);

/* NULL when out of memory. */
deflate_candidate* deflate_candidate_new(void);
void deflate_candidate_free(deflate_candidate* candidate);

/* Reads the stream of x (fed with Z_NO_FLUSH, tail parsed by deflate_speculate, not otherwise
 * touched since) and lays out x's chains. Returns 1 when pairs of this candidate can take this
 * path, 0 when none can (then deflate_suffix_size returns 0 for every target). The stream must
 * stay as it is while the candidate is used (its hash heads are read). */
int deflate_candidate_prepare(deflate_candidate* candidate, z_streamp strm, const unsigned char* x, size_t nx);

/* The raw deflate size of x ⊕ y (what total_out would be at Z_STREAM_END), or 0 when this pair
 * needs zlib's own stream (see above). */
unsigned long deflate_suffix_size(deflate_candidate* candidate, const deflate_target* target);

/* Levels 1-3 (deflate_fast): 1 when this candidate's pairs replay without target indexes. zlib's
 * fast matcher inserts a position only after a short match (max_insert_length), so its chains
 * depend on the pair's own parse: nothing about the target can be computed apart from the
 * candidate. The replay then keeps the pair's insertions in a table of its own (stamped per pair,
 * never cleared) and walks x's chains, which zlib left, laid out contiguously. */
int deflate_candidate_fast(const deflate_candidate* candidate);

/* The raw deflate size of x ⊕ y for a deflate_candidate_fast candidate, or 0 when this pair needs
 * zlib's own stream (the same limits as above). */
unsigned long deflate_suffix_size_fast(deflate_candidate* candidate, const unsigned char* y, size_t ny);

#ifdef __cplusplus
}
#endif

#endif
