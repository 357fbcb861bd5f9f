"""CompressionGain: C(x | T) is libzstd's raw-content dictionary compression byte for byte, the gain
is the documented formula, bad input is refused, and results do not depend on threads."""
from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest

import zipsift
from zipsift import CompressionGain, _core

pytestmark = pytest.mark.skipif("zstd" not in zipsift.codecs(), reason="built without libzstd headers")

RUNTIME = zipsift.build_info()["libraries"].get("zstd", {}).get("runtime")


class _CMem(ctypes.Structure):
    _fields_ = [("alloc", ctypes.c_void_p), ("free", ctypes.c_void_p), ("opaque", ctypes.c_void_p)]


class LinkedZstd:
    """The documented definitions, called on a libzstd through ctypes: C(x) = ZSTD_compress(x, L);
    C(x | D) = ZSTD_compress_usingCDict with ZSTD_createCDict_advanced2(D, dct_rawContent, level L)."""

    def __init__(self, lib: ctypes.CDLL):
        size_t, vp = ctypes.c_size_t, ctypes.c_void_p
        self.lib = lib
        lib.ZSTD_versionString.restype = ctypes.c_char_p
        lib.ZSTD_compressBound.argtypes, lib.ZSTD_compressBound.restype = [size_t], size_t
        lib.ZSTD_compress.argtypes = [vp, size_t, ctypes.c_char_p, size_t, ctypes.c_int]
        lib.ZSTD_compress.restype = size_t
        lib.ZSTD_createCCtx.restype = vp
        lib.ZSTD_freeCCtx.argtypes = [vp]
        lib.ZSTD_createCCtxParams.restype = vp
        lib.ZSTD_freeCCtxParams.argtypes = [vp]
        lib.ZSTD_CCtxParams_setParameter.argtypes = [vp, ctypes.c_int, ctypes.c_int]
        lib.ZSTD_CCtxParams_setParameter.restype = size_t
        lib.ZSTD_createCDict_advanced2.argtypes = [ctypes.c_char_p, size_t, ctypes.c_int, ctypes.c_int, vp, _CMem]
        lib.ZSTD_createCDict_advanced2.restype = vp
        lib.ZSTD_freeCDict.argtypes = [vp]
        lib.ZSTD_compress_usingCDict.argtypes = [vp, vp, size_t, ctypes.c_char_p, size_t, vp]
        lib.ZSTD_compress_usingCDict.restype = size_t
        self.version = lib.ZSTD_versionString().decode()

    def plain(self, x: bytes, level: int) -> int:
        cap = self.lib.ZSTD_compressBound(len(x))
        return self.lib.ZSTD_compress(ctypes.create_string_buffer(cap), cap, x, len(x), level)

    def with_dict(self, x: bytes, dictionary: bytes, level: int) -> int:
        lib = self.lib
        params = lib.ZSTD_createCCtxParams()
        lib.ZSTD_CCtxParams_setParameter(params, 100, level)  # ZSTD_c_compressionLevel
        cdict = lib.ZSTD_createCDict_advanced2(dictionary, len(dictionary), 0, 1, params, _CMem())  # byCopy, raw
        cctx = lib.ZSTD_createCCtx()
        cap = lib.ZSTD_compressBound(len(x))
        size = lib.ZSTD_compress_usingCDict(cctx, ctypes.create_string_buffer(cap), cap, x, len(x), cdict)
        lib.ZSTD_freeCCtx(cctx), lib.ZSTD_freeCDict(cdict), lib.ZSTD_freeCCtxParams(params)
        return size


@pytest.fixture(scope="module")
def linked_zstd():
    name = ctypes.util.find_library("zstd")
    if not name:
        pytest.skip("no shared libzstd to compare with")
    lib = LinkedZstd(ctypes.CDLL(name))
    if lib.version != RUNTIME:
        pytest.skip(f"the shared libzstd is {lib.version}, the core runs with {RUNTIME}")
    return lib


def _as_bytes(texts):
    return [t.encode() if isinstance(t, str) else t for t in texts]


@pytest.mark.parametrize("level", [1, 3, 9])
def test_conditional_sizes_equal_libzstd_raw_content_dictionary_bytes_exactly(linked_zstd, stdlib_functions, level):
    targets = _as_bytes(stdlib_functions[-80:])
    dictionary = b"".join(targets)
    dicts = _core.ConditionalCompressor(targets, level)
    assert len(dicts) == 1 and dicts.dictionary_lengths == [len(dictionary)]
    xs = _as_bytes(stdlib_functions[:40]) + [b"x", b"def f():\n", bytes(range(256)) * 50]
    expected = [[linked_zstd.with_dict(x, dictionary, level)] for x in xs]
    assert _core.conditional_sizes(xs, dicts).tolist() == expected


