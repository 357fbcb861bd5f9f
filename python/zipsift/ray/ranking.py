"""The ranked prefix that TopK keeps, computed on arrays with an explicit global order, so that the
top of every block and a merge of those tops give exactly the single-machine selection.

Why a merge of per-block tops is exact: the single-machine selection is the longest prefix P of the
global ranking (key descending, then input order ascending) with at most k items and at most B
bytes (the budget walk stops at the first item that would overspend; ``zipsift.topk.TopK``). The
items of one block that are in P form a prefix of that block's own ranking and fit the same limits,
so they are inside the block's own longest prefix. Hence P ⊆ ∪ block prefixes, and the longest
prefix of the union's ranking is P again. The same argument lets the driver fold blocks in as they
arrive and compact whenever it likes.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def ranked_prefix(keys: np.ndarray, files: np.ndarray, ordinals: np.ndarray, sizes: Optional[np.ndarray],
                  k: Optional[int], budget_bytes: Optional[int]) -> np.ndarray:
    """Indices (int64, best first) of the longest prefix of the ranking that holds at most ``k``
    items and at most ``budget_bytes`` bytes.

    keys: float64 (n,), higher is better. files, ordinals: int64 (n,), the record's place in the
    input (file index in the order the sources were expanded, position among that file's records);
    an earlier record wins a tie. sizes: int64 (n,) UTF-8 bytes of each text, needed with a budget.
    """
    keys = np.asarray(keys, dtype=np.float64)
    if np.isnan(keys).any():
        raise ValueError("a score is NaN; scores must be comparable to rank records")
    order = np.lexsort((np.asarray(ordinals), np.asarray(files), -keys))
    n = len(order) if k is None else min(int(k), len(order))
    if budget_bytes is not None:
        if sizes is None:
            raise ValueError("sizes are needed when selecting under budget_bytes")
        spent = np.cumsum(np.asarray(sizes, dtype=np.int64)[order[:n]])
        # The walk stops before the first record that would overspend; nothing after it gets in.
        over = np.flatnonzero(spent > budget_bytes)
        if len(over):
            n = int(over[0])
    return order[:n]
