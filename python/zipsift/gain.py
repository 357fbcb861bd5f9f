"""Compression gain: how many bits per byte a document saves when the compressor knows the targets.

The targets T are digested once into zstd raw-content dictionaries; then, for a candidate x,

    C(x)      = len(ZSTD_compress(x, level))                 the zstd frame size in bytes
    C(x | D)  = len(ZSTD_compress_usingCDict(x, CDict(D)))   x compressed with D as a raw-content
                dictionary at the same level (libzstd's default frame: content size written, no
                checksum, no dictionary ID since a raw-content dictionary has none)
    C(x | T)  = (1/K) Σ_k C(x | T_k)   the mean over the dictionaries T_1..T_K (one when the
                targets fit in one; ``combine="min"`` takes the smallest instead)

    gain(x)   = 8 · (C(x) − C(x | T)) / |x|                  bits saved per byte of x
    gain(x)   = 8 · (C(x | R) − C(x | T)) / |x|              with a reference sample R of the pool

|x| is the length of x in bytes (UTF-8 for str). The second form is the compression analogue of
Moore–Lewis cross-entropy difference: it rewards what the targets explain *beyond* what any
document of the pool explains (boilerplate, licence headers, common words), where the first also
rewards text that is merely compressible with any dictionary.

The targets (and R) are packed into dictionaries in input order: whole texts concatenated, no
separator, while a dictionary stays within ``dict_bytes`` (default: the window of the level, 2 MiB at
level 3); a text longer than that is cut into ``dict_bytes`` pieces. ``C(x | D)`` equals the
``zstandard`` package's ``ZstdCompressor(level=level, dict_data=ZstdCompressionDict(D,
dict_type=DICT_TYPE_RAWCONTENT)).compress(x)`` when it carries the same libzstd (tests pin this for
levels 1, 3 and 9; at levels 12 and above the package's streaming call can differ by a few bytes on
some inputs).

Length prior. Per byte, tiny documents win: a 40–100-byte stub (``__main__.py``, a line of imports)
is almost entirely matched by the targets' dictionary, and the per-frame overhead that C(x) pays and
C(x | T) recovers is a large share of a few bytes. On CPython's stdlib as whole files against six
test files, 11 of the top 20 by per-byte gain were stubs under 100 bytes. ``scores`` therefore
divides the bits saved by the length plus a prior of ``length_prior`` bytes that save nothing,

    score(x)  = 8 · (C(x) − C(x | T)) / (|x| + length_prior)     (or C(x | R) in place of C(x))

the posterior mean bits saved per byte when every document starts from ``length_prior`` bytes of
zero gain. Long documents keep their per-byte gain, short ones are shrunk towards 0. The default,
4096 bytes, is measured (bench/quality.py, docs/quality.md): no file under 100 bytes in the stdlib top 20 (1024 left
three), and the share of a selection's bytes from a 3%-minority target domain equal or higher on
all six domain tasks than per byte (e.g. 0.49 → 0.74 for Vim script). ``length_prior=0`` is the
plain per-byte gain.

Texts must be non-empty: an empty text has no bytes to save, and a score of 0 would rank it between
helpful and harmful documents, so it is refused (``ValueError`` naming its index).
"""
from __future__ import annotations

from itertools import islice
from typing import Any, Iterable, List, NamedTuple, Optional

import numpy as np

from . import _core
from .ncd import Text

from .params import INT32_MAX, INT64_MAX, check_int, check_threads
from .progress import Meter, OnProgress
from .stream import ScoredRecord, batched, record_text, select_by_score, utf8_size

__all__ = ["CompressionGain", "GainParts", "COMBINE_RULES", "LENGTH_PRIOR"]

COMBINE_RULES = ("mean", "min")
LENGTH_PRIOR = 4096  # bytes of zero gain every document starts with


class GainParts(NamedTuple):
    """Per-candidate parts of the score, float64 arrays of shape (n,)."""

    gain: np.ndarray        # bits saved per byte
    c_target: np.ndarray    # C(x | T), bytes
    c_baseline: np.ndarray  # C(x), or C(x | R) with a reference, bytes


def _texts(items: Iterable[Any], text_field: str) -> List[Text]:
    return [record_text(r, text_field, i) for i, r in enumerate(items)]


