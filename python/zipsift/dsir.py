"""DSIR: data selection with importance resampling over hashed n-grams (Xie et al., 2023).

Given target texts T and a raw pool R, fit two bag-of-hashed-n-grams distributions over B buckets,

    p_T[b] = c_T[b] / Σ c_T,        p_R[b] = c_R[b] / Σ c_R,

and weigh each pool text x by its log importance

    log w(x) = Σ_b h(x)_b · (log(p_T[b] + 1e-8) − log(p_R[b] + 1e-8)),

with h(x) its hashed n-gram counts (``zipsift.ngram``) and the 1e-8 smoothing of the reference
package ``data-selection``. Selection keeps K texts without replacement with probability ∝ w by
Gumbel top-k (keys log w(x_i) + G_i, G_i ~ Gumbel(0, 1)), or the K largest log w (``method="topk"``).
The noise G_i depends only on the seed and the record's position i in the stream, so a selection
does not depend on batch sizes or thread counts.

Length. log w is a sum over the text's n-grams, and an n-gram the targets never showed costs about
log(1e-8) − log p_R ≈ −9 nats, so log w falls roughly in proportion to length for any text that is
not made of the targets' own n-grams: on whole files it ranks the shortest first (Spearman −0.98
with length on CPython's stdlib against six test files; the top ten were 38–124-byte stubs). The
reference protocol avoids this by chunking every document to equal length (128 words) before
selection. zipsift's defaults do the same for whole documents:

``normalize="per_token"`` (default; ``"none"`` gives the plain sum)
    score(x) = chunk_tokens · log w(x) / tokens(x): the log importance of a ``chunk_tokens``-token
    piece (default 128, the reference's chunk length) with x's mean log-ratio per token, so no length
    is favoured and Gumbel noise weighs against the score as it does against a reference chunk's.
    On documents chunked to equal length it ranks as the sum does (a constant factor), so it is
    the reference protocol's score extended to documents of any length. Measured on a pool with six
    3%-minority target domains (bench/quality.py), the share of a 40 KB selection's bytes from the
    target domain rose from 0.02–1.00 (sum) to 0.78–1.00 (per token).
``min_example_length`` (default 100 tokens, the reference package's default)
    texts shorter than that are never selected; tokens are counted as the package counts them,
    (number of n-grams + n(n−1)/2) // n.
"""
from __future__ import annotations

from itertools import islice
from typing import Any, Iterable, List, Optional

import numpy as np

from .ngram import HashedNgrams, Text
from .progress import Meter, OnProgress
from .stream import ScoredRecord, TopK, batched, record_text, utf8_size, validate_limits

__all__ = ["DSIR", "gumbel_noise", "METHODS", "NORMALIZE", "MIN_EXAMPLE_LENGTH", "CHUNK_TOKENS"]

METHODS = ("gumbel", "topk")
NORMALIZE = ("none", "per_token")
MIN_EXAMPLE_LENGTH = 100  # tokens; data-selection's default
CHUNK_TOKENS = 128  # words per chunk in the DSIR paper's protocol
SMOOTHING = 1e-8  # data-selection: np.log(p + 1e-8)

_U64 = np.uint64


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + _U64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
        return x ^ (x >> _U64(31))


