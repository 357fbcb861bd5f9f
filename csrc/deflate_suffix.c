/* deflate_suffix.h: zlib's deflate_slow and deflate_fast loops over a pair's last positions, from
 * per-target and per-candidate chains. C, because it reads zlib's private deflate_state (deflate.h). */
#include "deflate_suffix.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deflate.h"
#include "deflate_size.h"

/* A match is compared up to MAX_MATCH bytes, 8 at a time: this much is readable past the end. */
#define PAD (MAX_MATCH + 8)
/* No position; as a chain count: the target's part decided the search. */
#define NONE 0xffffu
/* deflate.c's: a match of MIN_MATCH farther than this is not taken. */
#ifndef TOO_FAR
#define TOO_FAR 4096
#endif
/* Marks a chain head's entry in deflate_candidate.top once its chain is laid out. */
#define LAID 0x80000000u

struct deflate_target {
    unsigned ny;
    unsigned max_chain, good, nice, hash_shift, hash_mask; /* the configuration it was built for */
    unsigned char* y;                                       /* ny bytes, then PAD zeros */
    struct target_position* at;                             /* per position p inserted (p + MIN_MATCH <= ny) */
    size_t bytes;
};

/* What a search from a position of y finds in y's part of its chain (one record: a replayed search
 * reads all of it). */
struct target_position {
    ush hash;   /* the position's hash */
    ush count;  /* earlier positions of y in its chain (at most max_chain), or NONE when y decides */
    ush len[2]; /* longest_match's best length over them from prev_length = MIN_MATCH - 1, under the
                 * budget max_chain ([0]) and max_chain >> 2 ([1]); MIN_MATCH - 1 when none is longer */
    ush pos[2]; /* and where it starts in y */
};

struct deflate_candidate {
    int usable;
    int fast;                            /* levels 1-3 (deflate_fast), else deflate_slow */
    unsigned nx;                         /* x's length */
    unsigned s0;                         /* where zlib's parse of x stopped (strstart) */
    unsigned match_length, match_start;  /* deflate_slow's state there */
    int match_available;
    unsigned sym_count, sym_room;        /* symbols in the open block; how many it holds before a flush */
    unsigned long out_before;            /* bytes of earlier blocks and pending output */
    int bi_valid;                        /* bits waiting in bi_buf */
    long block_start;
    unsigned max_chain, good, nice, max_lazy, hash_shift, hash_mask;
    ct_data ltree[L_CODES], dtree[D_CODES]; /* the open block's frequencies */

    /* The chains of x's positions 1 .. nx - MIN_MATCH (whose hashes do not read y), newest first,
     * each ended by 0 (position 0 is zlib's NIL: never matched): the chain of hash h starts at
     * chains[top[h] & ~LAID] (top[h] == 0: none). */
    ush* chains;
    uint32_t* top;
    ush* older; /* while building: the previous position with the same hash */
    unsigned char* win; /* x ⊕ y, then PAD bytes */
    size_t win_cap, hash_cap, pos_cap;

    /* deflate_fast inserts a pair's positions as its parse goes (not those inside a match longer
     * than max_insert_length): their chains, newest first, are per pair. newest[h] is valid when
     * stamp[h] is this pair's generation; older_in_pair[r - s0] is the previous one with r's hash. */
    uint32_t* stamp;
    ush* newest;
    ush* older_in_pair;
    uint32_t generation;
    struct internal_state* scratch; /* for the last block's trees */
};

static inline uint64_t load64(const unsigned char* p) {
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* The common prefix of a and b, at most max (bytes up to max + 7 past each must be readable).
 * Equals longest_match's length whenever the first two bytes and the hash agree (then the third
 * byte does too, which zlib assumes instead of comparing). */
static inline unsigned common_prefix(const unsigned char* a, const unsigned char* b, unsigned max) {
    unsigned n = 0;
    for (;;) {
        uint64_t d = load64(a + n) ^ load64(b + n);
        if (d != 0) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            n += (unsigned)__builtin_ctzll(d) >> 3;
#else
            while (a[n] == b[n]) n++;
#endif
            return n < max ? n : max;
        }
        n += 8;
        if (n >= max) return max;
    }
}