class CompressionGain:
    """Rank documents by the bits per byte they save when compressed with the targets' dictionary.

    Parameters
    ----------
    targets : iterable of str or bytes
        The target examples, digested once into zstd dictionaries.
    reference : iterable of str or bytes, optional
        A sample of the pool; when given (here or later with ``fit``) the score is the Moore–Lewis
        form 8·(C(x | R) − C(x | T))/|x|, else 8·(C(x) − C(x | T))/|x|.
    codec : "zstd" (the only codec with reusable dictionaries).
    level : zstd level, default 3.
    threads : worker threads, 0 = every core in the process's affinity mask.
    dict_bytes : largest dictionary; default None = the window of ``level`` (2 MiB at level 3).
    combine : "mean" (default): C(x | T) is the mean size over the dictionaries; "min": the smallest,
        i.e. the one dictionary that knows x best. They differ only when the targets need more than
        one dictionary; docs/quality.md gives the measurement behind the default.
    length_prior : bytes of zero gain added to every document's length (default 4096; 0 = the plain
        per-byte gain). Keeps tiny stubs from the top; see the module docstring.

    ``scores(texts)`` returns float64 (n,) bits saved per (byte + prior); ``select(records, k=, budget_bytes=)``
    keeps the highest, like ``ZipFit.select``.
    """

    def __init__(self, targets: Iterable[Text], reference: Optional[Iterable[Text]] = None, codec: str = "zstd",
                 level: int = 3, threads: int = 0, dict_bytes: Optional[int] = None, combine: str = "mean",
                 length_prior: int = LENGTH_PRIOR):
        if codec != "zstd":
            raise ValueError(f"CompressionGain builds zstd dictionaries, so codec must be 'zstd', got {codec!r}")
        if combine not in COMBINE_RULES:
            raise ValueError(f"combine must be one of {COMBINE_RULES}, got {combine!r}")
        if dict_bytes is not None:
            check_int(dict_bytes, "dict_bytes", 8, INT64_MAX)
        if isinstance(length_prior, bool) or not isinstance(length_prior, (int, np.integer)) or length_prior < 0:
            raise ValueError(f"length_prior must be an integer >= 0 (bytes; 0 = plain per-byte gain), "
                             f"got {length_prior!r}")
        self.length_prior = int(length_prior)
        self.codec = codec
        self.level = check_int(level, "level", -INT32_MAX - 1, INT32_MAX)
        self.threads = check_threads(threads)
        self.combine = combine
        self.dict_bytes = int(dict_bytes) if dict_bytes is not None else None
        targets = _texts(targets, "text")
        if not targets:
            raise ValueError("targets is empty: the gain is measured against the targets, so give at least one")
        self._target = self._dictionaries(targets, "targets")
        self.n_targets = len(targets)
        self._reference = None
        self.n_reference = 0
        if reference is not None:
            self.fit(reference)

    def _dictionaries(self, texts: List[Text], what: str):
        try:
            return _core.ConditionalCompressor(texts, self.level, -1 if self.dict_bytes is None else self.dict_bytes,
                                               self.threads)
        except ValueError as err:
            raise ValueError(f"{what}: {err}") from None

    @property
    def has_reference(self) -> bool:
        return self._reference is not None

    @property
    def target_dictionaries(self) -> List[int]:
        """Lengths in bytes of the targets' dictionaries, in order."""
        return list(self._target.dictionary_lengths)

    @property
    def reference_dictionaries(self) -> List[int]:
        return list(self._reference.dictionary_lengths) if self._reference is not None else []

    def fit(self, reference: Iterable[Any], text_field: str = "text", max_records: Optional[int] = None,
            on_progress: Optional[OnProgress] = None, batch_size: int = 4096) -> "CompressionGain":
        """Use ``reference`` (str/bytes, or records whose ``text_field`` holds the text; the first
        ``max_records`` when given) as the sample R of the pool. Its texts are held in memory while
        the dictionaries are built. Returns self."""
        if max_records is not None:
            if isinstance(max_records, bool) or not isinstance(max_records, (int, np.integer)) or max_records < 1:
                raise ValueError(f"max_records must be a positive integer or None, got {max_records!r}")
            reference = islice(reference, max_records)
        texts: List[Text] = []
        meter = Meter(on_progress)
        for batch in batched(reference, batch_size):
            texts.extend(record_text(r, text_field, len(texts) + i) for i, r in enumerate(batch))
            meter.add(len(batch))
        if not texts:
            raise ValueError("the reference sample is empty: give at least one text of the pool")
        self._reference = self._dictionaries(texts, "reference")
        self.n_reference = len(texts)
        return self

    def parts(self, texts: Iterable[Text]) -> GainParts:
        """gain per byte (no prior), C(x | T) and the baseline C(x) (or C(x | R)) of every text."""
        texts = texts if isinstance(texts, (list, tuple)) else list(texts)
        return GainParts(*_core.compression_gain(texts, self._target, self._reference, self.combine, self.threads))

    def scores(self, texts: Iterable[Text]) -> np.ndarray:
        """8 · (C(x) − C(x | T)) / (|x| + length_prior) for each text: float64 array of shape (n,).
        Higher = more target-like; equal to ``parts(texts).gain`` when ``length_prior`` is 0."""
        texts = texts if isinstance(texts, (list, tuple)) else list(texts)
        gain = self.parts(texts).gain
        if self.length_prior == 0:
            return gain
        sizes = np.array([utf8_size(t) for t in texts],
                         dtype=np.float64)
        return gain * sizes / (sizes + self.length_prior)

    def select(self, records: Iterable[Any], k: Optional[int] = None, budget_bytes: Optional[int] = None,
               text_field: str = "text", batch_size: int = 4096,
               on_progress: Optional[OnProgress] = None) -> List[ScoredRecord]:
        """Stream ``records`` and keep the highest gains; limits, memory and ties as ``ZipFit.select``.
        An empty text raises ValueError naming its position in the stream."""
        seen = 0

        def score(texts: List[Text]) -> np.ndarray:
            nonlocal seen
            for i, text in enumerate(texts):
                if len(text) == 0:
                    raise ValueError(f"record {seen + i} has an empty text: the gain is per byte of text, so an "
                                     f"empty text has none; drop empty records first (zipsift's readers refuse "
                                     f"or skip them)")
            seen += len(texts)
            return self.scores(texts)

        return select_by_score(score, records, k, budget_bytes, text_field, batch_size, on_progress)
