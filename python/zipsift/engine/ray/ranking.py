"""The ranked prefix that TopK keeps, computed on arrays with an explicit global order, so that the
top of every block and a merge of those tops give exactly the single-machine selection.

The single-machine selection is the longest prefix P of the global ranking (key descending, then
input order ascending) with at most k items and at most B bytes: the budget walk stops at the first
item that would overspend, and nothing ranked below that item gets in (``zipsift.stream.TopK``'s
cutoff). Per block we keep the block's own longest prefix and its *stop*: the first item of the
block's ranking that did not fit. Why the merge is exact:

* the stop c_b of block b does not fit globally either (everything ranked above it in b is ranked
  above it globally too), so the global walk ends at or before the best stop c* = min_b c_b;
* every item ranked above c* is ranked above each c_b, so it is in its block's prefix — the union
  of the block prefixes holds all of the global ranking above c*, in the same order.

So P = the longest fitting prefix of the union's ranking, cut before c*. The driver folds blocks in
as they arrive and compacts with the same function, its own stop joining the others.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

# A rank: (-key, file, ordinal); smaller is better. A stop excludes itself and everything after it.
Rank = Tuple[float, int, int]


def ranked_prefix(keys: np.ndarray, files: np.ndarray, ordinals: np.ndarray, sizes: Optional[np.ndarray],
                  k: Optional[int], budget_bytes: Optional[int],
                  stop: Optional[Rank] = None) -> Tuple[np.ndarray, Optional[Rank]]:
    """(indices of the kept items, int64 best first; the stop) for the longest prefix of the ranking
    that holds at most ``k`` items and at most ``budget_bytes`` bytes and is ranked above ``stop``.

    keys: float64 (n,), higher is better. files, ordinals: int64 (n,), the record's place in the
    input (file index in the order the sources were expanded, position among that file's records);
    an earlier record wins a tie. sizes: int64 (n,) UTF-8 bytes of each text, needed with a budget.
    The returned stop is the rank of the first item that did not fit, or the given ``stop`` when
    that is better, or None when everything fits and no stop was given.
    """
    keys = np.asarray(keys, dtype=np.float64)
    files = np.asarray(files, dtype=np.int64)
    ordinals = np.asarray(ordinals, dtype=np.int64)
    if np.isnan(keys).any():
        raise ValueError("a score is NaN; scores must be comparable to rank records")
    if budget_bytes is not None and sizes is None:
        raise ValueError("sizes are needed when selecting under budget_bytes")
    order = np.lexsort((ordinals, files, -keys))
    n = len(order)
    if stop is not None:  # items at or below the stop are out, whatever their size
        n = int(np.count_nonzero(_ranked_above(keys, files, ordinals, stop)))
    if k is not None:
        n = min(int(k), n)
    if budget_bytes is not None:
        spent = np.cumsum(np.asarray(sizes, dtype=np.int64)[order[:n]])
        over = np.flatnonzero(spent > budget_bytes)
        if len(over):
            n = int(over[0])
    if n < len(order):
        i = order[n]
        first_out = (-float(keys[i]), int(files[i]), int(ordinals[i]))
        stop = first_out if stop is None or first_out < stop else stop
    return order[:n], stop


def _ranked_above(keys: np.ndarray, files: np.ndarray, ordinals: np.ndarray, stop: Rank) -> np.ndarray:
    neg_key, file, ordinal = stop
    neg = -keys
    return (neg < neg_key) | ((neg == neg_key) & ((files < file) | ((files == file) & (ordinals < ordinal))))


def better_stop(a: Optional[Rank], b: Optional[Rank]) -> Optional[Rank]:
    """The better (earlier) of two stops, None meaning no stop."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