/* zlib's hash of the 3 bytes at p (UPDATE_HASH three times: hash_shift * 3 >= hash_bits, so
 * earlier bytes are shifted out). */
static inline unsigned hash3(const unsigned char* p, unsigned shift, unsigned mask) {
    return (((((unsigned)p[0] << shift) ^ p[1]) << shift) ^ p[2]) & mask;
}

/* deflate_slow is zlib's matcher for levels 4-9, deflate_fast for 1-3; the default strategy is
 * what CPython uses. */
static int lazy_default(const deflate_state* s) { return s->level >= 4 && s->level <= 9 && s->strategy == Z_DEFAULT_STRATEGY; }
static int fast_default(const deflate_state* s) { return s->level >= 1 && s->level <= 3 && s->strategy == Z_DEFAULT_STRATEGY; }

void deflate_target_free(deflate_target* t) {
    if (t == NULL) return;
    free(t->y);
    free(t->at);
    free(t);
}

size_t deflate_target_bytes(const deflate_target* t) { return t == NULL ? 0 : t->bytes; }

deflate_target* deflate_target_new(z_streamp strm, const unsigned char* y, size_t ny) {
    const deflate_state* s = (const deflate_state*)strm->state;
    deflate_target* t;
    size_t n;
    unsigned p, b0, b1;
    ush *head, *older;

    if (!lazy_default(s) || ny > MAX_DIST(s)) return NULL;
    t = (deflate_target*)calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    t->ny = (unsigned)ny;
    t->max_chain = s->max_chain_length, t->good = s->good_match, t->nice = (unsigned)s->nice_match;
    t->hash_shift = s->hash_shift, t->hash_mask = s->hash_mask;
    n = ny >= MIN_MATCH ? ny - MIN_MATCH + 1 : 0;
    t->y = (unsigned char*)calloc(ny + PAD, 1);
    t->at = (struct target_position*)malloc((n + 1) * sizeof(struct target_position));
    head = (ush*)malloc(((size_t)s->hash_mask + 1) * sizeof(ush));
    older = (ush*)malloc((n + 1) * sizeof(ush));
    if (t->y == NULL || t->at == NULL || head == NULL || older == NULL) {
        free(head);
        free(older);
        deflate_target_free(t);
        return NULL;
    }
    t->bytes = sizeof(*t) + ny + PAD + (n + 1) * sizeof(struct target_position);
    if (ny) memcpy(t->y, y, ny);
    memset(head, 0xff, ((size_t)s->hash_mask + 1) * sizeof(ush));

    b0 = t->max_chain, b1 = t->max_chain >> 2;
    for (p = 0; p < n; p++) {
        const unsigned h = hash3(t->y + p, t->hash_shift, t->hash_mask);
        const unsigned lookahead = t->ny - p;
        const unsigned nice = t->nice < lookahead ? t->nice : lookahead;
        const unsigned max = MAX_MATCH < lookahead ? MAX_MATCH : lookahead;
        unsigned best = MIN_MATCH - 1, where = NONE, seen = 0, q;
        int snapped = 0, decided = 0;
        struct target_position* at = t->at + p;
        at->hash = (ush)h;
        /* longest_match over y's part of the chain, newest first, under budget b0; the state after
         * b1 entries is the result under b1. */
        for (q = head[h]; q != NONE; q = older[q]) {
            if (seen == b1) {
                at->len[1] = (ush)best, at->pos[1] = (ush)where;
                snapped = 1;
            }
            if (seen == b0) break;
            seen++;
            if (t->y[q + best] != t->y[p + best]) continue; /* cannot be longer than best */
            {
                const unsigned len = common_prefix(t->y + q, t->y + p, max);
                if (len > best) {
                    best = len, where = q;
                    if (len >= nice) {
                        decided = 1;
                        break;
                    }
                }
            }
        }
        at->len[0] = (ush)best, at->pos[0] = (ush)where;
        if (!snapped) at->len[1] = (ush)best, at->pos[1] = (ush)where;
        at->count = (ush)(decided ? NONE : seen);
        older[p] = head[h];
        head[h] = (ush)p;
    }
    free(head);
    free(older);
    return t;
}

