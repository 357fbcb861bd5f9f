/* deflate_size.h: zlib's trees.c (vendored, unmodified) with a size-only last block.
 *
 * trees.c is compiled here, not on its own, so that the size-only path calls zlib's own static
 * build_tree / build_bl_tree: the code lengths, and so the size, are zlib's by construction. Its
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

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_THREADS__)
#define ZIPSIFT_THREAD_LOCAL _Thread_local
#else
#define ZIPSIFT_THREAD_LOCAL __thread
#endif

/* One armed stream per thread: each worker owns its streams (parallel.h). */
static ZIPSIFT_THREAD_LOCAL deflate_state* armed;
static ZIPSIFT_THREAD_LOCAL ulg armed_size;

void ZLIB_INTERNAL _tr_flush_block(deflate_state* s, charf* buf, ulg stored_len, int last);

/* Bytes of the last block plus the bits already waiting in bi_buf, as _tr_flush_block would write
 * them: the same tree builds and the same three-way choice (stored, static, dynamic). opt_len and
 * static_len are exact bit counts of the block's symbols (and, after build_bl_tree, of the dynamic
 * tree description); the 3-bit header precedes them; the last block ends byte-aligned
 * (bi_windup). A stored block aligns after its header, then writes LEN, NLEN and the bytes. */
static ulg last_block_bytes(deflate_state* s, const charf* buf, ulg stored_len) {
    ulg opt_lenb, static_lenb;
    build_tree(s, (tree_desc*)(&(s->l_desc)));
    build_tree(s, (tree_desc*)(&(s->d_desc)));
    build_bl_tree(s);
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
