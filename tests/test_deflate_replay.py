"""Replaying deflate's parse of a pair (levels 4-9 from per-target and per-candidate chains, levels
1-3 from the candidate's chains and the pair's own insertions) gives exactly CPython's
gzip.compress(x + y), including where zlib's search stops on a chain budget, on nice_match or on
TOO_FAR, and where deflate_fast skips the positions inside long matches; and the pairs it cannot
replay (window, symbol buffer) fall back.

fuzz/fuzz_deflate_restore.py is the long property run (its --low-entropy share stresses the chain
budgets).
"""
from __future__ import annotations

import gzip

import numpy as np
import pytest

import zipsift
from zipsift import _core

LEVELS = range(1, 10)
LAZY_LEVELS = range(4, 10)  # deflate_slow; 1-3 are deflate_fast
MAX_DIST = 32768 - 262  # zlib's farthest match: x ⊕ y up to this length is replayed
# Targets are indexed for batches of at least this many candidates (fewer take the undo log at
# levels 4-9; levels 1-3 need no index).
BATCH = 8


def size(s: bytes, level: int) -> int:
    return len(gzip.compress(s, compresslevel=level, mtime=0))


def ncd_table(xs: list, ys: list, level: int) -> np.ndarray:
    cx, cy = [size(x, level) for x in xs], [size(y, level) for y in ys]
    return np.array([[(size(x + y, level) - min(a, b)) / max(a, b) for y, b in zip(ys, cy)] for x, a in zip(xs, cx)])


def counted(call):
    """(call's result, how many pairs were replayed / undone / copied while it ran)."""
    before = _core._deflate_restore_counts()
    result = call()
    after = _core._deflate_restore_counts()
    return result, {k: after[k] - before[k] for k in after}


def four_letters(text: bytes) -> bytes:
    """Real text mapped onto a 4-letter alphabet: long hash chains full of near misses."""
    return bytes(b"acgt"[b & 3] for b in text)


@pytest.fixture(scope="module")
def functions(stdlib_functions) -> list:
    return [f.encode() for f in stdlib_functions]


def batch_of(xs: list, filler: list) -> list:
    """xs, then texts of filler up to a batch whose targets get indexed."""
    return xs + filler[:max(0, BATCH - len(xs))]


@pytest.mark.parametrize("level", LEVELS)
def test_short_records_are_replayed_and_equal_cpython_gzip(functions, level):
    xs, ys = functions[:12], functions[-20:] + [b"", b"x", b"ab", b"abc"]
    got, counts = counted(lambda: zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1))
    assert np.array_equal(got, ncd_table(xs, ys, level))
    assert counts["replayed"] == len(xs) * len(ys) and counts["undone"] == counts["copied"] == 0


@pytest.mark.parametrize("level", LEVELS)
def test_low_entropy_text_exhausts_the_chain_budgets_exactly(stdlib_files, level):
    # On a 4-letter alphabet every 3-byte string recurs every ~64 bytes: the target's part of a
    # chain alone outlasts max_chain >> 2 (and at levels 4-7 max_chain), so searches stop on the
    # budget inside y's part, across it into x's part, and on nice_match.
    blob = four_letters(b"".join(stdlib_files)[:40000])
    xs = [blob[:n] for n in (5, 300, 2000, 9000)] + [blob[20000:26000], blob[27000:27100], blob[9000:9500],
                                                     blob[500:3500]]
    ys = [blob[30000:30000 + n] for n in (1, 4, 100, 1500, 6000)] + [blob[:700]]
    got, counts = counted(lambda: zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1))
    assert np.array_equal(got, ncd_table(xs, ys, level))
    assert counts["replayed"] == len(xs) * len(ys)


@pytest.mark.parametrize("level", [1, 2, 3, 4, 6, 9])
def test_repeated_lines_and_runs_match_cpython_gzip(functions, level):
    # Matches of MAX_MATCH that end exactly at x's end, runs crossing into y, lazy matches that a
    # longer one at the next byte replaces; at levels 1-3, long matches whose positions zlib does
    # not insert, so later chains skip them.
    line = functions[3][:61]
    run = line * 12
    xs = [run[:n] for n in (61, 258, 259, 500)] + [b" " * 600, functions[9] + run[:130]]
    ys = [run[:n] for n in (1, 3, 60, 62, 258, 400)] + [b" " * 300 + line, functions[40]]
    assert np.array_equal(zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1), ncd_table(xs, ys, level))


