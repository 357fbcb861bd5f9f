"""Scoring on a Ray actor pool: each actor builds the selector (its target state: ZIP-FIT's
compressed targets, DSIR's weights, ...) once, then scores batches and keeps each batch's ranked
prefix, so only candidates travel back to the driver.

Any selector with ``scores(texts) -> float64 (n,)`` works as is (ZipFit, and CompressionGain when it
exists). A selector whose ranking is not its score is registered in ``score_keys`` (DSIR: Gumbel
keys from the global stream position).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from ..dsir import CHUNK_TOKENS, DSIR, MIN_EXAMPLE_LENGTH, gumbel_noise
from .ranking import ranked_prefix
from .read import BAD, BLANK, RECORD

KEPT, STOP, COUNT = "kept", "stop", "count"


def _gumbel_at(seed: int, positions: np.ndarray) -> np.ndarray:
    """gumbel_noise at arbitrary stream positions (int64 (n,)), computed per run of consecutive ones."""
    out = np.empty(len(positions), dtype=np.float64)
    starts = np.flatnonzero(np.diff(positions, prepend=positions[:1] - 2) != 1) if len(positions) else []
    ends = list(starts[1:]) + [len(positions)]
    for a, b in zip(starts, ends):
        out[a:b] = gumbel_noise(seed, int(positions[a]), int(b - a))
    return out


def score_keys(selector: Any, texts: list, positions: Optional[np.ndarray],
               options: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ranking keys float64 (n,), output scores float64 (n,), eligible bool (n,)) of ``texts``,
    exactly as the selector's own ``select`` computes them for the same records."""
    if isinstance(selector, DSIR):
        noise = _gumbel_at(options.get("seed", 0), positions) if options.get("method", "gumbel") == "gumbel" else None
        return selector.ranking(texts, noise, options.get("normalize", "per_token"),
                                options.get("chunk_tokens", CHUNK_TOKENS),
                                options.get("min_example_length", MIN_EXAMPLE_LENGTH))
    scores = np.asarray(selector.scores(texts), dtype=np.float64)
    return scores, scores, np.ones(len(texts), bool)


def OUT_SCHEMA():  # noqa: N802
    import pyarrow as pa

    return pa.schema([("kind", pa.string()), ("file", pa.int64()), ("line", pa.int64()), ("ordinal", pa.int64()),
                      ("key", pa.float64()), ("score", pa.float64()), ("size", pa.int64()),
                      ("raw", pa.large_string()), ("reason", pa.string()), ("detail", pa.string()),
                      ("skippable", pa.bool_()), ("count", pa.int64())])


class ScoreActor:
    """Ray Data actor: parsed rows → the batch's ranked prefix (KEPT rows) and its STOP row (see
    ``ranking``), records per file (COUNT rows), and the BAD/BLANK rows passed on for the driver to raise or count."""

    def __init__(self, make_selector: Callable[[], Any], raw_counts: Optional[np.ndarray], options: Dict[str, Any],
                 k: Optional[int], budget_bytes: Optional[int], offsets: Optional[np.ndarray]):
        self.selector = make_selector()
        if raw_counts is not None:
            self.selector.fit_counts(raw_counts)
        self.options = options
        self.k = k
        self.budget_bytes = budget_bytes
        self.offsets = offsets
        # The ranked prefix of everything this actor has scored (rank fields only, not the records)
        # and its stop. A batch's record is sent on only if it enters that prefix, so the rows the
        # driver receives shrink as the actor's threshold rises (about k·ln(n/k) for n records in
        # random order instead of min(k, batch) per batch). Exact: a record of the actor's final
        # prefix was in its prefix when it arrived (fewer better records then), so it was sent.
        self.seen = {name: np.empty(0, dtype) for name, dtype in
                     (("key", np.float64), ("file", np.int64), ("ordinal", np.int64), ("size", np.int64))}
        self.stop = None

    def __call__(self, batch):
        import pyarrow as pa
        import pyarrow.compute as pc

        kind = batch.column("kind")
        recs = batch.filter(pc.equal(kind, RECORD))
        texts = recs.column("text").to_pylist()
        files = recs.column("file").to_numpy()
        ordinals = recs.column("ordinal").to_numpy()
        positions = self.offsets[files] + ordinals if self.offsets is not None else None
        keys, scores, eligible = score_keys(self.selector, texts, positions, self.options)
        sizes = np.array([len(t.encode("utf-8", "surrogatepass")) for t in texts], dtype=np.int64) \
            if self.budget_bytes is not None else np.zeros(len(texts), np.int64)
        where = np.flatnonzero(eligible)
        held = len(self.seen["key"])
        merged = {"key": np.concatenate([self.seen["key"], keys[where]]),
                  "file": np.concatenate([self.seen["file"], files[where]]),
                  "ordinal": np.concatenate([self.seen["ordinal"], ordinals[where]]),
                  "size": np.concatenate([self.seen["size"], sizes[where]])}
        prefix, stop = ranked_prefix(merged["key"], merged["file"], merged["ordinal"], merged["size"], self.k,
                                     self.budget_bytes, self.stop)
        self.seen = {name: column[prefix] for name, column in merged.items()}
        self.stop = stop
        keep = where[np.sort(prefix[prefix >= held]) - held]  # this batch's records that entered the prefix

        out: Dict[str, list] = {name: [] for name in OUT_SCHEMA().names}

        def extend(n, **columns):
            for name in out:
                value = columns.get(name)
                out[name].extend(value if isinstance(value, list) else [value] * n)

        kept = recs.take(pa.array(keep, pa.int64()))
        extend(len(keep), kind=KEPT, file=files[keep].tolist(), line=kept.column("line").to_pylist(),
               ordinal=ordinals[keep].tolist(), key=keys[keep].tolist(), score=scores[keep].tolist(),
               size=sizes[keep].tolist(), raw=kept.column("raw").to_pylist(), reason="", detail="",
               skippable=False, count=1)
        if stop is not None:  # the first record that did not fit: nothing ranked below it may be kept
            extend(1, kind=STOP, file=stop[1], line=0, ordinal=stop[2], key=-stop[0], score=0.0, size=0, raw="",
                   reason="", detail="", skippable=False, count=0)
        per_file, n_records = np.unique(files, return_counts=True)
        extend(len(per_file), kind=COUNT, file=per_file.tolist(), line=0, ordinal=-1, key=0.0, score=0.0, size=0,
               raw="", reason="", detail="", skippable=False, count=n_records.tolist())
        other = batch.filter(pc.or_(pc.equal(kind, BAD), pc.equal(kind, BLANK)))
        extend(other.num_rows, kind=other.column("kind").to_pylist(), file=other.column("file").to_pylist(),
               line=other.column("line").to_pylist(), ordinal=-1, key=0.0, score=0.0, size=0, raw="",
               reason=other.column("reason").to_pylist(), detail=other.column("detail").to_pylist(),
               skippable=other.column("skippable").to_pylist(), count=other.column("count").to_pylist())
        return pa.table(out, schema=OUT_SCHEMA())