def test_gain_equals_hand_computation_with_libzstd(linked_zstd, stdlib_functions):
    targets = _as_bytes(stdlib_functions[-60:])
    dictionary = b"".join(targets)
    xs = _as_bytes(stdlib_functions[:30]) + [b"z", "naïve ✓ text".encode()]
    expected = [8 * (linked_zstd.plain(x, 3) - linked_zstd.with_dict(x, dictionary, 3)) / len(x) for x in xs]
    parts = CompressionGain(targets).parts(xs)
    assert parts.gain.tolist() == expected  # same integers, same formula: equal, not close
    assert parts.c_baseline.tolist() == [linked_zstd.plain(x, 3) for x in xs]


def test_moore_lewis_gain_equals_hand_computation_with_libzstd(linked_zstd, stdlib_functions):
    targets = _as_bytes(stdlib_functions[-60:])
    reference = [b"The quick brown fox jumps over the lazy dog. " * 20] + _as_bytes(stdlib_functions[100:110])
    xs = _as_bytes(stdlib_functions[:20])
    t, r = b"".join(targets), b"".join(reference)
    expected = [8 * (linked_zstd.with_dict(x, r, 3) - linked_zstd.with_dict(x, t, 3)) / len(x) for x in xs]
    scorer = CompressionGain(targets, reference=reference, length_prior=0)
    assert scorer.has_reference and scorer.n_reference == len(reference)
    assert scorer.scores(xs).tolist() == expected


def test_targets_beyond_dict_bytes_are_packed_in_order_and_combined_by_min_or_mean(linked_zstd, stdlib_functions):
    targets = _as_bytes(stdlib_functions[-40:])
    dict_bytes = 4000
    scorer = CompressionGain(targets, dict_bytes=dict_bytes)
    # Rebuild the packing by hand: whole texts while they fit, a longer text cut into pieces.
    chunks, current = [], b""
    for t in targets:
        if len(current) + len(t) > dict_bytes and current:
            chunks.append(current)
            current = b""
        while len(t) > dict_bytes:
            chunks.append(t[:dict_bytes])
            t = t[dict_bytes:]
        current += t
    chunks.append(current)
    assert scorer.target_dictionaries == [len(c) for c in chunks] and len(chunks) > 3
    xs = _as_bytes(stdlib_functions[:15])
    sizes = [[linked_zstd.with_dict(x, c, 3) for c in chunks] for x in xs]
    plain = [linked_zstd.plain(x, 3) for x in xs]
    assert CompressionGain(targets, dict_bytes=dict_bytes, combine="min").parts(xs).c_target.tolist() == \
        [min(s) for s in sizes]
    mean = scorer.parts(xs)
    assert mean.c_target.tolist() == [sum(s) / len(s) for s in sizes]
    assert mean.gain.tolist() == [8 * (p - sum(s) / len(s)) / len(x) for p, s, x in zip(plain, sizes, xs)]