deflate_candidate* deflate_candidate_new(void) { return (deflate_candidate*)calloc(1, sizeof(deflate_candidate)); }

void deflate_candidate_free(deflate_candidate* c) {
    if (c == NULL) return;
    free(c->chains);
    free(c->top);
    free(c->older);
    free(c->win);
    free(c->stamp);
    free(c->newest);
    free(c->older_in_pair);
    deflate_size_scratch_free(c->scratch);
    free(c);
}

/* Grows *buf to n items of `size` bytes, keeping nothing; 0 on failure. */
static int room(void** buf, size_t* cap, size_t n, size_t size) {
    if (n <= *cap) return 1;
    free(*buf);
    *buf = malloc(n * size);
    *cap = *buf == NULL ? 0 : n;
    return *buf != NULL;
}

int deflate_candidate_prepare(deflate_candidate* c, z_streamp strm, const unsigned char* x, size_t nx) {
    const deflate_state* s = (const deflate_state*)strm->state;
    const size_t hash_size = (size_t)s->hash_mask + 1;
    size_t r, off;
    unsigned last; /* the last position whose hash reads only x */

    /* The previous candidate's chain heads are cleared position by position, not the whole table. */
    if (c->top != NULL && c->hash_cap == hash_size && c->usable) {
        for (r = 1; r + MIN_MATCH <= c->nx; r++) c->top[hash3(c->win + r, c->hash_shift, c->hash_mask)] = 0;
    }
    c->usable = 0;
    c->fast = fast_default(s);
    /* zlib's parse of x must be at its loop top with every position below strstart that it
     * inserts inserted, and the window must not have slid (positions are then offsets into x). */
    if (!(lazy_default(s) || c->fast) || nx == 0 || nx > MAX_DIST(s) || s->status != BUSY_STATE || s->insert != 0 ||
        (size_t)s->strstart + s->lookahead != nx || nx - s->strstart >= MIN_LOOKAHEAD || s->block_start < 0)
        return 0;
    if (c->scratch == NULL && (c->scratch = deflate_size_scratch_new(Z_DEFAULT_STRATEGY)) == NULL) return 0;
    if (c->hash_cap != hash_size) {
        free(c->top);
        c->top = (uint32_t*)calloc(hash_size, sizeof(uint32_t));
        c->hash_cap = c->top == NULL ? 0 : hash_size;
        if (c->top == NULL) return 0;
    }
    if (!room((void**)&c->win, &c->win_cap, (size_t)MAX_DIST(s) + PAD, 1) ||
        !room((void**)&c->chains, &c->pos_cap, 2 * (size_t)MAX_DIST(s) + 2, sizeof(ush)))
        return 0;
    if (c->older == NULL && (c->older = (ush*)malloc(((size_t)MAX_DIST(s) + 1) * sizeof(ush))) == NULL) return 0;
    if (c->fast && c->stamp == NULL) {
        c->stamp = (uint32_t*)calloc(hash_size, sizeof(uint32_t));
        c->newest = (ush*)malloc(hash_size * sizeof(ush));
        c->older_in_pair = (ush*)malloc(((size_t)MAX_DIST(s) + 1) * sizeof(ush));
        c->generation = 0;
        if (c->stamp == NULL || c->newest == NULL || c->older_in_pair == NULL) return 0;
    }

    c->nx = (unsigned)nx;
    c->s0 = s->strstart;
    c->match_length = s->match_length, c->match_start = s->match_start;
    c->match_available = s->match_available;
    c->sym_count = s->sym_next / 3;
    c->sym_room = s->sym_end / 3;
    c->out_before = strm->total_out + s->pending;
    c->bi_valid = s->bi_valid;
    c->block_start = s->block_start;
    c->max_chain = s->max_chain_length, c->good = s->good_match, c->nice = (unsigned)s->nice_match;
    c->max_lazy = s->max_lazy_match;
    c->hash_shift = s->hash_shift, c->hash_mask = s->hash_mask;
    memcpy(c->ltree, s->dyn_ltree, sizeof(c->ltree));
    memcpy(c->dtree, s->dyn_dtree, sizeof(c->dtree));
    memcpy(c->win, x, nx);

    /* Chains of positions 1 .. last, newest first: link each position to the previous one with its
     * hash, then lay each chain out from its newest position (top[] holds, while linking, the
     * newest position; afterwards LAID and where its chain starts). */
    last = nx >= MIN_MATCH ? (unsigned)nx - MIN_MATCH : 0;
    if (c->fast) {
        /* deflate_fast skipped the positions inside long matches: x's chains are zlib's own, up
         * to strstart (later positions are the pair's). */
        if (last >= c->s0) last = c->s0 ? c->s0 - 1 : 0;
        for (r = 1; r <= last; r++) {
            const unsigned h = hash3(c->win + r, c->hash_shift, c->hash_mask);
            if (s->head[h] == r) c->top[h] = (uint32_t)r;
            c->older[r] = s->prev[r & s->w_mask];
        }
    } else {
        for (r = 1; r <= last; r++) {
            const unsigned h = hash3(c->win + r, c->hash_shift, c->hash_mask);
            c->older[r] = (ush)c->top[h];
            c->top[h] = (uint32_t)r;
        }
    }
    off = 0;
    for (r = last; r >= 1; r--) {
        const unsigned h = hash3(c->win + r, c->hash_shift, c->hash_mask);
        unsigned q;
        if (c->top[h] != r) continue; /* not the newest of its chain (or already laid out) */
        c->top[h] = LAID | (uint32_t)off;
        for (q = (unsigned)r; q != 0; q = c->older[q]) c->chains[off++] = (ush)q;
        c->chains[off++] = 0;
    }
    c->usable = 1;
    return 1;
}

