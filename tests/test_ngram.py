"""Hashed n-gram features: our SHA-256, the compat scheme's exactness against the data-selection
package (and against a plain re + hashlib reference), the fast scheme's contract, and bad input."""
from __future__ import annotations

import hashlib
import os
import random
import re

import numpy as np
import pytest

from sigint import interrupt_script
from zipsift import _core
from zipsift.ngram import HashedNgrams, hashed_ngram_counts, wordpunct_classes

ASCII_TEXTS = [
    "Hello, World! def foo(x): return x**2  # ok",
    "  leading and trailing spaces\t\n",
    "MiXeD CaSe, punctuation...!?; (parens) [brackets] {braces} <tags/> a_b c-d e.f 3.14 1e-8",
    "",
    "a",
    "tabs\tnewlines\nvertical\x0bform\x0creturns\r",
    "def f(a, b=2, *args, **kw):\n    '''Docstring.'''\n    return a + b  # comment\n" * 3,
]
NON_ASCII_TEXTS = [
    "Ünïcödé — “quotes” İstanbul ½ ² ２ 🍕 test ẞ ΣΑΣ ﬁ",
    "x\u0085y\xa0z\u2028w\u3000v",
    "Straße naïve café 日本語のテキスト、句読点。",
    "combining: e\u0301 a\u0308 \u200d zero-width",
]


def reference_counts(text, n, buckets):
    """DSIR's get_ngram_counts written against stdlib re: exact where `re` and NLTK's engine agree."""
    words = re.findall(r"\w+|[^\w\s]+", text.lower())
    counts = np.zeros(buckets, dtype=np.int64)
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            gram = " ".join(words[i:i + k])
            counts[int(hashlib.sha256(gram.encode("utf-8")).hexdigest(), 16) % buckets] += 1
    return counts


@pytest.fixture(scope="module")
def compat():
    return HashedNgrams(2, 10000, "compat")


def test_sha256_matches_hashlib_at_every_padding_boundary():
    rng = random.Random(0)
    for n in list(range(0, 200)) + [447, 448, 1000, 4096, 65537]:
        data = bytes(rng.getrandbits(8) for _ in range(n))
        assert _core.sha256(data) == hashlib.sha256(data).digest(), n


def test_sha256_mod_equals_python_big_integer_mod():
    rng = random.Random(1)
    for m in (1, 2, 7, 10000, 2**31 - 1, 2**32 + 15, 2**63 + 29, 2**64 - 1):
        for _ in range(20):
            data = os.urandom(rng.randrange(0, 80))
            assert _core.sha256_mod(data, m) == int(hashlib.sha256(data).hexdigest(), 16) % m


def test_sha256_mod_rejects_zero_modulus():
    with pytest.raises(ValueError, match="m must be >= 1"):
        _core.sha256_mod(b"abc", 0)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_compat_counts_equal_re_hashlib_reference_on_ascii(compat, stdlib_functions, n):
    texts = ASCII_TEXTS + stdlib_functions[:40]
    featurizer = HashedNgrams(n, 10000, "compat") if n != 2 else compat
    got = featurizer.csr(texts).toarray()
    for i, text in enumerate(texts):
        assert np.array_equal(got[i], reference_counts(text, n, 10000)), text[:40]


def test_compat_buckets_are_sha256_of_space_joined_ngrams(compat):
    expected = [int(hashlib.sha256(g.encode()).hexdigest(), 16) % 10000
                for g in ["hello", ",", "world", "hello ,", ", world"]]
    assert compat.buckets_of("Hello, WORLD") == expected


def test_compat_matches_data_selection_package_on_ascii_and_non_ascii(compat, stdlib_functions):
    ds = pytest.importorskip("data_selection.hashed_ngram_dsir",
                             reason="data-selection is not installed (pip install \"zipsift[test]\" installs it)")
    texts = ASCII_TEXTS + NON_ASCII_TEXTS + ["separators\x1c\x1d\x1e\x1fbetween"] + stdlib_functions[:30]
    for n in (1, 2, 3):
        featurizer = compat if n == 2 else HashedNgrams(n, 10000, "compat")
        got = featurizer.csr(texts).toarray()
        for i, text in enumerate(texts):
            assert np.array_equal(got[i], ds.get_ngram_counts(text, n=n, num_buckets=10000)), (n, text[:40])


def test_compat_engine_difference_on_ascii_separators_is_as_documented():
    # `re` takes \x1c-\x1f as whitespace; `regex` (NLTK with nltk.redos) as punctuation.
    assert wordpunct_classes("re")[0x1c:0x20].tolist() == [2, 2, 2, 2]
    pytest.importorskip("regex", reason="the regex package is not installed")
    assert wordpunct_classes("regex")[0x1c:0x20].tolist() == [0, 0, 0, 0]
    both = np.flatnonzero(wordpunct_classes("re")[:128] != wordpunct_classes("regex")[:128]).tolist()
    assert both == [0x1c, 0x1d, 0x1e, 0x1f]


def test_compat_accepts_utf8_bytes_like_str(compat):
    text = NON_ASCII_TEXTS[0]
    assert np.array_equal(compat.csr([text.encode("utf-8")]).toarray(), compat.csr([text]).toarray())