def test_conditional_sizes_match_zstandard_package_when_it_carries_the_same_libzstd(stdlib_functions):
    import zstandard

    theirs = ".".join(map(str, zstandard.ZSTD_VERSION))
    if RUNTIME != theirs:
        pytest.skip(f"zstandard bundles libzstd {theirs}, the core runs with {RUNTIME}: frames may legitimately differ")
    targets = _as_bytes(stdlib_functions[-80:])
    dictionary = zstandard.ZstdCompressionDict(b"".join(targets), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    xs = _as_bytes(stdlib_functions[:40])
    for level in (1, 3, 9):
        compressor = zstandard.ZstdCompressor(level=level, dict_data=dictionary)
        dicts = _core.ConditionalCompressor(targets, level)
        assert _core.conditional_sizes(xs, dicts)[:, 0].tolist() == [len(compressor.compress(x)) for x in xs]


def test_default_dictionary_size_is_the_window_of_the_level():
    import zstandard

    for level in (1, 3, 19):
        window = zstandard.ZstdCompressionParameters.from_level(level).window_log
        assert _core.zstd_window_bytes(level) == 1 << window


def test_target_like_text_gains_more_than_unrelated_text(stdlib_functions):
    scorer = CompressionGain(stdlib_functions[-200:], length_prior=0)
    code = stdlib_functions[:50]
    prose = [("The committee met on Tuesday to discuss the harvest, the weather and the price of "
              f"grain in the northern valleys; item {i} was deferred to the spring session.") * 3 for i in range(50)]
    g_code, g_prose = scorer.scores(code), scorer.scores(prose)
    assert g_code.dtype == np.float64 and g_code.shape == (50,)
    assert np.median(g_code) > np.median(g_prose) + 0.5


def test_length_prior_shrinks_the_per_byte_gain_by_length(stdlib_functions):
    targets, xs = stdlib_functions[-100:], stdlib_functions[:40] + [b"import os\n", "x = 1\n"]
    per_byte = CompressionGain(targets, length_prior=0).scores(xs)
    assert CompressionGain(targets, length_prior=0).parts(xs).gain.tolist() == per_byte.tolist()
    sizes = np.array([len(x if isinstance(x, bytes) else x.encode()) for x in xs], dtype=float)
    for prior in (1, 4096):
        np.testing.assert_allclose(CompressionGain(targets, length_prior=prior).scores(xs),
                                   per_byte * sizes / (sizes + prior), rtol=1e-15)
    assert CompressionGain(targets).length_prior == 4096
    for bad in (-1, 1.5, True, None):
        with pytest.raises(ValueError, match="length_prior must be an integer >= 0"):
            CompressionGain(targets, length_prior=bad)


def test_scores_do_not_depend_on_thread_count(stdlib_functions):
    targets, xs = stdlib_functions[-100:], stdlib_functions[:300]
    reference = CompressionGain(targets, dict_bytes=3000, threads=1).parts(xs)
    for threads in (2, 3, 8, 0):
        got = CompressionGain(targets, dict_bytes=3000, threads=threads).parts(xs)
        for a, b in zip(got, reference):
            assert np.array_equal(a, b)


def test_select_keeps_highest_gains_under_k_and_budget(stdlib_functions):
    scorer = CompressionGain(stdlib_functions[-100:])
    pool = [{"text": t, "id": i} for i, t in enumerate(stdlib_functions[:200])]
    scores = scorer.scores([r["text"] for r in pool])
    kept = scorer.select(pool, k=10, batch_size=7)
    order = sorted(range(len(pool)), key=lambda i: (-scores[i], i))[:10]
    assert [s.index for s in kept] == order and [s.score for s in kept] == [scores[i] for i in order]
    budget = scorer.select(pool, budget_bytes=5000)
    assert sum(len(s.record["text"].encode()) for s in budget) <= 5000


def test_str_and_its_utf8_bytes_score_the_same(stdlib_functions):
    scorer = CompressionGain(stdlib_functions[-50:])
    texts = stdlib_functions[:5] + ["naïve café — ✓ 漢字"]
    assert np.array_equal(scorer.scores(texts), scorer.scores([t.encode() for t in texts]))


def test_empty_candidate_is_refused_naming_its_index():
    scorer = CompressionGain(["def f(x):\n    return x\n"])
    with pytest.raises(ValueError, match=r"candidates\[1\] is empty"):
        scorer.scores(["abc", ""])


def test_empty_record_in_a_stream_is_refused_naming_its_position():
    scorer = CompressionGain(["def f(x):\n    return x\n"])
    with pytest.raises(ValueError, match="record 5 has an empty text"):
        scorer.select([{"text": "abc"}] * 5 + [{"text": ""}], k=1, batch_size=2)


def test_one_byte_candidate_has_a_finite_gain():
    assert np.isfinite(CompressionGain(["def f(x):\n    return x\n"]).scores(["d"])).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"codec": "gzip"}, "codec must be 'zstd'"),
    ({"combine": "max"}, "combine must be one of"),
    ({"threads": -1}, "threads must be"),
    ({"threads": 1.5}, "threads must be"),
    ({"level": 99}, "zstd level must be"),
    ({"dict_bytes": 4}, "dict_bytes must be"),
])
def test_bad_parameters_raise_value_error_saying_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CompressionGain(["def f(x):\n    return x\n"], **kwargs)


def test_empty_or_tiny_targets_and_empty_reference_are_refused():
    with pytest.raises(ValueError, match="targets is empty"):
        CompressionGain([])
    with pytest.raises(ValueError, match="at least 8"):
        CompressionGain(["abc"])
    with pytest.raises(ValueError, match="reference sample is empty"):
        CompressionGain(["def f(x):\n    return x\n"], reference=[])
    with pytest.raises(ValueError, match=r"record 0 has no field"):
        CompressionGain(["def f(x):\n    return x\n"]).fit([{"body": "x"}])


def test_fit_reads_only_max_records_of_the_reference(stdlib_functions):
    records = iter([{"text": t} for t in stdlib_functions[:100]])
    scorer = CompressionGain(stdlib_functions[-20:]).fit(records, max_records=30)
    assert scorer.n_reference == 30 and len(list(records)) == 70
