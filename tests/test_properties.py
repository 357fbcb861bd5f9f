"""Property-based tests (hypothesis) of every native entry point: equal to a pure-Python
reference on small random inputs, the same whatever the thread count, and no crash on arbitrary
bytes (empty strings, NULs, invalid UTF-8). Profile "ci" (the default): 200 examples per test;
"sanitized" (the ASan job): 25; "long": 5000, for a maintainer's run:
HYPOTHESIS_PROFILE=long pytest tests/test_properties.py."""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zipsift
from zipsift import _core
from zipsift import submodular as sm
from zipsift.dsir import DSIR
from zipsift.ngram import HashedNgrams
from zipsift.zipfit import ZipFit

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.register_profile("ci", max_examples=200, **_common)
settings.register_profile("sanitized", max_examples=25, **_common)
settings.register_profile("long", max_examples=5000, **{**_common, "derandomize": False})
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
prop = settings(settings.get_profile(PROFILE))

blobs = st.binary(max_size=300) | st.sampled_from([b"", b"\x00", b"\x00" * 40, b"\xff\xfe", b"a\x00b"])
texts = st.lists(blobs, max_size=8)
nonempty_texts = st.lists(blobs, min_size=1, max_size=5)
threads = st.sampled_from([1, 2, 3, 7])


def c_gzip(s: bytes) -> int:
    return len(gzip.compress(s, compresslevel=6, mtime=0))


@prop
@given(texts, threads)
def test_compressed_sizes_equal_cpython_gzip_and_zlib(xs, t):
    assert zipsift.compressed_sizes(xs, "gzip", 6, t).tolist() == [c_gzip(x) for x in xs]
    assert zipsift.compressed_sizes(xs, "zlib", 6, t).tolist() == [len(zlib.compress(x, 6)) for x in xs]


@pytest.mark.skipif("zstd" not in zipsift.codecs(), reason="built without zstd")
@prop
@given(texts, threads)
def test_zstd_sizes_are_deterministic_and_positive(xs, t):
    a = zipsift.compressed_sizes(xs, "zstd", 3, t)
    assert np.array_equal(a, zipsift.compressed_sizes(xs, "zstd", 3, 1))
    assert (a > 0).all()


def ncd_ref(x: bytes, y: bytes) -> float:
    cx, cy = c_gzip(x), c_gzip(y)
    return (c_gzip(x + y) - min(cx, cy)) / max(cx, cy)


@prop
@given(texts, texts, threads)
def test_ncd_matrix_equals_the_formula_on_cpython_gzip(a, b, t):
    got = zipsift.ncd_matrix(a, b, "gzip", 6, t)
    assert got.shape == (len(a), len(b))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert got[i, j] == pytest.approx(ncd_ref(x, y), abs=1e-12)


@prop
@given(texts, nonempty_texts, threads)
def test_alignment_target_set_and_zipfit_equal_one_minus_mean_ncd(cands, targets, t):
    want = [1 - sum(ncd_ref(x, y) for y in targets) / len(targets) for x in cands]
    got = zipsift.alignment(cands, targets, "gzip", 6, t)
    assert got == pytest.approx(want, abs=1e-9)
    ts = zipsift.TargetSet(targets, "gzip", 6, t)
    assert np.array_equal(ts.alignment(cands), ts.alignment(cands, threads=1))
    assert np.array_equal(ZipFit(targets, "gzip", 6, t).scores(cands), ts.alignment(cands))


@pytest.mark.skipif("zstd" not in zipsift.codecs(), reason="built without zstd")
@prop
@given(texts, nonempty_texts, threads)
def test_zstd_alignment_does_not_depend_on_threads(cands, targets, t):
    a = zipsift.alignment(cands, targets, "zstd", 3, t)
    assert np.array_equal(a, zipsift.alignment(cands, targets, "zstd", 3, 1))
    assert np.isfinite(a).all()


ascii_text = st.text(st.characters(min_codepoint=0, max_codepoint=127, blacklist_characters="\x1c\x1d\x1e\x1f"),
                     max_size=120)


def dsir_reference(text: str, n: int, buckets: int) -> np.ndarray:
    words = re.findall(r"\w+|[^\w\s]+", text.lower())
    out = np.zeros(buckets, dtype=np.int64)
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            out[int(hashlib.sha256(" ".join(words[i:i + k]).encode()).hexdigest(), 16) % buckets] += 1
    return out


@prop
@given(st.lists(ascii_text, max_size=6), st.integers(1, 3), st.integers(1, 5000), threads)
def test_compat_counts_equal_the_re_hashlib_reference_on_ascii(xs, n, buckets, t):
    got = HashedNgrams(n, buckets, "compat").counts(xs, t)
    want = sum((dsir_reference(x, n, buckets) for x in xs), np.zeros(buckets, dtype=np.int64))
    assert np.array_equal(got, want)


