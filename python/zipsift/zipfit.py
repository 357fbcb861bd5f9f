"""ZIP-FIT selection (Obbad, Miranda et al. 2024): keep the candidates whose compression is most
aligned with a target set.

alignment(x, T) = 1 − (1/|T|) Σ_{y∈T} NCD(x, y), computed exactly by the native core; see
``zipsift.ncd`` for what C(·) equals for each codec.

Exact alignment prefers short documents: 1 − NCD(x, y) ≤ min(C(x), C(y)) / max(C(x), C(y)), so a
document much longer than the targets is capped whatever it says. ``length_fair=True`` scores the
residual against the alignment a document of the same length gets from the pool,

    score(x) = alignment(x, T) − ā(ln |x|),

where ā is fitted on a sample of the pool (``fit_length_baseline``): the sample, sorted by length,
is cut into ``length_bins`` bins of equal count, and ā interpolates linearly between the bins'
(mean ln |x|, mean alignment), constant beyond the first and last bin. |x| is the UTF-8 length.
"""
from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Iterable, List, Optional

import numpy as np

from .ncd import TargetSet, Text
from .stream import ScoredRecord, batched, record_text, select_by_score, utf8_size

__all__ = ["ZipFit"]


class ZipFit:
    """Rank documents by ZIP-FIT alignment with ``targets`` and keep the best.

    Parameters
    ----------
    targets : sequence of str or bytes
        The target examples (e.g. a few hundred items of the task to fine-tune for).
    codec, level : the compressor; gzip level 9 is the exact published setting (the reference code's
        current default is lz4 level 0: ``codec="lz4"``). ``level=None`` is the codec's default
        (see ``zipsift.ncd``).
    threads : worker threads, 0 = every core in the process's affinity mask.
    length_fair : score alignment minus the pool's mean alignment at the same length (see the module
        docstring); needs ``fit_length_baseline`` on a sample of the pool first. Default False: the
        published ZIP-FIT score.
    length_bins : equal-count length bins of the baseline (default 16).
    """

    def __init__(self, targets: Iterable[Text], codec: str = "gzip", level: Optional[int] = None, threads: int = 0,
                 length_fair: bool = False, length_bins: int = 16):
        if not isinstance(length_fair, bool):
            raise ValueError(f"length_fair must be True or False, got {length_fair!r}")
        if isinstance(length_bins, bool) or not isinstance(length_bins, (int, np.integer)) or length_bins < 1:
            raise ValueError(f"length_bins must be a positive integer, got {length_bins!r}")
        self._targets = TargetSet(list(targets), codec=codec, level=level, threads=threads)
        self.codec = codec
        self.level = self._targets.level
        self.threads = threads
        self.length_fair = length_fair
        self.length_bins = int(length_bins)
        # The baseline ā: knots (mean ln length, mean alignment) of the bins, set by fit_length_baseline.
        self.length_knots: Optional[np.ndarray] = None
        self.baseline_alignment: Optional[np.ndarray] = None

    @property
    def n_targets(self) -> int:
        return len(self._targets)

    def alignment(self, texts: Iterable[Text]) -> np.ndarray:
        """Exact ZIP-FIT alignment of each text with the targets: float64 array of shape (n,)."""
        return self._targets.alignment(texts if isinstance(texts, (list, tuple)) else list(texts))

    def fit_length_baseline(self, records: Iterable[Any], text_field: str = "text",
                            max_records: Optional[int] = None, batch_size: int = 4096,
                            on_batch: Optional[Callable[[int], None]] = None) -> "ZipFit":
        """Fit ā, the pool's mean alignment as a function of ln length, on ``records`` (the first
        ``max_records`` when given). Sets ``length_knots`` (mean ln |x| per bin) and
        ``baseline_alignment`` (mean alignment per bin), float64 arrays of shape (bins,). Returns self."""
        if max_records is not None:
            if isinstance(max_records, bool) or not isinstance(max_records, (int, np.integer)) or max_records < 1:
                raise ValueError(f"max_records must be a positive integer or None, got {max_records!r}")
            records = islice(records, max_records)
        lengths: List[np.ndarray] = []
        aligned: List[np.ndarray] = []
        seen = 0
        for batch in batched(records, batch_size):
            texts = [record_text(r, text_field, seen + i) for i, r in enumerate(batch)]
            seen += len(texts)
            lengths.append(np.array([utf8_size(t) for t in texts], dtype=np.float64))
            aligned.append(self._targets.alignment(texts))
            if on_batch is not None:
                on_batch(len(batch))
        if seen < self.length_bins:
            raise ValueError(f"the length baseline needs at least length_bins={self.length_bins} texts of the pool, "
                             f"got {seen}; give a larger sample or fewer bins")
        size, score = np.concatenate(lengths), np.concatenate(aligned)
        if (size == 0).any():
            raise ValueError(f"text {int(np.flatnonzero(size == 0)[0])} of the length sample is empty; "
                             f"a length baseline needs non-empty texts")
        order = np.lexsort((np.arange(len(size)), size))  # by length, ties by input order
        bins = np.array_split(order, self.length_bins)
        self.length_knots = np.array([np.log(size[b]).mean() for b in bins])
        self.baseline_alignment = np.array([score[b].mean() for b in bins])
        return self

    def length_baseline(self, sizes: np.ndarray) -> np.ndarray:
        """ā(ln |x|) for UTF-8 lengths ``sizes``: float64 array of the same shape."""
        if self.length_knots is None:
            raise RuntimeError("the length baseline is not fitted: call fit_length_baseline(pool sample) first")
        return np.interp(np.log(np.asarray(sizes, dtype=np.float64)), self.length_knots, self.baseline_alignment)

    def scores(self, texts: Iterable[Text]) -> np.ndarray:
        """The selection score of each text: float64 array of shape (n,). Exact alignment, or with
        ``length_fair`` alignment − ā(ln |x|)."""
        texts = texts if isinstance(texts, (list, tuple)) else list(texts)
        if not self.length_fair:
            return self._targets.alignment(texts)
        if self.length_knots is None:
            raise RuntimeError("length_fair=True needs the pool's length baseline: call "
                               "fit_length_baseline(a sample of the pool) before scoring")
        sizes = np.array([utf8_size(t) for t in texts], dtype=np.float64)
        if (sizes == 0).any():
            raise ValueError(f"texts[{int(np.flatnonzero(sizes == 0)[0])}] is empty; length-fair scores need "
                             f"non-empty texts")
        return self._targets.alignment(texts) - self.length_baseline(sizes)

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
        return select_by_score(self.scores, records, k, budget_bytes, text_field, batch_size, on_batch)
