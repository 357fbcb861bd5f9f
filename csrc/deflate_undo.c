/* The undo log of deflate_undo.h. C, because it reads zlib's private deflate_state (deflate.h). */
#include "deflate_undo.h"

#include <stdlib.h>
#include <string.h>

#include "deflate.h"

struct deflate_undo {
    /* The saved state. */
    z_stream strm;
    deflate_state state;
    unsigned char* pending; /* pending_buf[0 .. pending_end) */
    size_t pending_end, pending_cap;
    unsigned char* syms; /* sym_buf[0 .. state.sym_next) */
    size_t syms_cap;
    ulg data_end;     /* strstart + lookahead: where the suffix's bytes go in the window */
    ulg first_insert; /* the lowest position a suffix can insert into the hash chains */

    /* The log of the current suffix. */
    ulg suffix_end;
    unsigned char* bytes; /* window[first_insert .. data_end) followed by the suffix */
    size_t bytes_cap;
    Pos* head_index;
    Pos* head_old;
    size_t head_n, head_cap, head_old_cap;
    Pos* prev_old; /* prev[(first_insert + i) & w_mask] for i in [0, prev_n) */
    size_t prev_n, prev_cap;
};

/* Grows *buf to hold n items of `size` bytes; 0 on failure. */
static int reserve(void** buf, size_t* cap, size_t n, size_t size) {
    void* grown;
    if (n <= *cap) return 1;
    if (n < 2 * *cap) n = 2 * *cap;
    grown = realloc(*buf, n * size);
    if (grown == NULL) return 0;
    *buf = grown;
    *cap = n;
    return 1;
}
#define RESERVE(buf, cap, n) reserve((void**)&(buf), &(cap), (n), sizeof(*(buf)))

deflate_undo* deflate_undo_new(void) { return (deflate_undo*)calloc(1, sizeof(deflate_undo)); }

void deflate_undo_free(deflate_undo* undo) {
    if (undo == NULL) return;
    free(undo->pending);
    free(undo->syms);
    free(undo->bytes);
    free(undo->head_index);
    free(undo->head_old);
    free(undo->prev_old);
    free(undo);
}

int deflate_undo_save(deflate_undo* undo, z_streamp strm) {
    deflate_state* s = (deflate_state*)strm->state;
    size_t pending_end = (size_t)(s->pending_out - s->pending_buf) + s->pending;
    if (!RESERVE(undo->pending, undo->pending_cap, pending_end + 1)) return Z_MEM_ERROR;
    if (!RESERVE(undo->syms, undo->syms_cap, (size_t)s->sym_next + 1)) return Z_MEM_ERROR;
    undo->strm = *strm;
    memcpy(&undo->state, s, sizeof(*s));
    memcpy(undo->pending, s->pending_buf, pending_end);
    undo->pending_end = pending_end;
    memcpy(undo->syms, s->sym_buf, s->sym_next);
    undo->data_end = s->strstart + s->lookahead;
    /* fill_window inserts the `insert` positions before strstart once it has 3 bytes for them; the
     * matchers insert only positions at or after strstart. */
    undo->first_insert = s->strstart - (s->insert < s->strstart ? s->insert : s->strstart);
    return Z_OK;
}