@pytest.mark.parametrize("level", [4, 9])
def test_far_candidates_keep_the_too_far_rule(stdlib_files, level):
    # Candidates of 5-30 KB: 3-byte matches into their start are more than 4,096 bytes away and
    # zlib drops them (TOO_FAR); longer ones are kept.
    text = b"".join(stdlib_files[11:])
    xs = batch_of([text[:5000], text[1000:13000], text[:30000]], [text[k:k + 4500] for k in range(0, 90000, 9000)])
    ys = [text[200:260], text[40000:40400], text[100:2400]]
    got, counts = counted(lambda: zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1))
    assert np.array_equal(got, ncd_table(xs, ys, level))
    assert counts["replayed"] == len(xs) * len(ys)


@pytest.mark.parametrize("level", [1, 9])
def test_pairs_past_the_replay_limits_fall_back_and_stay_exact(stdlib_files, level):
    text = b"".join(stdlib_files)
    # x ⊕ y of exactly MAX_DIST bytes is replayed; one byte more is not (chain limits and window
    # slides would apply).
    filler = [text[k:k + 300] for k in range(70000, 80000, 1000)]
    xs = batch_of([text[:MAX_DIST - 500]], filler)
    ys = [text[50000:50500], text[50000:50501]]
    got, counts = counted(lambda: zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1))
    assert np.array_equal(got, ncd_table(xs, ys, level))
    assert counts == {"replayed": 2 * BATCH - 1, "undone": 1, "copied": 0}
    # An incompressible candidate fills most of zlib's 16,383-symbol block: a target that could
    # fill the rest ends a block mid-pair and is finished on zlib's stream instead.
    xs = batch_of([gzip.compress(text[:200000], 9)[:16000]], filler)
    ys = [text[60000:60020], text[60000:63000]]
    got, counts = counted(lambda: zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1))
    assert np.array_equal(got, ncd_table(xs, ys, level))
    assert counts == {"replayed": 2 * BATCH - 1, "undone": 1, "copied": 0}


@pytest.mark.parametrize("level", [1, 3])
def test_levels_1_to_3_replay_batches_of_any_size(functions, level):
    # deflate_fast's chains depend on the pair's own parse: nothing is indexed, so one candidate
    # is replayed too.
    for xs in (functions[:1], functions[:BATCH + 3]):
        ys = functions[-5:] + [b"", b"ab"]
        got, counts = counted(lambda: zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1))
        assert np.array_equal(got, ncd_table(xs, ys, level))
        assert counts["replayed"] == len(xs) * len(ys) and counts["undone"] == 0


def test_targets_are_indexed_once_for_the_first_batch_large_enough(functions):
    # Indexing a target costs about what replaying it against a few candidates saves: a TargetSet
    # indexes on its first batch of BATCH candidates or more and keeps the index for every batch.
    targets = functions[-10:]
    target_set = zipsift.TargetSet(targets, threads=1)
    small, large = functions[:3], functions[3:3 + BATCH]
    for batch, how in ((small, "undone"), (large, "replayed"), (small, "replayed")):
        got, counts = counted(lambda: target_set.alignment(batch, threads=1))
        assert counts[how] == len(batch) * len(targets), (len(batch), counts)
        assert np.max(np.abs(got - (1 - ncd_table(batch, targets, 9).mean(axis=1)))) <= 1e-12


def test_a_target_set_reused_across_batches_and_threads_gives_the_same_scores(functions):
    targets = functions[-30:]
    target_set = zipsift.TargetSet(targets, threads=2)  # indexes its targets once
    batches = [functions[:40], functions[40:90]]
    expected = [1 - ncd_table(b, targets, 9).mean(axis=1) for b in batches]
    for batch, want in zip(batches, expected):
        for threads in (1, 2):
            got = zipsift.alignment(batch, targets, threads=threads)
            assert np.max(np.abs(got - want)) <= 1e-12
            assert np.array_equal(target_set.alignment(batch, threads=threads), got)
