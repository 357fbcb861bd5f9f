"""Bounded selection of the best items of a stream: top-k by count and/or by a byte budget.

Memory is bounded by k (or by the budget), never by the length of the stream. Order is by
descending score, ties broken by input order (the earlier item wins), so a selection does not
depend on how the stream was batched.
"""
from __future__ import annotations

import heapq
from typing import Any, List, NamedTuple, Optional, Sequence

import numpy as np


class ScoredRecord(NamedTuple):
    """A kept item: the record as given, its score, and its 0-based position in the input stream."""

    record: Any
    score: float
    index: int


def validate_limits(k: Optional[int], budget_bytes: Optional[int]) -> None:
    """Raise ValueError unless at least one of k and budget_bytes is a non-negative integer."""
    if k is None and budget_bytes is None:
        raise ValueError("give k (how many records to keep) or budget_bytes (how many bytes of text), or both")
    for name, value in (("k", k), ("budget_bytes", budget_bytes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


class TopK:
    """Keeps the prefix of the ranking (score descending, input order ascending) that holds at most
    ``k`` items and at most ``budget_bytes`` bytes.

    The budget is a walk down the ranked list that stops before the first item that would overspend
    it, as in ZIP-FIT's "top tokens" selection: an item is dropped as soon as the better items kept
    with it already exceed the budget, which no later item can undo. Everything ranked below a
    dropped item is out too (the walk stopped there), which ``_cutoff`` enforces: without it a
    smaller, worse item could slip in behind a larger one that did not fit.
    """

    def __init__(self, k: Optional[int] = None, budget_bytes: Optional[int] = None):
        validate_limits(k, budget_bytes)
        self.k = k
        self.budget_bytes = budget_bytes
        # Min-heap of (score, -index, size, record): the root is the worst kept item.
        self._heap: List[tuple] = []
        self._bytes = 0
        self._cutoff: Optional[tuple] = None  # (score, -index) of the best item dropped so far
        self.seen = 0

    def offer(self, scores: np.ndarray, records: Sequence[Any], sizes: Optional[Sequence[int]] = None) -> None:
        """Offer a batch in stream order. ``sizes`` (bytes per record) is needed with a budget."""
        scores = np.asarray(scores, dtype=np.float64)
        if len(scores) != len(records):
            raise ValueError(f"{len(scores)} scores for {len(records)} records")
        if self.budget_bytes is not None and sizes is None:
            raise ValueError("sizes are needed when selecting under budget_bytes")
        if np.isnan(scores).any():
            raise ValueError("a score is NaN; scores must be comparable to rank records")
        start = self.seen
        self.seen += len(records)
        candidates = range(len(records))
        if self.budget_bytes is None and self.k is not None and len(self._heap) >= self.k:
            if self.k == 0:
                return
            # The threshold only rises while the heap is full, and a tie loses to the earlier item,
            # so anything not strictly above the current worst can never be kept.
            candidates = np.flatnonzero(scores > self._heap[0][0]).tolist()
        heap = self._heap
        for i in candidates:
            entry = (float(scores[i]), -(start + i), int(sizes[i]) if sizes is not None else 0, records[i])
            if self._cutoff is not None and entry[:2] < self._cutoff:
                continue
            heapq.heappush(heap, entry)
            self._bytes += entry[2]
            while heap and ((self.k is not None and len(heap) > self.k) or
                            (self.budget_bytes is not None and self._bytes > self.budget_bytes)):
                dropped = heapq.heappop(heap)
                self._bytes -= dropped[2]
                # Every item still kept ranks above the dropped one, so the cutoff only rises.
                self._cutoff = dropped[:2]

    @property
    def kept_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._heap)

    def result(self) -> List[ScoredRecord]:
        """The kept items, best first."""
        ordered = sorted(self._heap, key=lambda e: (-e[0], -e[1]))
        return [ScoredRecord(record, score, -neg_index) for score, neg_index, _, record in ordered]