int deflate_undo_begin(deflate_undo* undo, z_streamp strm, const unsigned char* y, size_t ny) {
    deflate_state* s = (deflate_state*)strm->state;
    const ulg from = undo->first_insert, tail = undo->data_end - from;
    ulg end, positions, i;
    const unsigned char* b;
    uInt h;
    if ((ulg)ny >= (ulg)(s->w_size + MAX_DIST(s)) || undo->data_end + ny >= (ulg)(s->w_size + MAX_DIST(s)))
        return 0; /* fill_window would slide the window: every head and prev entry may change */
    end = undo->data_end + ny;
    undo->suffix_end = end;

    /* The bytes of every position the suffix can insert: x's tail in the window, then y. */
    if (!RESERVE(undo->bytes, undo->bytes_cap, (size_t)(end - from) + 1)) return Z_MEM_ERROR;
    memcpy(undo->bytes, s->window + from, tail);
    if (ny > 0) memcpy(undo->bytes + tail, y, ny); /* an empty target's y may be NULL */
    b = undo->bytes;

    /* A position is inserted only with its 3 bytes present; its hash is theirs alone. */
    positions = end - from >= MIN_MATCH ? end - from - (MIN_MATCH - 1) : 0;
    if (!RESERVE(undo->head_index, undo->head_cap, positions + 1)) return Z_MEM_ERROR;
    if (!RESERVE(undo->head_old, undo->head_old_cap, positions + 1)) return Z_MEM_ERROR;
    undo->head_n = positions;
    if (positions > 0) {
        const uInt shift = s->hash_shift, mask = s->hash_mask;
        h = b[0];
        h = ((h << shift) ^ b[1]) & mask;
        for (i = 0; i < positions; ++i) {
            h = ((h << shift) ^ b[i + 2]) & mask;
            undo->head_index[i] = (Pos)h;
            undo->head_old[i] = s->head[h];
        }
    }

    /* prev links of the same positions (and of the last two: harmless). */
    undo->prev_n = end - from < s->w_size ? (size_t)(end - from) : (size_t)s->w_size;
    if (!RESERVE(undo->prev_old, undo->prev_cap, undo->prev_n + 1)) return Z_MEM_ERROR;
    {
        size_t at = (size_t)(from & s->w_mask), first = s->w_size - at;
        if (first > undo->prev_n) first = undo->prev_n;
        memcpy(undo->prev_old, s->prev + at, first * sizeof(Pos));
        memcpy(undo->prev_old + first, s->prev, (undo->prev_n - first) * sizeof(Pos));
    }
    return 1;
}

int deflate_undo_end(deflate_undo* undo, z_streamp strm) {
    deflate_state* s = (deflate_state*)strm->state;
    size_t i;
    if ((ulg)s->strstart + s->lookahead != undo->suffix_end) return Z_DATA_ERROR;
    /* In reverse, so that a head entry written twice gets its first (saved) value back. */
    for (i = undo->head_n; i-- > 0;) s->head[undo->head_index[i]] = undo->head_old[i];
    {
        size_t at = (size_t)(undo->first_insert & s->w_mask), first = s->w_size - at;
        if (first > undo->prev_n) first = undo->prev_n;
        memcpy(s->prev + at, undo->prev_old, first * sizeof(Pos));
        memcpy(s->prev, undo->prev_old + first, (undo->prev_n - first) * sizeof(Pos));
    }
    memcpy(s, &undo->state, sizeof(*s));
    *strm = undo->strm;
    memcpy(s->pending_buf, undo->pending, undo->pending_end);
    memcpy(s->sym_buf, undo->syms, s->sym_next);
    return Z_OK;
}

int deflate_undo_same_state(z_streamp strm, z_streamp reference) {
    const deflate_state* s = (const deflate_state*)strm->state;
    const deflate_state* r = (const deflate_state*)reference->state;
    size_t data_end = (size_t)s->strstart + s->lookahead;
    if (strm->total_in != reference->total_in || strm->total_out != reference->total_out ||
        strm->adler != reference->adler || strm->data_type != reference->data_type)
        return 0;
#define SAME(field) (s->field == r->field)
    if (!(SAME(status) && SAME(pending) && SAME(last_flush) && SAME(w_size) && SAME(ins_h) && SAME(block_start) &&
          SAME(match_length) && SAME(prev_match) && SAME(match_available) && SAME(strstart) && SAME(match_start) &&
          SAME(lookahead) && SAME(prev_length) && SAME(max_chain_length) && SAME(max_lazy_match) && SAME(level) &&
          SAME(strategy) && SAME(good_match) && SAME(nice_match) && SAME(sym_next) && SAME(sym_end) &&
          SAME(opt_len) && SAME(static_len) && SAME(matches) && SAME(insert) && SAME(bi_buf) && SAME(bi_valid) &&
          SAME(high_water)))
        return 0;
#undef SAME
    if (memcmp(s->dyn_ltree, r->dyn_ltree, sizeof(s->dyn_ltree)) || memcmp(s->dyn_dtree, r->dyn_dtree, sizeof(s->dyn_dtree)) ||
        memcmp(s->bl_tree, r->bl_tree, sizeof(s->bl_tree)))
        return 0;
    if (memcmp(s->window, r->window, data_end) || memcmp(s->prev, r->prev, s->w_size * sizeof(Pos)) ||
        memcmp(s->head, r->head, s->hash_size * sizeof(Pos)) || memcmp(s->sym_buf, r->sym_buf, s->sym_next) ||
        memcmp(s->pending_out, r->pending_out, s->pending))
        return 0;
    return 1;
}