def gumbel_noise(seed: int, start: int, n: int) -> np.ndarray:
    """Gumbel(0, 1) noise of the records at stream positions start .. start+n−1: float64 (n,).

    G_i = −log(−log U_i), U_i = (top 53 bits of splitmix64(splitmix64(seed) + i) + 0.5) / 2^53, so
    U_i is in (0, 1) and depends only on (seed, i)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    base = _splitmix64(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=_U64))[0]
    with np.errstate(over="ignore"):
        index = np.arange(start, start + n, dtype=_U64) + base
    u = ((_splitmix64(index) >> _U64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)
    return -np.log(-np.log(u))


class DSIR:
    """Hashed n-gram importance resampling.

    Parameters
    ----------
    targets : iterable of str or bytes
        Target examples; p_T is fitted on all of them at construction.
    ngrams, buckets, scheme : the features (``zipsift.ngram.HashedNgrams``): 1..n-grams hashed into
        B buckets by the "fast" scheme (default) or the "compat" one (identical to data-selection).
    threads : worker threads, 0 = every core in the process's affinity mask.

    Use ``fit(raw)`` on (a sample of) the pool, then ``log_importance(texts)`` or ``select(records, k)``.
    """

    def __init__(self, targets: Iterable[Text], ngrams: int = 2, buckets: int = 10000, scheme: str = "fast",
                 threads: int = 0):
        self.featurizer = HashedNgrams(ngrams, buckets, scheme)
        self.threads = threads
        self.target_counts = np.zeros(self.featurizer.buckets, dtype=np.int64)
        n_targets = 0
        for batch in batched(targets, 4096):
            self.target_counts += self.featurizer.counts([record_text(t, "text", n_targets + i)
                                                          for i, t in enumerate(batch)], threads)
            n_targets += len(batch)
        if n_targets == 0:
            raise ValueError("targets is empty: DSIR fits the target distribution p_T on them, so give at least one")
        if self.target_counts.sum() == 0:
            raise ValueError("the targets hold no tokens (only whitespace?); p_T needs at least one n-gram")
        self.n_targets = n_targets
        self.raw_counts: Optional[np.ndarray] = None
        self.log_diff: Optional[np.ndarray] = None

    @property
    def ngrams(self) -> int:
        return self.featurizer.ngrams

    @property
    def buckets(self) -> int:
        return self.featurizer.buckets

    @property
    def scheme(self) -> str:
        return self.featurizer.scheme

    def fit(self, raw: Iterable[Any], text_field: str = "text", max_records: Optional[int] = None,
            batch_size: int = 4096, on_progress: Optional[OnProgress] = None) -> "DSIR":
        """Fit p_R on ``raw`` (str/bytes, or records whose ``text_field`` holds the text), streamed
        in batches; at most the first ``max_records`` when given. Sets ``raw_counts`` (int64 (B,))
        and ``log_diff`` = log(p_T + 1e-8) − log(p_R + 1e-8) (float64 (B,)). Returns self."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_records is not None:
            if isinstance(max_records, bool) or not isinstance(max_records, (int, np.integer)) or max_records < 1:
                raise ValueError(f"max_records must be a positive integer or None, got {max_records!r}")
            raw = islice(raw, max_records)
        counts = np.zeros(self.buckets, dtype=np.int64)
        seen = 0
        meter = Meter(on_progress)
        for batch in batched(raw, batch_size):
            counts += self.featurizer.counts([record_text(r, text_field, seen + i) for i, r in enumerate(batch)],
                                             self.threads)
            seen += len(batch)
            meter.add(len(batch))
        if seen == 0:
            raise ValueError("the raw sample is empty: fit p_R on at least one text of the pool")
        return self.fit_counts(counts)

    def fit_counts(self, counts: np.ndarray) -> "DSIR":
        """Fit p_R from raw n-gram counts Σ_x h(x) (int64 (B,)), summed over the pool by any means
        (``zipsift.engine.ray`` sums them across a cluster); the same model as ``fit`` on those texts."""
        counts = np.asarray(counts)
        if counts.shape != (self.buckets,) or counts.dtype.kind not in "iu":
            raise ValueError(f"counts must be an integer array of shape ({self.buckets},), "
                             f"got {counts.dtype} {counts.shape}")
        if counts.sum() == 0:
            raise ValueError("the raw sample holds no tokens (only whitespace?); p_R needs at least one n-gram")
        counts = counts.astype(np.int64)
        self.raw_counts = counts
        p_t = self.target_counts / self.target_counts.sum()
        p_r = counts / counts.sum()
        self.log_diff = np.log(p_t + SMOOTHING) - np.log(p_r + SMOOTHING)
        return self

    def _check_fitted(self) -> None:
        if self.log_diff is None:
            raise RuntimeError("DSIR is not fitted: call fit(raw) with (a sample of) the pool first")

    def log_importance(self, texts: Iterable[Text]) -> np.ndarray:
        """log w(x) = Σ_b h(x)_b · log_diff[b] for every text: float64 array of shape (n,)."""
        self._check_fitted()
        texts = texts if isinstance(texts, (list, tuple)) else list(texts)
        return self.featurizer.dot(texts, self.log_diff, self.threads)[0]

    def ranking(self, texts: List[Text], noise: Optional[np.ndarray] = None, normalize: str = "per_token",
                chunk_tokens: int = CHUNK_TOKENS, min_example_length: int = MIN_EXAMPLE_LENGTH):
        """(keys, scores, eligible) of ``texts`` as ``select`` ranks them: float64 (n,), float64 (n,), bool (n,).

        scores = log w (``normalize="none"``) or chunk_tokens · log w / tokens (``"per_token"``);
        keys = scores + ``noise`` (Gumbel noise for sampling, None for top-k); eligible = at least
        ``min_example_length`` tokens (and, per token, at least one)."""
        self._check_fitted()
        log_w, totals = self.featurizer.dot(texts, self.log_diff, self.threads)
        n = self.ngrams
        tokens = (totals + n * (n - 1) // 2) // n
        eligible = tokens >= min_example_length
        if normalize == "per_token":
            eligible &= tokens > 0
            scores = chunk_tokens * log_w / np.maximum(tokens, 1)
        else:
            scores = log_w
        keys = scores if noise is None else scores + noise
        return keys, scores, eligible

    @staticmethod
    def check_options(method: str = "gumbel", seed: int = 0, normalize: str = "per_token",
                      chunk_tokens: int = CHUNK_TOKENS, min_example_length: int = MIN_EXAMPLE_LENGTH) -> None:
        """Raise ValueError on a bad selection option (what ``select`` accepts)."""
        if method not in METHODS:
            raise ValueError(f"method must be 'gumbel' (sample ∝ importance, DSIR's default) or 'topk' "
                             f"(the largest importance), got {method!r}")
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be 'none' (log w, the sum over the text's n-grams) or 'per_token' "
                             f"(log w per token, scaled to chunk_tokens), got {normalize!r}")
        gumbel_noise(seed, 0, 0)  # validates the seed before any work
        for name, value, low in (("min_example_length", min_example_length, 0), ("chunk_tokens", chunk_tokens, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low} (tokens), got {value!r}")

    def select(self, records: Iterable[Any], k: Optional[int] = None, budget_bytes: Optional[int] = None,
               text_field: str = "text", batch_size: int = 4096, on_progress: Optional[OnProgress] = None,
               method: str = "gumbel", seed: int = 0, min_example_length: int = MIN_EXAMPLE_LENGTH,
               normalize: str = "per_token", chunk_tokens: int = CHUNK_TOKENS) -> List[ScoredRecord]:
        """Stream ``records`` and keep K of them by importance.

        ``method="gumbel"`` samples without replacement ∝ w (top-K of the score + Gumbel noise that
        depends only on ``seed`` and the record's position); ``"topk"`` keeps the largest scores.
        Limits as in ``ZipFit.select``: at most ``k`` records and/or ``budget_bytes`` bytes of UTF-8
        text (the ranking is walked until the next record would overspend the budget). Memory is
        bounded by k (or the budget) and ``batch_size``, not by the number of records.

        ``min_example_length`` (default 100, as data-selection) leaves out texts shorter than that
        many tokens, measured as the package does: (number of n-grams + n(n−1)/2) // n. Give 0 to
        make every text eligible. ``normalize`` = "per_token" (default: score = ``chunk_tokens`` ·
        log w / tokens) or "none" (score = log w, the sum; see the module docstring for why it is not
        the default).

        Returns ``ScoredRecord(record, score, index)`` in the order of the sampling keys (best
        first); ties are broken by input order. ``on_progress(done, None)`` follows each scored
        batch (zipsift.progress).
        """
        self._check_fitted()
        validate_limits(k, budget_bytes)
        self.check_options(method, seed, normalize, chunk_tokens, min_example_length)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        top = TopK(k=k, budget_bytes=budget_bytes)
        meter = Meter(on_progress)
        for batch in batched(records, batch_size):
            start = top.seen
            texts = [record_text(r, text_field, start + i) for i, r in enumerate(batch)]
            noise = gumbel_noise(seed, start, len(batch)) if method == "gumbel" else None
            keys, scores, eligible = self.ranking(texts, noise, normalize, chunk_tokens, min_example_length)
            # An ineligible text ranks below every eligible one and is dropped below; TopK still
            # counts it, so indices stay positions in the stream.
            keys = np.where(eligible, keys, -np.inf)
            sizes = [utf8_size(t) for t in texts] if budget_bytes is not None else None
            # TopK ranks by key; the kept item carries its score back out.
            top.offer(keys, list(zip(batch, scores.tolist())), sizes)
            meter.add(len(batch))
        return [ScoredRecord(item[0], item[1], index) for item, key, index in top.result() if key != -np.inf]

    def __repr__(self) -> str:
        fitted = "fitted" if self.log_diff is not None else "not fitted"
        return (f"DSIR(ngrams={self.ngrams}, buckets={self.buckets}, scheme={self.scheme!r}, "
                f"targets={self.n_targets}, {fitted})")