/* One entry e of longest_match's walk for the string at scan: a match longer than *best replaces
 * it. Returns 1 when the search ends here: a match reached nice, no entry can be longer, or the
 * chain budget is spent. */
static inline int examine(const unsigned char* win, unsigned e, const unsigned char* scan, unsigned* budget,
                          unsigned* best, unsigned* start, unsigned nice, unsigned max) {
    if (*best >= max) return 1;
    if (win[e + *best] == scan[*best]) { /* else it cannot be longer than best */
        const unsigned len = common_prefix(win + e, scan, max);
        if (len > *best) {
            *best = len, *start = e;
            if (len >= nice) return 1;
        }
    }
    return --*budget == 0;
}

/* One search of deflate_slow (longest_match from hash_head), continued over the candidate's side
 * of the chain: first x's last two positions (their hashes read y, so they are per pair) when
 * they are in this chain and before p, then x's own chain from its first position below p. */
static inline void walk_candidate(const deflate_candidate* c, const unsigned char* win, unsigned p, unsigned h,
                                  const unsigned* edge, const unsigned* edge_hash, unsigned budget, unsigned* best,
                                  unsigned* start, unsigned nice, unsigned max) {
    const unsigned char* scan = win + p;
    int i;
    for (i = 0; i < 2; i++) {
        if (edge[i] == 0 || edge[i] >= p || edge_hash[i] != h) continue;
        if (examine(win, edge[i], scan, &budget, best, start, nice, max)) return;
    }
    if (c->top[h] != 0) {
        const ush* chain = c->chains + (c->top[h] & ~LAID);
        while (*chain >= p) chain++; /* positions not inserted yet (a search inside x's tail) */
        for (; *chain != 0; chain++)
            if (examine(win, *chain, scan, &budget, best, start, nice, max)) return;
    }
}

/* Whether the chain of p has an entry at all (zlib's hash_head != NIL). */
static inline int chain_nonempty(const deflate_candidate* c, unsigned p, unsigned h, const unsigned* edge,
                                 const unsigned* edge_hash) {
    int i;
    for (i = 0; i < 2; i++)
        if (edge[i] != 0 && edge[i] < p && edge_hash[i] == h) return 1;
    if (c->top[h] != 0) {
        const ush* chain = c->chains + (c->top[h] & ~LAID);
        while (*chain >= p) chain++;
        return *chain != 0;
    }
    return 0;
}

