"""What a Ray actor does: read one split of the pool (``zipsift.io.read_split``: texts and where
their lines are, never whole records), score it in batches with a selector built once per actor,
and send back rank rows — packed (key, [score], split, ordinal, offset, [size]) records of 24 to 36
bytes (``rank_dtype``), for the records that enter the actor's running ranked prefix — plus
counts and bad records.

The selector arrives as an object reference inside a list (so Ray does not resolve it on every
call) and is built on the actor's first split of a job; a restarted actor rebuilds it the same way.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...dsir import CHUNK_TOKENS, DSIR, MIN_EXAMPLE_LENGTH, gumbel_noise
from ...io import RESERVED_FIELD, Split, SplitCounts, read_split
from ...sample import sample_keys, top_positions
from .ranking import ranked_prefix

# Records of one split are counted in 32 bits, as are the UTF-8 bytes of one text.
_UINT32 = 1 << 32


def rank_dtype(with_score: bool, with_size: bool) -> np.dtype:
    """The packed rank row: ``key`` float64 (what ranks: the score, or DSIR's Gumbel key), ``score``
    float64 only when it differs from the key (DSIR), ``split`` and ``ordinal`` uint32 (the record's
    place in the input: ties go to the earlier one), ``offset`` uint64 (where its line starts, for
    the second read), ``size`` uint32 UTF-8 bytes of its text only under a byte budget.
    24 bytes; 28 with a budget, 32 for DSIR, 36 for DSIR with a budget."""
    fields = [("key", "<f8")] + ([("score", "<f8")] if with_score else []) + \
        [("split", "<u4"), ("ordinal", "<u4"), ("offset", "<u8")] + ([("size", "<u4")] if with_size else [])
    return np.dtype(fields)


def job_rank_dtype(job: Dict[str, Any]) -> np.dtype:
    """rank_dtype of a job: a score column for DSIR (``job["scores_differ"]``), sizes under a budget."""
    return rank_dtype(bool(job.get("scores_differ")), job["budget_bytes"] is not None)


def rank_scores(rows: np.ndarray) -> np.ndarray:
    """The output scores of packed rank rows (the key when the job sent no score column)."""
    return rows["score"] if "score" in rows.dtype.names else rows["key"]


def rank_sizes(rows: np.ndarray) -> Optional[np.ndarray]:
    return rows["size"] if "size" in rows.dtype.names else None


def gumbel_at(seed: int, positions: np.ndarray) -> np.ndarray:
    """gumbel_noise at stream positions int64 (n,), computed per run of consecutive positions."""
    out = np.empty(len(positions), dtype=np.float64)
    if not len(positions):
        return out
    starts = np.flatnonzero(np.diff(positions, prepend=positions[:1] - 2) != 1)
    ends = list(starts[1:]) + [len(positions)]
    for a, b in zip(starts, ends):
        out[a:b] = gumbel_noise(seed, int(positions[a]), int(b - a))
    return out


def score_keys(selector: Any, texts: List[str], positions: Optional[np.ndarray],
               options: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ranking keys float64 (n,), output scores float64 (n,), eligible bool (n,)) of ``texts``,
    exactly as the selector's own ``select`` computes them for the same records (DSIR: Gumbel
    keys seeded by the records' global stream ``positions``)."""
    if isinstance(selector, DSIR):
        gumbel = options.get("method", "gumbel") == "gumbel"
        noise = gumbel_at(options.get("seed", 0), positions) if gumbel else None
        return selector.ranking(texts, noise, options.get("normalize", "per_token"),
                                options.get("chunk_tokens", CHUNK_TOKENS),
                                options.get("min_example_length", MIN_EXAMPLE_LENGTH))
    scores = np.asarray(selector.scores(texts), dtype=np.float64)
    return scores, scores, np.ones(len(texts), bool)


def _bad_row(item) -> Tuple[int, str, str, bool, str]:
    bad = item.bad
    return item.line, bad.reason, bad.detail, bad.skippable, bad.hint


class SplitWorker:
    """The state of one actor: the built selector of the current job and the running ranked prefix
    of everything it scored in that job (so it sends on only records that enter it: about
    k·ln(n/k) rows for n records instead of everything). Exact: a record of the actor's final
    prefix was in its prefix when it was scored (fewer better records then), so it was sent."""

    def __init__(self):
        self.job = None
        self.selector = None
        self.fitted = None
        self.held = None
        self.stop = None
        self.splits = 0
        self.records = 0
        self.build_seconds = 0.0

    def ready(self) -> bool:
        """True once the actor's process has started and imported zipsift."""
        return True

    def _begin(self, job: Dict[str, Any]) -> None:
        if self.job == job["id"]:
            return
        started = time.perf_counter()
        self.selector = _resolve(job["selector"][0])()
        self.build_seconds = time.perf_counter() - started
        self.job = job["id"]
        self.fitted = None
        self.held = np.empty(0, job_rank_dtype(job))
        self.stop = None
        self.splits = self.records = 0

    def _fit(self, job: Dict[str, Any]) -> None:
        box = job.get("raw_counts")
        if box is not None and self.fitted is None:
            self.selector.fit_counts(_resolve(box[0]))
            self.fitted = True

    def count(self, job: Dict[str, Any], split: Split, split_index: int, limit: Optional[int],
              with_counts: bool, with_texts: bool = False) -> Dict[str, Any]:
        """Records of ``split`` (and its lines, blank lines, empty texts, bad records) and, when
        ``with_counts``, DSIR's hashed n-gram counts of its first ``limit`` records (all when
        None), or with ``with_texts`` those texts themselves (a first pass run on the driver)."""
        if with_texts:
            return self._first_texts(job, split, split_index, limit)
        self._begin(job)
        counts = SplitCounts()
        texts: List[str] = []
        bad: List[Tuple[int, str, str, bool, str]] = []
        records = 0
        for item in read_split(split, job["text_field"], job["reserved"], counts):
            if item.bad is not None:
                bad.append(_bad_row(item))
                if _stops(item.bad, job["on_error"]):
                    break
                continue
            if with_counts and (limit is None or records < limit):
                texts.append(item.text)
            records += 1
        ngrams = None
        if with_counts:
            ngrams = (self.selector.featurizer.counts(texts, self.selector.threads) if texts
                      else np.zeros(self.selector.buckets, np.int64))
        return {"split": split_index, "records": records, "counted": len(texts), "ngrams": ngrams,
                **_tally(counts, bad)}

    def _first_texts(self, job: Dict[str, Any], split: Split, split_index: int, limit: Optional[int]):
        counts = SplitCounts()
        texts: List[str] = []
        bad: List[Tuple[int, str, str, bool, str]] = []
        for item in read_split(split, job["text_field"], job["reserved"], counts):
            if limit is not None and len(texts) >= limit:
                break
            if item.bad is not None:
                bad.append(_bad_row(item))
                if _stops(item.bad, job["on_error"]):
                    break
                continue
            texts.append(item.text)
        return {"split": split_index, "records": len(texts), "counted": len(texts), "texts": texts, "ngrams": None,
                **_tally(counts, bad)}

    def sample(self, job: Dict[str, Any], split: Split, split_index: int, position: int, n: int,
               seed: int) -> Dict[str, Any]:
        """The ``n`` records of ``split`` with the largest ``zipsift.sample`` keys (the split's part
        of a seeded sample): their keys, global positions and texts."""
        texts = [item.text for item in read_split(split, job["text_field"], job["reserved"]) if item.bad is None]
        keys = sample_keys(seed, position, len(texts))
        positions = np.arange(position, position + len(texts), dtype=np.int64)
        pick = top_positions(keys, positions, n)
        return {"split": split_index, "keys": keys[pick].tolist(), "positions": positions[pick].tolist(),
                "texts": [texts[i] for i in pick]}

    def score(self, job: Dict[str, Any], split: Split, split_index: int, position: Optional[int]) -> Dict[str, Any]:
        """Score ``split``; returns the packed rank rows (``job_rank_dtype``) of its records that
        entered this actor's running prefix, the prefix's stop, and the split's counts and bad
        records. ``position``: global stream position of the split's first record (DSIR's noise), or
        None."""
        self._begin(job)
        self._fit(job)
        started = time.perf_counter()
        scoring = 0.0
        counts = SplitCounts()
        bad: List[Tuple[int, str, str, bool, str]] = []
        batch_size = job["batch_size"]
        dtype = job_rank_dtype(job)
        with_score, with_size = "score" in dtype.names, "size" in dtype.names
        texts: List[str] = []
        offsets: List[int] = []
        parts: List[np.ndarray] = []
        ordinal = 0

        def flush():
            nonlocal scoring
            if not texts:
                return
            t = time.perf_counter()
            if ordinal > _UINT32:
                raise ValueError(f"{split.path}: more than {_UINT32:,} records in one piece; split it into smaller files")
            first = ordinal - len(texts)
            positions = None if position is None else np.arange(position + first, position + ordinal, dtype=np.int64)
            keys, scores, eligible = score_keys(self.selector, texts, positions, job["options"])
            scoring += time.perf_counter() - t
            pick = np.flatnonzero(eligible)
            rows = np.empty(len(pick), dtype)
            rows["key"] = keys[pick]
            if with_score:
                rows["score"] = scores[pick]
            rows["split"] = split_index
            rows["ordinal"] = first + pick
            rows["offset"] = np.asarray(offsets, np.uint64)[pick]
            if with_size:
                sizes = [len(texts[i].encode("utf-8", "surrogatepass")) for i in pick]
                if sizes and max(sizes) >= _UINT32:
                    raise ValueError(f"{split.path}: a text of {max(sizes):,} bytes; texts must be under 4 GiB")
                rows["size"] = sizes
            parts.append(rows)
            texts.clear()
            offsets.clear()

        for item in read_split(split, job["text_field"], job["reserved"], counts):
            if item.bad is not None:
                bad.append(_bad_row(item))
                if _stops(item.bad, job["on_error"]):
                    break
                continue
            texts.append(item.text)
            offsets.append(item.offset)
            ordinal += 1
            if len(texts) == batch_size:
                flush()
        flush()
        rows = np.concatenate(parts) if parts else np.empty(0, dtype)
        sent = self._enter_prefix(rows, job)
        self.splits += 1
        self.records += ordinal
        build, self.build_seconds = self.build_seconds, 0.0  # reported once, with the first split of the job
        return {"split": split_index, "records": ordinal, "rows": sent, "stop": self.stop,
                "seconds": time.perf_counter() - started, "scoring_seconds": scoring, "build_seconds": build,
                **_tally(counts, bad)}

    def _enter_prefix(self, rows: np.ndarray, job: Dict[str, Any]) -> np.ndarray:
        held = len(self.held)
        merged = np.concatenate([self.held, rows])
        prefix, self.stop = ranked_prefix(merged["key"], merged["split"], merged["ordinal"], rank_sizes(merged),
                                          job["k"], job["budget_bytes"], self.stop)
        self.held = merged[prefix]
        return merged[np.sort(prefix[prefix >= held])]


def _resolve(value: Any) -> Any:
    """A value the driver put in the object store (its reference), or the value itself."""
    if type(value).__name__ == "ObjectRef":
        import ray

        return ray.get(value)
    return value


def _stops(bad, on_error: str) -> bool:
    """Whether reading a split stops at this bad record: in raise mode the first one is the answer
    (the driver raises the earliest in input order); an unreadable tail ends the split anyway."""
    return on_error == "raise" or not bad.skippable or bad.reason == RESERVED_FIELD


def _tally(counts: SplitCounts, bad: Sequence[Tuple[int, str, str, bool, str]]) -> Dict[str, Any]:
    return {"lines": counts.lines, "blank_lines": counts.blank_lines, "empty_texts": counts.empty_texts,
            "bad": list(bad)}