@prop
@given(texts, st.integers(1, 4), st.integers(1, 300), threads)
def test_fast_counts_dot_and_csr_agree_on_arbitrary_bytes(xs, n, buckets, t):
    h = HashedNgrams(n, buckets, "fast")
    counts = h.counts(xs, t)
    assert np.array_equal(counts, h.counts(xs, 1))
    w = np.arange(buckets, dtype=np.float64)
    scores, totals = h.dot(xs, w, t)
    rows = h.csr(xs, t).toarray()
    assert np.array_equal(rows.sum(axis=0), counts)
    assert np.array_equal(totals, rows.sum(axis=1))
    assert scores == pytest.approx(rows @ w)


@prop
@given(st.lists(ascii_text, min_size=1, max_size=5), st.lists(ascii_text, min_size=1, max_size=5), threads)
def test_dsir_log_importance_is_the_dot_of_counts_with_log_ratio(targets, raw, t):
    if HashedNgrams(2, 64).counts(targets).sum() == 0 or HashedNgrams(2, 64).counts(raw).sum() == 0:
        return  # no tokens: refused with a ValueError (tested elsewhere)
    d = DSIR(targets, buckets=64, threads=t).fit(raw)
    pt = d.target_counts / d.target_counts.sum()
    pr = d.raw_counts / d.raw_counts.sum()
    rows = d.featurizer.csr(raw).toarray()
    want = rows @ (np.log(pt + 1e-8) - np.log(pr + 1e-8))
    assert d.log_importance(raw) == pytest.approx(want, rel=1e-9, abs=1e-9)


@prop
@given(texts, texts, threads)
def test_order_one_byte_lm_equals_add_one_byte_frequencies(fit, probe, t):
    lm = _core.ByteNgramLM(1, 10, 1.0)
    lm.fit(fit, t)
    counts = np.zeros(256)
    for x in fit:
        for b in x:
            counts[b] += 1
    total = counts.sum()
    assert lm.fitted_bytes == total
    want = [-sum(math.log2((counts[b] + 1) / (total + 256)) for b in x) for x in probe]
    assert lm.bits(probe, t) == pytest.approx(want, rel=1e-12, abs=1e-9)


@prop
@given(texts, texts, st.integers(2, 8), threads)
def test_byte_lm_does_not_depend_on_threads_and_gives_finite_bits(fit, probe, order, t):
    a, b = _core.ByteNgramLM(order, 12, 2.0), _core.ByteNgramLM(order, 12, 2.0)
    a.fit(fit, t)
    b.fit(fit, 1)
    bits = a.bits(probe, t)
    assert np.array_equal(bits, b.bits(probe, 1))
    assert np.isfinite(bits).all() and (bits >= 0).all()
    assert [x == 0 for x in bits] == [len(x) == 0 for x in probe]


def fl_greedy_reference(S: np.ndarray, k: int) -> list:
    A: list = []
    for _ in range(k):
        base = S[:, A].max(axis=1).sum() if A else 0.0
        gains = [(S[:, A + [j]].max(axis=1).sum() - base) if j not in A else -np.inf for j in range(S.shape[0])]
        A.append(int(np.argmax(gains)))
    return A


matrices = st.integers(2, 9).flatmap(
    lambda n: st.lists(st.integers(0, 8), min_size=n * n, max_size=n * n).map(
        lambda v: (np.array(v, dtype=np.float32) / 8).reshape(n, n)))


@prop
@given(matrices, st.data())
def test_facility_location_greedy_equals_a_numpy_reference(S, data):
    # Values on a 1/8 grid: sums are exact in float32 and float64, so ties break the same way.
    k = data.draw(st.integers(1, S.shape[0]))
    want = fl_greedy_reference(S.astype(np.float64), k)
    for optimizer in ("naive", "lazy"):
        for t in (1, 3):
            got = sm.facility_location(S, k, optimizer, threads=t)
            assert list(got.indices) == want


@prop
@given(st.integers(1, 30), st.integers(1, 6), st.sampled_from(["cosine", "rbf", "euclidean", "dot"]), threads,
       st.randoms(use_true_random=False))
def test_kernels_do_not_depend_on_threads(n, dim, metric, t, rnd):
    X = np.array([[rnd.uniform(0.1, 1) for _ in range(dim)] for _ in range(n)], dtype=np.float32)
    values, _ = _core.dense_kernel(X, None, metric, 0.5, t)
    assert np.array_equal(values, _core.dense_kernel(X, None, metric, 0.5, 1)[0])
    k = min(3, n)
    idx, val = _core.knn_kernel(X, None, k, metric, 0.5, t)
    idx1, val1 = _core.knn_kernel(X, None, k, metric, 0.5, 1)
    assert np.array_equal(idx, idx1) and np.array_equal(val, val1)
    assert np.array_equal(_core.transpose(values, t), values.T)