unsigned long deflate_suffix_size(deflate_candidate* c, const deflate_target* t) {
    deflate_state* z = c->scratch;
    const unsigned nx = c->nx, ny = t == NULL ? 0 : t->ny, end = nx + ny;
    unsigned char* win = c->win;
    unsigned p, match_length, match_start, edge[2], edge_hash[2];
    int match_available;

    if (!c->usable || c->fast || t == NULL || end > (unsigned)(c->win_cap - PAD) || t->max_chain != c->max_chain ||
        t->good != c->good || t->nice != c->nice || t->hash_shift != c->hash_shift || t->hash_mask != c->hash_mask)
        return 0;
    /* Every step tallies at most one symbol: the block must not fill before the end. */
    if ((unsigned long)c->sym_count + (end - c->s0) + 1 >= c->sym_room) return 0;

    memcpy(win + nx, t->y, (size_t)ny + PAD);
    memcpy(z->dyn_ltree, c->ltree, sizeof(c->ltree));
    memcpy(z->dyn_dtree, c->dtree, sizeof(c->dtree));

    /* x's last two positions: inserted when 3 bytes remain from them; hashed with y's first bytes. */
    edge[0] = nx >= 1 && nx - 1 + MIN_MATCH <= end ? nx - 1 : 0;
    edge[1] = nx >= 2 && nx - 2 + MIN_MATCH <= end ? nx - 2 : 0;
    edge_hash[0] = edge[0] ? hash3(win + edge[0], c->hash_shift, c->hash_mask) : 0;
    edge_hash[1] = edge[1] ? hash3(win + edge[1], c->hash_shift, c->hash_mask) : 0;

    p = c->s0;
    match_length = c->match_length, match_start = c->match_start;
    match_available = c->match_available;
    while (p < end) {
        const unsigned lookahead = end - p;
        const unsigned prev_length = match_length, prev_match = match_start;
        match_length = MIN_MATCH - 1;
        if (lookahead >= MIN_MATCH && prev_length < c->max_lazy) {
            /* The chain of p: y's earlier positions (from the target), then the candidate's side. */
            const int in_y = p >= nx;
            const unsigned i = p - nx;
            const struct target_position* at = in_y ? t->at + i : NULL;
            const unsigned h = in_y ? at->hash : hash3(win + p, c->hash_shift, c->hash_mask);
            const unsigned ycount = in_y ? at->count : 0;
            if (ycount != 0 || chain_nonempty(c, p, h, edge, edge_hash)) {
                const int k = prev_length >= c->good;
                unsigned budget = k ? c->max_chain >> 2 : c->max_chain;
                const unsigned nice = c->nice < lookahead ? c->nice : lookahead;
                const unsigned max = MAX_MATCH < lookahead ? MAX_MATCH : lookahead;
                unsigned best = prev_length, start = NONE;
                int decided = 0;
                if (in_y) {
                    if (at->len[k] > best) best = at->len[k], start = nx + at->pos[k];
                    if (ycount >= budget) decided = 1; /* NONE: y reached nice */
                    else budget -= ycount;
                }
                if (!decided) walk_candidate(c, win, p, h, edge, edge_hash, budget, &best, &start, nice, max);
                if (start != NONE) {
                    match_length = best, match_start = start;
                    if (match_length == MIN_MATCH && p - match_start > TOO_FAR) match_length = MIN_MATCH - 1;
                }
                /* Nothing longer than prev_length: zlib returns at most prev_length, the previous
                 * match is emitted (or, without one, a literal), as with MIN_MATCH - 1 here. */
            }
        }
        if (prev_length >= MIN_MATCH && match_length <= prev_length) {
            const unsigned dist = p - 1 - prev_match - 1;
            z->dyn_ltree[_length_code[prev_length - MIN_MATCH] + LITERALS + 1].Freq++;
            z->dyn_dtree[d_code(dist)].Freq++;
            p += prev_length - 1;
            match_available = 0;
            match_length = MIN_MATCH - 1;
        } else if (match_available) {
            z->dyn_ltree[win[p - 1]].Freq++;
            p++;
        } else {
            match_available = 1;
            p++;
        }
    }
    if (match_available) z->dyn_ltree[win[p - 1]].Freq++;
    return c->out_before + deflate_size_scratch_block(z, c->bi_valid, (unsigned long)(end - c->block_start),
                                                      c->block_start >= 0);
}

