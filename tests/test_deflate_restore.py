"""Finishing one candidate's deflate state with many targets (undo log, full-copy fallback) gives
exactly CPython's gzip.compress(x + y) at every level, and leaves the state as it found it.

A fixed sample of real text (stdlib modules and, where present, Debian's licence texts), with
candidates and targets from 1 byte to beyond zlib's 32 KB window. fuzz/fuzz_deflate_restore.py is
the long property run of the same claims.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pytest

import zipsift
from zipsift import _core

LEVELS = range(1, 10)
# Lengths that cross deflate's edges: MIN_MATCH (3), MAX_MATCH (258), MIN_LOOKAHEAD (262), the
# symbol buffer of one block (16 K symbols), the window (32 KB), and the slide point (~64 KB).
SHORT = [1, 2, 3, 4, 7, 64, 257, 258, 259, 262, 263, 700, 2500]
LONG = [16384, 32768, 33000, 40000, 66000]


def texts_of(sources: list, lengths: list, seed: int) -> list:
    """Slices of real text of the given lengths, from varied places of varied sources."""
    rng = np.random.default_rng(seed)
    blob = b"\n".join(sources)
    out = []
    for n in lengths:
        start = int(rng.integers(0, max(1, len(blob) - n)))
        out.append(blob[start:start + n])
    return out


@pytest.fixture(scope="module")
def corpus(stdlib_files) -> list:
    licences = sorted(Path("/usr/share/common-licenses").glob("*"))
    return stdlib_files + [p.read_bytes() for p in licences if p.is_file()][:8]


def gzip_ncd(x: bytes, y: bytes, level: int) -> float:
    c = lambda s: len(gzip.compress(s, compresslevel=level, mtime=0))  # noqa: E731
    cx, cy = c(x), c(y)
    return (c(x + y) - min(cx, cy)) / max(cx, cy)


@pytest.mark.parametrize("level", LEVELS)
def test_short_pairs_match_cpython_gzip_at_every_level(corpus, level):
    xs = texts_of(corpus, SHORT, seed=level)
    ys = texts_of(corpus, SHORT, seed=100 + level)
    got = zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1)
    expected = np.array([[gzip_ncd(x, y, level) for y in ys] for x in xs])
    assert np.array_equal(got, expected)  # same integers through the same formula: equal, not close


@pytest.mark.parametrize("level", [1, 4, 6, 9])
def test_pairs_beyond_the_window_match_cpython_gzip(corpus, level):
    # Long candidates with short targets (undo log on a candidate whose window already slid), and
    # long targets (the full-copy fallback when the suffix slides the window).
    xs = texts_of(corpus, [5, 300, 33000, 70000], seed=7 * level)
    ys = texts_of(corpus, [1, 260, 3000] + LONG[level % 2::2], seed=11 * level)
    got = zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1)
    expected = np.array([[gzip_ncd(x, y, level) for y in ys] for x in xs])
    assert np.array_equal(got, expected)


def test_zlib_wrapper_pairs_match_cpython_zlib(corpus):
    xs, ys = texts_of(corpus, [10, 900, 5000], seed=1), texts_of(corpus, [3, 400, 12000], seed=2)
    c = lambda s: len(zlib.compress(s, 6))  # noqa: E731
    expected = np.array([[(c(x + y) - min(c(x), c(y))) / max(c(x), c(y)) for y in ys] for x in xs])
    assert np.array_equal(zipsift.ncd_matrix(xs, ys, "zlib", 6, threads=1), expected)


@pytest.mark.parametrize("level", LEVELS)
def test_restored_state_equals_a_deep_copy_after_every_target(corpus, level):
    # Stronger than equal sizes: after each target the window, hash heads and chains, trees,
    # pending bytes, symbols and counters are those of the state before it.
    ys = texts_of(corpus, SHORT + [16384, 30000], seed=200 + level)
    for x in texts_of(corpus, [0, 1, 2, 300, 5000, 40000], seed=300 + level):
        assert _core._deflate_restore_mismatches(x, ys, "gzip", level) == 0


def test_targets_that_would_slide_the_window_take_the_full_copy_and_are_counted(corpus):
    x, y = texts_of(corpus, [40000, 30000], seed=5)
    before = _core._deflate_restore_counts()
    got = zipsift.ncd_matrix([x], [y, y[:100]], "gzip", 9, threads=1)
    after = _core._deflate_restore_counts()
    assert after["copied"] - before["copied"] == 1 and after["undone"] - before["undone"] == 1
    assert got[0, 0] == gzip_ncd(x, y, 9) and got[0, 1] == gzip_ncd(x, y[:100], 9)


def test_restore_mismatches_refuses_zstd_and_bad_levels():
    with pytest.raises(ValueError):
        _core._deflate_restore_mismatches(b"abc", [b"d"], "zstd", 3)
    with pytest.raises(ValueError, match="level 0 is refused"):
        _core._deflate_restore_mismatches(b"abc", [b"d"], "gzip", 0)


def test_alignment_after_many_restores_matches_pure_python(stdlib_functions):
    # One candidate state serves every target of a task; an error left by one restore would show
    # in the next target's size.
    candidates = [f.encode() for f in stdlib_functions[:15]]
    targets = [f.encode() for f in stdlib_functions[-70:]]
    expected = [1 - sum(gzip_ncd(x, y, 9) for y in targets) / len(targets) for x in candidates]
    assert np.max(np.abs(zipsift.alignment(candidates, targets, threads=1) - expected)) <= 1e-12


def utf8_text() -> bytes:
    """Real multi-byte UTF-8 text: the HTML5 entity table of CPython's html.entities (1-4 bytes a
    character)."""
    import html.entities
    return "".join(f"&{name} {char}\n" for name, char in html.entities.html5.items()).encode()


@pytest.mark.parametrize("level", LEVELS)
def test_candidates_ending_inside_a_repeat_match_cpython_gzip(corpus, level):
    # The candidate's tail is parsed once, only as far as no step reads past its end: these
    # candidates end inside a run that a match covers, and targets continue it (a match crossing
    # the boundary), break it at once, or are empty.
    line = corpus[3][:90]
    run = line * 8
    xs = [run[:n] for n in (3, 91, 181, 400, 517, 719)] + [corpus[5][:3000] + run[:333]]
    ys = [b"", run[:1], run[333:340], run[333:], b"\x00" + run, corpus[7][:500]]
    expected = np.array([[gzip_ncd(x, y, level) for y in ys] for x in xs])
    assert np.array_equal(zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1), expected)


@pytest.mark.parametrize("level", LEVELS)
def test_candidates_ending_inside_a_multibyte_character_match_cpython_gzip(level):
    text = utf8_text()
    starts = [i for i in range(1000, len(text) - 1000, 97) if text[i] & 0xC0 == 0x80][:6]  # inside a character
    assert len(starts) >= 3
    xs = [text[:i] for i in starts[:3]] + [text[i - 300:i] for i in starts[3:]]
    ys = [b"", text[starts[0]:starts[0] + 1], text[starts[0]:starts[0] + 700], text[5:40]]
    expected = np.array([[gzip_ncd(x, y, level) for y in ys] for x in xs])
    assert np.array_equal(zipsift.ncd_matrix(xs, ys, "gzip", level, threads=1), expected)


def test_restored_state_after_the_tail_parse_equals_a_deep_copy(corpus):
    # The saved state is the advanced one; every target must leave exactly it behind.
    line = corpus[3][:90]
    ys = [b"", line[:2], (line * 4)[17:], corpus[9][:2000]]
    for level in (4, 6, 9):
        for x in ((line * 6)[:431], corpus[2][:700], utf8_text()[:5001]):
            assert _core._deflate_restore_mismatches(x, ys, "gzip", level) == 0


@pytest.mark.parametrize("level", [4, 6, 9])
def test_every_cut_of_repetitive_text_matches_cpython_gzip(corpus, level):
    # x ⊕ y is the same text cut at every position of a stretch: whatever the candidate's tail
    # parse left undecided, or decided, the pair must compress as the uncut text does.
    text = b"".join(corpus[i][:400] for i in range(4)) * 2
    sizes = []
    expected = []
    for cut in range(600, 1000):
        x, y = text[:cut], text[cut:cut + 150]
        sizes.append(zipsift.ncd_matrix([x], [y, y[:3]], "gzip", level, threads=1)[0])
        expected.append([gzip_ncd(x, y, level), gzip_ncd(x, y[:3], level)])
    assert np.array_equal(np.array(sizes), np.array(expected))
