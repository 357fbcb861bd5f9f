/* deflate_speculate.h: zlib's deflate.c (vendored, unmodified) with a speculative parse of the
 * input's tail. deflate.c is compiled here, not on its own, so that the step below uses zlib's own
 * longest_match and hashing: the matches, and so the sizes, are zlib's by construction. */
#include "deflate.c"

#include "deflate_speculate.h"

/* One iteration of deflate_slow's loop (same statements, same order), taken only when it cannot
 * depend on bytes past the end of the input; returns 0 with the state unchanged otherwise. */
static int speculate_step(deflate_state* s) {
    IPos hash_head;
    int bflush;
    const uInt strstart = s->strstart;
    const uInt ins_h = s->ins_h, prev_length = s->prev_length, prev_match = s->prev_match;
    const uInt match_length = s->match_length, match_start = s->match_start;
    uInt h;
    Pos head, prev;

    if (s->lookahead < MIN_MATCH) return 0; /* inserting strstart reads a byte past the end */
    if (s->sym_next + 3 >= s->sym_end) return 0; /* a tally could fill the block: deflate() flushes it */

    h = ((ins_h << s->hash_shift) ^ s->window[strstart + (MIN_MATCH - 1)]) & s->hash_mask;
    head = s->head[h];
    prev = s->prev[strstart & s->w_mask];
    INSERT_STRING(s, s->strstart, hash_head);

    s->prev_length = s->match_length, s->prev_match = s->match_start;
    s->match_length = MIN_MATCH - 1;
    if (hash_head != NIL && s->prev_length < s->max_lazy_match && s->strstart - hash_head <= MAX_DIST(s)) {
        s->match_length = longest_match(s, hash_head);
        /* Returning the lookahead means its best length reached the end: a byte past it decided. */
        if (s->match_length >= s->lookahead) goto undo;
        if (s->match_length <= 5 &&
            (s->strategy == Z_FILTERED || (s->match_length == MIN_MATCH && s->strstart - s->match_start > TOO_FAR)))
            s->match_length = MIN_MATCH - 1;
    }
    if (s->prev_length >= MIN_MATCH && s->match_length <= s->prev_length) {
        uInt max_insert = s->strstart + s->lookahead - MIN_MATCH;
        /* The match inserts positions up to strstart + prev_length - 2; past max_insert (which a
         * target would move) zlib would insert them with a target and not without. */
        if (s->prev_length >= s->lookahead) goto undo;
        _tr_tally_dist(s, s->strstart - 1 - s->prev_match, s->prev_length - MIN_MATCH, bflush);
        s->lookahead -= s->prev_length - 1;
        s->prev_length -= 2;
        do {
            if (++s->strstart <= max_insert) {
                INSERT_STRING(s, s->strstart, hash_head);
            }
        } while (--s->prev_length != 0);
        s->match_available = 0;
        s->match_length = MIN_MATCH - 1;
        s->strstart++;
    } else if (s->match_available) {
        _tr_tally_lit(s, s->window[s->strstart - 1], bflush);
        s->strstart++;
        s->lookahead--;
    } else {
        s->match_available = 1;
        s->strstart++;
        s->lookahead--;
    }
    (void)bflush; /* never set: the symbol buffer had room for this step's tally */
    return 1;

undo:
    s->head[h] = head;
    s->prev[strstart & s->w_mask] = prev;
    s->ins_h = ins_h;
    s->prev_length = prev_length, s->prev_match = prev_match;
    s->match_length = match_length, s->match_start = match_start;
    return 0;
}

unsigned deflate_speculate(z_streamp strm) {
    deflate_state* s;
    unsigned steps = 0;
    if (deflateStateCheck(strm)) return 0;
    s = strm->state;
    if (s->status != BUSY_STATE || configuration_table[s->level].func != deflate_slow || s->insert != 0) return 0;
    while (speculate_step(s)) ++steps;
    return steps;
}
