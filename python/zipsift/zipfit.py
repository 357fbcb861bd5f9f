"""ZIP-FIT selection (Obbad, Miranda et al. 2024): keep the candidates whose compression is most
aligned with a target set.

alignment(x, T) = 1 − (1/|T|) Σ_{y∈T} NCD(x, y), computed exactly by the native core; see
``zipsift.ncd`` for what C(·) equals for each codec.
"""
from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Iterable, Iterator, List, Optional

import numpy as np

from .ncd import TargetSet, Text
from .topk import ScoredRecord, TopK, validate_limits

__all__ = ["ZipFit", "ScoredRecord", "record_text", "batched", "select_by_score"]


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


def _utf8_size(text: Text) -> int:
    return len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))


class ZipFit:
    """Rank documents by ZIP-FIT alignment with ``targets`` and keep the best.

    Parameters
    ----------
    targets : sequence of str or bytes
        The target examples (e.g. a few hundred items of the task to fine-tune for).
    codec, level : the compressor; gzip level 9 is the exact published setting.
    threads : worker threads, 0 = every core in the process's affinity mask.
    """

    def __init__(self, targets: Iterable[Text], codec: str = "gzip", level: int = 9, threads: int = 0):
        self._targets = TargetSet(list(targets), codec=codec, level=level, threads=threads)
        self.codec = codec
        self.level = level
        self.threads = threads

    @property
    def n_targets(self) -> int:
        return len(self._targets)

    def scores(self, texts: Iterable[Text]) -> np.ndarray:
        """Alignment of each text with the targets: float64 array of shape (n,)."""
        return self._targets.alignment(texts if isinstance(texts, (list, tuple)) else list(texts))

    def select(self, records: Iterable[Any], k: Optional[int] = None, budget_bytes: Optional[int] = None,
               text_field: str = "text", batch_size: int = 4096,
               on_batch: Optional[Callable[[int], None]] = None) -> List[ScoredRecord]:
        """Stream ``records`` and keep the most aligned ones.

        ``records`` is any iterable of str/bytes or of dict-like records whose ``text_field`` holds
        the text. Keeps at most ``k`` records and/or at most ``budget_bytes`` bytes of UTF-8 text
        (the ranked list is walked until the next record would overspend the budget). Memory is
        bounded by k (or the budget) and ``batch_size``, not by the number of records.

        Returns a list of ``ScoredRecord(record, score, index)`` in descending score; ties are
        broken by input order. ``on_batch(n)`` is called after each batch of n records is scored.
        """
        return select_by_score(self._targets.alignment, records, k, budget_bytes, text_field, batch_size, on_batch)


def select_by_score(score: Callable[[List[Text]], np.ndarray], records: Iterable[Any], k: Optional[int],
                    budget_bytes: Optional[int], text_field: str, batch_size: int,
                    on_batch: Optional[Callable[[int], None]]) -> List[ScoredRecord]:
    """Score ``records`` batch by batch with ``score(texts) -> float64 (n,)`` and keep the best
    (``TopK``): the streaming loop every score-and-keep selector shares."""
    validate_limits(k, budget_bytes)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    top = TopK(k=k, budget_bytes=budget_bytes)
    for batch in batched(records, batch_size):
        start = top.seen
        texts = [record_text(r, text_field, start + i) for i, r in enumerate(batch)]
        sizes = [_utf8_size(t) for t in texts] if budget_bytes is not None else None
        top.offer(score(texts), batch, sizes)
        if on_batch is not None:
            on_batch(len(batch))
    return top.result()
