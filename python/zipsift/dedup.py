"""Deciding which texts are duplicates: exact, normalised text, or near-duplicate by NCD.

The NCD rule links two texts when NCD is at most ``threshold`` in *both* orders
(max(NCD(a, b), NCD(b, a)) <= threshold), plus any two texts that are byte-for-byte equal, and takes
connected components (single linkage) as the groups, so the grouping does not depend on the order
of the texts. NCD comes from the native core (``zipsift.ncd_matrix``); memory and time are O(n²) in
the number of texts grouped at once, so group small sets (one question's solutions, one document's
inferences), not a corpus.
"""
from __future__ import annotations

import math
import re
from typing import List, Optional, Sequence

import numpy as np

from .ncd import ncd_matrix
from .params import DEFAULT_CODEC

__all__ = ["UNIQUE_RULES", "normalize_text", "duplicate_groups", "unique_count"]

UNIQUE_RULES = ("exact", "normalized", "ncd")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Lowercase, collapse every run of whitespace to one space, strip the ends."""
    return _SPACE.sub(" ", text).strip().lower()


def _check_rule(unique: str, threshold) -> None:
    if unique not in UNIQUE_RULES:
        raise ValueError(f"unique must be one of {UNIQUE_RULES}, got {unique!r}")
    if unique == "ncd":
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold) \
                or not 0 <= threshold < 1:
            raise ValueError(f"threshold must be a number in [0, 1) for unique='ncd' (NCD at or below it means "
                             f"near-duplicate), got {threshold!r}")


def duplicate_groups(texts: Sequence[str], unique: str = "exact", threshold: float = 0.25,
                     codec: str = DEFAULT_CODEC, level: Optional[int] = None, threads: int = 0) -> np.ndarray:
    """Group label of each text: int64 array of shape (n,).

    ``labels[i]`` is the index of the first text of i's group, so ``labels[i] == i`` marks the first
    occurrence and ``np.unique(labels).size`` is the number of distinct texts. ``unique`` is "exact"
    (equal strings), "normalized" (equal after ``normalize_text``) or "ncd" (near-duplicates as in the
    module docstring, with ``threshold``, ``codec`` and ``level`` passed to the NCD).
    """
    _check_rule(unique, threshold)
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"text {i} is {type(t).__name__}, expected str")
    n = len(texts)
    if unique in ("exact", "normalized"):
        keys = texts if unique == "exact" else [normalize_text(t) for t in texts]
        first = {}
        return np.array([first.setdefault(key, i) for i, key in enumerate(keys)], dtype=np.int64)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n > 1:
        d = ncd_matrix(texts, texts, codec=codec, level=level, threads=threads)
        close = np.maximum(d, d.T) <= threshold
        for i, j in zip(*np.nonzero(np.triu(close, 1))):
            a, b = find(int(i)), find(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
        first = {}
        for i, t in enumerate(texts):  # equal texts are duplicates whatever the threshold
            j = first.setdefault(t, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def unique_count(texts: Sequence[str], unique: str = "exact", threshold: float = 0.25, **ncd_options) -> int:
    """Number of distinct texts under the rule of ``duplicate_groups``."""
    texts = list(texts)
    if not texts:
        _check_rule(unique, threshold)
        return 0
    return int(np.unique(duplicate_groups(texts, unique, threshold, **ncd_options)).size)
