/* deflate_size.h: zlib's trees.c (vendored, unmodified) with a size-only last block.
 *
 * trees.c is compiled here, not on its own, so that the size-only path uses zlib's own static
 * gen_bitlen, scan_tree and tables; build_tree and build_bl_tree are restated below with a cheaper
 * heap comparison and without the codes, keeping every heap operation of zlib's. Its
 * _tr_flush_block is renamed while it is included, and the _tr_flush_block that deflate.c calls is
 * defined below: it sizes the block when armed for that stream and this is the last block, and
 * hands everything else to zlib's.
 */
#include "deflate.h" /* first, for the name zconf.h gives _tr_flush_block (z__tr_flush_block) */
#pragma push_macro("_tr_flush_block")
#undef _tr_flush_block
#define _tr_flush_block zipsift_zlib_tr_flush_block
#include "trees.c"
#undef _tr_flush_block
#pragma pop_macro("_tr_flush_block")

#include "deflate_size.h"

#include <stdlib.h>

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_THREADS__)
#define ZIPSIFT_THREAD_LOCAL _Thread_local
#else
#define ZIPSIFT_THREAD_LOCAL __thread
#endif

/* In the static TLS block ("initial-exec"), as parallel.cpp's stop flag: the default model
 * allocates a dlopen'ed module's TLS with malloc on a thread's first access, and glibc aborts the
 * process when that fails (a worker started under memory pressure). */
#if defined(__GNUC__)
#define ZIPSIFT_STATIC_TLS __attribute__((tls_model("initial-exec")))
#else
#define ZIPSIFT_STATIC_TLS
#endif

/* One armed stream per thread: each worker owns its streams (parallel.h). */
static ZIPSIFT_THREAD_LOCAL deflate_state* armed ZIPSIFT_STATIC_TLS;
static ZIPSIFT_THREAD_LOCAL ulg armed_size ZIPSIFT_STATIC_TLS;

void ZLIB_INTERNAL _tr_flush_block(deflate_state* s, charf* buf, ulg stored_len, int last);

/* zlib's heap (pqdownheap, pqremove) with each entry packed as key << NODE_BITS | node, where
 * key = Freq << 8 | depth: "a is smaller than b" in zlib's sense (lower frequency, then
 * depth <= depth) is then key(a) <= key(b), i.e. a <= (b | NODE_MASK), one load and one comparison
 * per child. Ties compare as zlib's do, so every heap operation, and with it the tie-breaking that
 * decides the code lengths, is zlib's. */
#define NODE_BITS 10 /* HEAP_SIZE (573) nodes */
#define NODE_MASK ((1u << NODE_BITS) - 1)
typedef unsigned long long heap_entry;

static heap_entry packed(const ct_data* tree, const deflate_state* s, int node) {
    return ((heap_entry)tree[node].Freq << 8 | s->depth[node]) << NODE_BITS | (unsigned)node;
}

/* Past the last entry the heap holds HEAP_END, larger than any entry: a missing son is never the
 * smaller one and v never sinks below it, so heap_down needs no bounds check. The array is sized
 * for the sons of its last entry. */
#define HEAP_END (~(heap_entry)0)
#define HEAP_CAP (2 * HEAP_SIZE + 2)

static void heap_end_after(heap_entry* heap, int len) {
    int n;
    for (n = len + 1; n <= 2 * len + 1; n++) heap[n] = HEAP_END;
}

/* zlib's pqdownheap: v sinks along the smaller sons (the right one on ties, as zlib's
 * `smaller(heap[j+1], heap[j])` picks it; chosen without a branch, which son wins is
 * data-dependent) until it is smaller than both, in zlib's sense. */
static void heap_down(heap_entry* heap, int k) {
    const heap_entry v = heap[k];
    for (;;) {
        int j = k << 1;
        j += heap[j + 1] <= (heap[j] | NODE_MASK);
        if (v <= (heap[j] | NODE_MASK)) break;
        heap[k] = heap[j];
        k = j;
    }
    heap[k] = v;
}

/* zlib's build_tree on that heap, and without gen_codes: the code bits are never sent, only their
 * lengths (Len, bl_count) and the block's bit counts (opt_len, static_len) are needed. s->heap
 * receives the nodes sorted by frequency (heap_max and above), which is what gen_bitlen reads. */
