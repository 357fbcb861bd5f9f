"""A seeded uniform sample of a stream of records, the same on one machine and on a cluster.

Each record gets a key that depends only on the seed and its position in the stream (the Gumbel
noise of ``dsir.gumbel_noise``: i.i.d. for distinct positions); the sample is the N records with
the largest keys — a uniform sample without replacement — returned in input order. Since a key
needs nothing but the position, a cluster that knows each split's first position draws the same
sample by keeping each split's N largest keys and merging them (``zipsift.engine.ray``).
"""
from __future__ import annotations

from typing import Any, Iterable, List

import numpy as np

from .dsir import gumbel_noise
from .stream import batched


def sample_keys(seed: int, start: int, n: int) -> np.ndarray:
    """Keys of the records at stream positions start .. start+n−1: float64 (n,)."""
    return gumbel_noise(seed, start, n)


def top_positions(keys: np.ndarray, positions: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest keys (an earlier position wins a tie), in input order."""
    if len(keys) <= n:
        return np.argsort(positions, kind="stable")
    order = np.lexsort((positions, -keys))[:n]
    return order[np.argsort(positions[order], kind="stable")]


def seeded_sample(records: Iterable[Any], n: int, seed: int = 0, batch_size: int = 4096) -> List[Any]:
    """The ``n`` records of ``records`` with the largest ``sample_keys(seed, position)``, in input
    order (all of them when there are fewer). Memory: n records plus one batch."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer (records in the sample), got {n!r}")
    sample_keys(seed, 0, 0)  # checks the seed
    kept: List[Any] = []
    keys = np.empty(0, np.float64)
    positions = np.empty(0, np.int64)
    seen = 0
    for batch in batched(records, batch_size):
        kept += batch
        keys = np.concatenate([keys, sample_keys(seed, seen, len(batch))])
        positions = np.concatenate([positions, np.arange(seen, seen + len(batch), dtype=np.int64)])
        seen += len(batch)
        if len(kept) > n:
            pick = top_positions(keys, positions, n)
            kept = [kept[i] for i in pick]
            keys, positions = keys[pick], positions[pick]
    return kept