int deflate_candidate_fast(const deflate_candidate* c) { return c->usable && c->fast; }

/* The chain of p in a deflate_fast pair, newest first: the pair's own insertions, then x's chain.
 * longest_match from prev_length = MIN_MATCH - 1 (deflate_fast never raises it, so the budget is
 * always max_chain and TOO_FAR does not apply). Returns the match length (MIN_MATCH - 1 when none
 * is longer) and sets *start. */
static unsigned fast_search(const deflate_candidate* c, const unsigned char* win, unsigned p, unsigned h,
                            unsigned lookahead, unsigned* start) {
    const unsigned char* scan = win + p;
    const unsigned nice = c->nice < lookahead ? c->nice : lookahead;
    const unsigned max = MAX_MATCH < lookahead ? MAX_MATCH : lookahead;
    unsigned budget = c->max_chain, best = MIN_MATCH - 1;
    if (c->stamp[h] == c->generation) {
        unsigned e;
        for (e = c->newest[h]; e != NONE; e = c->older_in_pair[e - c->s0])
            if (examine(win, e, scan, &budget, &best, start, nice, max)) return best;
    }
    if (c->top[h] != 0) {
        const ush* chain;
        for (chain = c->chains + (c->top[h] & ~LAID); *chain != 0; chain++)
            if (examine(win, *chain, scan, &budget, &best, start, nice, max)) return best;
    }
    return best;
}

/* Inserts position p (hash h) into the pair's chains. Position 0 is zlib's NIL: never a match. */
static inline void fast_insert(deflate_candidate* c, unsigned p, unsigned h) {
    if (p == 0) return;
    c->older_in_pair[p - c->s0] = c->stamp[h] == c->generation ? c->newest[h] : NONE;
    c->newest[h] = (ush)p;
    c->stamp[h] = c->generation;
}

unsigned long deflate_suffix_size_fast(deflate_candidate* c, const unsigned char* y, size_t ny) {
    deflate_state* z = c->scratch;
    const unsigned nx = c->nx;
    unsigned char* win = c->win;
    unsigned p, end;

    if (!c->usable || !c->fast || ny > (size_t)(c->win_cap - PAD) - nx) return 0;
    end = nx + (unsigned)ny;
    if ((unsigned long)c->sym_count + (end - c->s0) + 1 >= c->sym_room) return 0;
    if (++c->generation == 0) { /* wrapped: no stamp may look current */
        memset(c->stamp, 0, c->hash_cap * sizeof(uint32_t));
        c->generation = 1;
    }
    if (ny) memcpy(win + nx, y, ny);
    memset(win + end, 0, PAD);
    memcpy(z->dyn_ltree, c->ltree, sizeof(c->ltree));
    memcpy(z->dyn_dtree, c->dtree, sizeof(c->dtree));

    /* deflate_fast's loop from where zlib stopped in x (it never carries a match across calls). */
    p = c->s0;
    while (p < end) {
        const unsigned lookahead = end - p;
        unsigned length = MIN_MATCH - 1, start = 0;
        if (lookahead >= MIN_MATCH) {
            const unsigned h = hash3(win + p, c->hash_shift, c->hash_mask);
            length = fast_search(c, win, p, h, lookahead, &start); /* an empty chain finds nothing */
            fast_insert(c, p, h);
        }
        if (length >= MIN_MATCH) {
            z->dyn_ltree[_length_code[length - MIN_MATCH] + LITERALS + 1].Freq++;
            z->dyn_dtree[d_code(p - start - 1)].Freq++;
            /* The positions inside the match are inserted only after a short one with 3 bytes left. */
            if (length <= c->max_lazy && lookahead - length >= MIN_MATCH) {
                unsigned q;
                for (q = p + 1; q < p + length; q++) fast_insert(c, q, hash3(win + q, c->hash_shift, c->hash_mask));
            }
            p += length;
        } else {
            z->dyn_ltree[win[p]].Freq++;
            p++;
        }
    }
    return c->out_before + deflate_size_scratch_block(z, c->bi_valid, (unsigned long)(end - c->block_start),
                                                      c->block_start >= 0);
}
