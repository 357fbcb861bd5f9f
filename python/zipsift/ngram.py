"""Hashed n-gram features (DSIR, Xie et al. 2023), computed in the native core.

A text x becomes a count vector h(x) over B buckets: lowercase x, split it into tokens, take its
1..n-grams, and add one to the bucket of each. Texts are ``str`` or UTF-8 ``bytes``; every call takes
``threads`` (0 = every core in this process's affinity mask), releases the GIL and stops on Ctrl-C.
Counts come out summed over many texts (``counts``), dotted with a B-vector (``dot``), or as a
sparse CSR matrix (``csr``): never as a dense n x B matrix.

Schemes
-------
``"fast"`` (default)
    ASCII lowercasing (other bytes unchanged); a token is a maximal run of word bytes
    (``[0-9A-Za-z_]`` and every byte >= 0x80, so a UTF-8 word stays whole) or of punctuation bytes
    (any other byte except ASCII whitespace ``\\t\\n\\v\\f\\r`` and space). Each token is hashed by
    our 64-bit hash (8-byte multiply-rotate rounds finished by murmur3's fmix64), an n-gram folds
    its tokens' hashes in order, and its bucket is ``(fmix64(fold ^ salt_n) * B) >> 64``.
``"compat"``
    Exactly the ``data-selection`` package's ``get_ngram_counts``: ``text.lower()``, NLTK's
    ``WordPunctTokenizer`` (``\\w+|[^\\w\\s]+``), n-grams joined by one space, bucket =
    ``int(hashlib.sha256(ngram.encode("utf-8")).hexdigest(), 16) % B``. The classes ``\\w`` and
    ``\\s`` are read from the regex engine NLTK uses (``regex`` in NLTK releases that compile
    through ``nltk.redos``, such as 3.10; ``re`` before), so non-ASCII text matches too. The two
    engines disagree even on ASCII: ``regex`` takes the separators ``\\x1c-\\x1f`` as punctuation,
    ``re`` as whitespace. Without NLTK installed, ``re``'s classes are used. SHA-256 is our own
    (tested against hashlib); each thread memoises n-gram -> bucket in a bounded table.
"""
from __future__ import annotations

import functools
import importlib.util
import os
from typing import Iterable, Sequence, Tuple, Union

import numpy as np

from . import _core

Text = Union[str, bytes]

__all__ = ["SCHEMES", "HashedNgrams", "hashed_ngram_counts", "wordpunct_classes"]

SCHEMES = ("fast", "compat")
_ENGINES = ("auto", "re", "regex")


def _nltk_engine() -> str:
    """The regex engine NLTK's WordPunctTokenizer compiles with: "regex" when the installed NLTK has
    nltk/redos.py (it compiles tokenizer patterns with `regex` through it), else "re". Looked up
    without importing NLTK, which is slow and large."""
    spec = importlib.util.find_spec("nltk")
    if spec is None or not spec.submodule_search_locations:
        return "re"
    return "regex" if any(os.path.exists(os.path.join(d, "redos.py")) for d in spec.submodule_search_locations) else "re"


@functools.lru_cache(maxsize=None)
def wordpunct_classes(engine: str = "auto") -> np.ndarray:
    """The class of every code point in ``\\w+|[^\\w\\s]+``: uint8 array of shape (0x110000,),
    0 = neither (punctuation), 1 = ``\\w``, 2 = ``\\s``. ``engine`` is ``"re"``, ``"regex"`` or
    ``"auto"`` (the one NLTK uses; ``re`` without NLTK). Built once per process (~0.3 s)."""
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {_ENGINES}, got {engine!r}")
    if engine == "auto":
        engine = _nltk_engine()
    if engine == "regex":
        try:
            import regex as module
        except ImportError:
            raise ImportError('the compat scheme follows NLTK, which tokenizes with the `regex` package: '
                              'pip install regex (or pip install "zipsift[bench]")') from None
        flags = module.UNICODE | module.MULTILINE | module.DOTALL | module.V0
    else:
        import re as module
        flags = module.UNICODE | module.MULTILINE | module.DOTALL
    # Every code point once (surrogates are not text), then the runs of \w and of \s in it.
    points = np.concatenate([np.arange(0xD800, dtype="<u4"), np.arange(0xE000, 0x110000, dtype="<u4")])
    chars = points.tobytes().decode("utf-32-le")
    table = np.zeros(0x110000, dtype=np.uint8)
    for cls, pattern in ((1, r"\w+"), (2, r"\s+")):
        for m in module.compile(pattern, flags).finditer(chars):
            table[points[m.start():m.end()]] = cls
    table.flags.writeable = False
    return table


class HashedNgrams:
    """Hashed 1..n-gram counts of texts into ``buckets`` buckets (see the module docstring).

    Parameters
    ----------
    ngrams : int, 1..16
        Largest n: 2 (the default, DSIR's) counts unigrams and bigrams.
    buckets : int, 1..2^31
        B, the length of a feature vector (DSIR's default 10,000).
    scheme : "fast" or "compat"
    """

    def __init__(self, ngrams: int = 2, buckets: int = 10000, scheme: str = "fast"):
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be 'fast' (our hash, the default) or 'compat' (exactly the "
                             f"data-selection package), got {scheme!r}")
        for name, value, high in (("ngrams", ngrams, 16), ("buckets", buckets, 1 << 31)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= high:
                raise ValueError(f"{name} must be an integer in [1, {high}], got {value!r}")
        classes = wordpunct_classes() if scheme == "compat" else None
        self._core = _core.NgramHasher(int(ngrams), int(buckets), scheme, classes)
        self.ngrams = int(ngrams)
        self.buckets = int(buckets)
        self.scheme = scheme

    def counts(self, texts: Sequence[Text], threads: int = 0) -> np.ndarray:
        """Σ_x h(x): int64 array of shape (buckets,)."""
        return self._core.counts(texts, threads)

    def dot(self, texts: Sequence[Text], weights: np.ndarray, threads: int = 0) -> Tuple[np.ndarray, np.ndarray]:
        """(h(x_i) · weights, Σ_b h(x_i)_b) for every text: float64 (n,) and int64 (n,).

        ``weights`` is a float64 vector of shape (buckets,)."""
        return self._core.dot(texts, weights, threads)

    def csr(self, texts: Sequence[Text], threads: int = 0):
        """h(x_i) as the rows of a ``scipy.sparse.csr_matrix`` of shape (n, buckets), int32 counts,
        sorted column indices."""
        try:
            import scipy.sparse
        except ImportError:
            raise ImportError('sparse n-gram counts need scipy: pip install "zipsift[sparse]"') from None
        indptr, indices, data = self._core.csr(texts, threads)
        return scipy.sparse.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, self.buckets))

    def buckets_of(self, text: Text) -> list:
        """The bucket of every n-gram of one text: unigrams in order, then bigrams, ..."""
        return self._core.buckets_of(text)

    def __repr__(self) -> str:
        return f"HashedNgrams(ngrams={self.ngrams}, buckets={self.buckets}, scheme={self.scheme!r})"


def hashed_ngram_counts(texts: Iterable[Text], ngrams: int = 2, buckets: int = 10000, scheme: str = "fast",
                        threads: int = 0):
    """Hashed n-gram counts of ``texts`` as a ``scipy.sparse.csr_matrix`` of shape (n, buckets)."""
    texts = texts if isinstance(texts, (list, tuple)) else list(texts)
    return HashedNgrams(ngrams, buckets, scheme).csr(texts, threads)
