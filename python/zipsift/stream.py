"""Streaming selection: batches of records, their text, and the bounded top-k / byte-budget walk
that every score-and-keep selector (ZIP-FIT, compression gain, DSIR's top-k, the engines) shares.

Bounded selection of the best items of a stream: top-k by count and/or by a byte budget.

Memory is bounded by k (or by the budget), never by the length of the stream. Order is by
descending score, ties broken by input order (the earlier item wins), so a selection does not
depend on how the stream was batched.
"""
from __future__ import annotations

import heapq
from contextlib import closing
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Union

import numpy as np

from .prefetch import prefetch
from .progress import Meter, OnProgress

Text = Union[str, bytes]


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


def batched(items: Iterable[Any], size: int) -> Iterator[list]:
    """Lists of up to ``size`` consecutive items."""
    it = iter(items)
    while True:
        batch = list(islice(it, size))
        if not batch:
            return
        yield batch


def record_text(record: Any, text_field: str, index: int) -> Text:
    """The text of a record: the record itself when it is str/bytes, else ``record[text_field]``."""
    if isinstance(record, (str, bytes)):
        return record
    try:
        text = record[text_field]
    except (KeyError, TypeError, IndexError):
        raise ValueError(
            f"record {index} has no field {text_field!r} (it is a {type(record).__name__}); "
            f"pass text_field= naming the field that holds the text") from None
    if not isinstance(text, (str, bytes)):
        raise ValueError(f"record {index}: field {text_field!r} is {type(text).__name__}, expected str or bytes")
    return text


def utf8_size(text: Text) -> int:
    """Bytes of ``text`` in UTF-8 (lone surrogates passed through, as the readers keep them)."""
    return len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))


def select_by_score(score: Callable[[List[Text]], np.ndarray], records: Iterable[Any], k: Optional[int],
                    budget_bytes: Optional[int], text_field: str, batch_size: int,
                    on_progress: Optional[OnProgress]) -> List[ScoredRecord]:
    """Score ``records`` batch by batch with ``score(texts) -> float64 (n,)`` and keep the best
    (``TopK``): the streaming loop every score-and-keep selector shares. The next batch is read on a
    background thread while the native scorer (GIL released) works on this one. ``on_progress(done,
    None)`` follows each batch with the records scored so far (zipsift.progress; False stops)."""
    validate_limits(k, budget_bytes)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    top = TopK(k=k, budget_bytes=budget_bytes)
    meter = Meter(on_progress)
    # closing(): on an error the reader thread stops now, not when the traceback is freed.
    with closing(prefetch(batched(records, batch_size))) as batches:
        for batch in batches:
            start = top.seen
            texts = [record_text(r, text_field, start + i) for i, r in enumerate(batch)]
            sizes = [utf8_size(t) for t in texts] if budget_bytes is not None else None
            top.offer(score(texts), batch, sizes)
            meter.add(len(batch))
    return top.result()