def test_compat_rejects_invalid_utf8_bytes(compat):
    with pytest.raises(ValueError, match=r"texts\[1\] is not valid UTF-8"):
        compat.counts(["ok", b"\xff\xfe bad"])


def test_fast_scheme_lowercases_and_splits_word_and_punctuation_runs():
    fast = HashedNgrams(1, 1 << 20, "fast")
    assert fast.buckets_of("Hello, World!!") == fast.buckets_of("hello ,world !!")
    assert len(fast.buckets_of("a_b1 c-d")) == 4  # "a_b1" "c" "-" "d"
    assert len(set(fast.buckets_of("alpha beta gamma delta"))) == 4
    assert fast.buckets_of("") == [] and fast.buckets_of(" \t\n") == []


def test_fast_scheme_counts_every_1_to_n_gram_once():
    fast = HashedNgrams(3, 10000, "fast")
    buckets = fast.buckets_of("one two three four")
    assert len(buckets) == 4 + 3 + 2
    assert buckets[:4] == HashedNgrams(1, 10000, "fast").buckets_of("one two three four")


@pytest.mark.parametrize("scheme", ["fast", "compat"])
def test_counts_dot_and_csr_agree_and_do_not_depend_on_threads(scheme, stdlib_functions):
    h = HashedNgrams(2, 4096, scheme)
    texts = stdlib_functions[:300] + NON_ASCII_TEXTS
    csr = h.csr(texts, threads=1)
    assert csr.shape == (len(texts), 4096)
    assert np.all(np.diff(csr.indptr) >= 0)
    for i in range(len(texts)):
        row = csr.indices[csr.indptr[i]:csr.indptr[i + 1]]
        assert np.all(np.diff(row) > 0)  # sorted, no duplicates
    assert np.array_equal(h.counts(texts, threads=1), np.asarray(csr.sum(axis=0)).ravel())
    assert np.array_equal(h.counts(texts, threads=3), h.counts(texts, threads=1))
    w = np.random.default_rng(0).normal(size=4096)
    scores, totals = h.dot(texts, w, threads=1)
    np.testing.assert_allclose(scores, csr @ w, rtol=1e-12, atol=1e-9)
    assert np.array_equal(totals, np.asarray(csr.sum(axis=1)).ravel())
    assert np.array_equal(h.dot(texts, w, threads=4)[0], scores)
    assert np.array_equal(hashed_ngram_counts(texts, 2, 4096, scheme).toarray(), csr.toarray())


def test_memo_table_survives_more_distinct_ngrams_than_it_holds():
    # Over 600k distinct bigrams: the per-thread memo fills and is cleared; buckets stay exact.
    rng = random.Random(2)
    words = [f"w{rng.getrandbits(40):x}" for _ in range(700_000)]
    texts = [" ".join(words[i:i + 1000]) for i in range(0, len(words), 1000)]
    h = HashedNgrams(2, 10000, "compat")
    total = h.counts(texts, threads=2)
    sample = texts[::70]
    expected = sum(reference_counts(t, 2, 10000) for t in sample)
    assert np.array_equal(h.counts(sample, threads=1), expected)
    assert total.sum() == sum(2 * 1000 - 1 for _ in texts)


@pytest.mark.parametrize("kwargs, match", [
    ({"scheme": "sha"}, "scheme must be 'fast'"),
    ({"ngrams": 0}, r"ngrams must be an integer in \[1, 16\]"),
    ({"ngrams": 17}, r"ngrams must be an integer in \[1, 16\]"),
    ({"buckets": 0}, r"buckets must be an integer in \[1, 2147483648\]"),
    ({"buckets": 2.5}, "buckets must be an integer"),
])
def test_bad_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HashedNgrams(**kwargs)


def test_bad_texts_and_weights_are_refused():
    h = HashedNgrams(2, 100)
    with pytest.raises(TypeError, match="single str"):
        h.counts("one text")
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        h.counts(["a", 3])
    with pytest.raises(ValueError, match="weights must be a float64 vector of length buckets"):
        h.dot(["a"], np.zeros(99))
    with pytest.raises(ValueError, match="threads must be >= 0"):
        h.counts(["a"], threads=-1)
    with pytest.raises(ValueError, match="engine must be one of"):
        wordpunct_classes("pcre")


def test_ctrl_c_stops_a_long_featurisation_promptly(tmp_path):
    # Tens of millions of distinct 1..16-grams, each a SHA-256: many seconds of native work,
    # interrupted by SIGINT; the call raises KeyboardInterrupt soon after (generous bound).
    out = interrupt_script(tmp_path, """
        import os, sys
        from zipsift.ngram import HashedNgrams
        h = HashedNgrams(16, 10000, "compat")
        hexed = os.urandom(4_000_000).hex()
        text = " ".join(hexed[i:i + 6] for i in range(0, len(hexed), 6))
        texts = [text[i:i + 50_000] for i in range(0, len(text), 50_000)] * 4
        print("ready", flush=True)
        try:
            h.counts(texts, threads=2)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"