static void size_build_tree(deflate_state* s, tree_desc* desc) {
    ct_data* tree = desc->dyn_tree;
    const ct_data* stree = desc->stat_desc->static_tree;
    const int elems = desc->stat_desc->elems;
    int n, m, node, max_code = -1, len = 0;
    heap_entry heap[HEAP_CAP];

    s->heap_max = HEAP_SIZE;
    for (n = 0; n < elems; n++) {
        if (tree[n].Freq != 0) {
            s->depth[n] = 0;
            heap[++len] = packed(tree, s, n);
            max_code = n;
        } else {
            tree[n].Len = 0;
        }
    }
    /* At least two codes, as zlib forces them. */
    while (len < 2) {
        node = max_code < 2 ? ++max_code : 0;
        tree[node].Freq = 1;
        s->depth[node] = 0;
        heap[++len] = packed(tree, s, node);
        s->opt_len--;
        if (stree) s->static_len -= stree[node].Len;
    }
    desc->max_code = max_code;

    heap_end_after(heap, len);
    for (n = len / 2; n >= 1; n--) heap_down(heap, n);

    node = elems;
    do {
        n = (int)(heap[SMALLEST] & NODE_MASK);
        heap[SMALLEST] = heap[len];
        heap[len--] = HEAP_END;
        heap_down(heap, SMALLEST);
        m = (int)(heap[SMALLEST] & NODE_MASK);

        s->heap[--(s->heap_max)] = n;
        s->heap[--(s->heap_max)] = m;

        tree[node].Freq = tree[n].Freq + tree[m].Freq; /* ush, as in zlib */
        s->depth[node] = (uch)((s->depth[n] >= s->depth[m] ? s->depth[n] : s->depth[m]) + 1);
        tree[n].Dad = tree[m].Dad = (ush)node;

        heap[SMALLEST] = packed(tree, s, node++);
        heap_down(heap, SMALLEST);
    } while (len >= 2);

    s->heap[--(s->heap_max)] = (int)(heap[SMALLEST] & NODE_MASK);
    s->heap_len = len;
    gen_bitlen(s, desc);
}

/* zlib's build_bl_tree on size_build_tree; opt_len then includes the dynamic tree description. */
static void size_build_bl_tree(deflate_state* s) {
    int max_blindex;
    scan_tree(s, (ct_data*)s->dyn_ltree, s->l_desc.max_code);
    scan_tree(s, (ct_data*)s->dyn_dtree, s->d_desc.max_code);
    size_build_tree(s, (tree_desc*)(&(s->bl_desc)));
    for (max_blindex = BL_CODES - 1; max_blindex >= 3; max_blindex--)
        if (s->bl_tree[bl_order[max_blindex]].Len != 0) break;
    s->opt_len += 3 * ((ulg)max_blindex + 1) + 5 + 5 + 4;
}

/* Bytes of the last block plus the bits already waiting in bi_buf, as _tr_flush_block would write
 * them: zlib's tree builds (above, without the codes) and the same three-way choice (stored, static, dynamic). opt_len and
 * static_len are exact bit counts of the block's symbols (and, after build_bl_tree, of the dynamic
 * tree description); the 3-bit header precedes them; the last block ends byte-aligned
 * (bi_windup). A stored block aligns after its header, then writes LEN, NLEN and the bytes. */
static ulg last_block_bytes(deflate_state* s, const charf* buf, ulg stored_len) {
    ulg opt_lenb, static_lenb;
    size_build_tree(s, (tree_desc*)(&(s->l_desc)));
    size_build_tree(s, (tree_desc*)(&(s->d_desc)));
    size_build_bl_tree(s);
    opt_lenb = (s->opt_len + 3 + 7) >> 3;
    static_lenb = (s->static_len + 3 + 7) >> 3;
    if (static_lenb <= opt_lenb || s->strategy == Z_FIXED) opt_lenb = static_lenb;
    if (stored_len + 4 <= opt_lenb && buf != (charf*)0)
        return (((ulg)s->bi_valid + 3 + 7) >> 3) + 4 + stored_len;
    if (static_lenb == opt_lenb) return ((ulg)s->bi_valid + 3 + s->static_len + 7) >> 3;
    return ((ulg)s->bi_valid + 3 + s->opt_len + 7) >> 3;
}

void ZLIB_INTERNAL _tr_flush_block(deflate_state* s, charf* buf, ulg stored_len, int last) {
    if (!last || s != armed || s->level == 0) {
        zipsift_zlib_tr_flush_block(s, buf, stored_len, last);
        return;
    }
    /* Everything written so far has left (total_out) or waits in pending_buf. */
    armed_size = s->strm->total_out + s->pending + last_block_bytes(s, buf, stored_len);
    /* Nothing of this block is written; deflate() then flushes what was pending before it. */
    s->bi_valid = 0;
    s->bi_buf = 0;
}

void deflate_size_only_arm(z_streamp strm) {
    armed = (deflate_state*)strm->state;
    armed_size = 0;
}

unsigned long deflate_size_only_disarm(void) {
    armed = (deflate_state*)0;
    return armed_size;
}

struct internal_state* deflate_size_scratch_new(int strategy) {
    deflate_state* s = (deflate_state*)calloc(1, sizeof(deflate_state));
    if (s == NULL) return NULL;
    _tr_init(s); /* zlib's tree descriptors and an empty block */
    s->strategy = strategy;
    return s;
}

void deflate_size_scratch_free(struct internal_state* scratch) { free(scratch); }

unsigned long deflate_size_scratch_block(struct internal_state* s, int bi_valid, unsigned long stored_len,
                                         int stored_ok) {
    int n;
    for (n = 0; n < BL_CODES; n++) s->bl_tree[n].Freq = 0;
    s->opt_len = s->static_len = 0;
    s->bi_valid = bi_valid;
    /* last_block_bytes only asks whether the block's bytes are still in the window. */
    return last_block_bytes(s, stored_ok ? (charf*)s : (charf*)0, stored_len);
}
