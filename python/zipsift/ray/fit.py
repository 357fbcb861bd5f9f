"""DSIR's p_R fitted on a cluster: hashed n-gram counts Σ_x h(x) summed over the workers' records.
Integer sums are exact in any order, so the model equals the single-machine ``DSIR.fit``."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..ngram import HashedNgrams
from .read import RECORD


class CountNgrams:
    """Ray Data map_batches function: parsed rows → one row per file in the batch with that file's
    record count and (when ``fit``) the n-gram counts of those of its records at global stream
    position < ``limit`` (``offsets[file]`` + ordinal; all records when ``limit`` is None)."""

    def __init__(self, ngrams: int, buckets: int, scheme: str, fit: bool = True,
                 offsets: Optional[np.ndarray] = None, limit: Optional[int] = None):
        self.features = (ngrams, buckets, scheme) if fit else None
        self.featurizer = None  # built in the worker: the native hasher does not pickle
        self.buckets = buckets
        self.offsets = offsets
        self.limit = limit

    def __call__(self, batch):
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.features is not None and self.featurizer is None:
            self.featurizer = HashedNgrams(*self.features)
        recs = batch.filter(pc.equal(batch.column("kind"), RECORD))
        files = recs.column("file").to_numpy()
        texts = recs.column("text").to_pylist()
        out = {"file": [], "records": [], "counted": [], "counts": []}
        for f in np.unique(files):
            rows = np.flatnonzero(files == f)
            if self.limit is not None:
                rows = rows[self.offsets[f] + recs.column("ordinal").to_numpy()[rows] < self.limit]
            counts = (self.featurizer.counts([texts[i] for i in rows], 1) if self.featurizer is not None and len(rows)
                      else np.zeros(self.buckets if self.featurizer is not None else 0, np.int64))
            out["file"].append(int(f))
            out["records"].append(int(np.count_nonzero(files == f)))
            out["counted"].append(len(rows))
            out["counts"].append(counts.tolist())
        return pa.table(out, schema=pa.schema([("file", pa.int64()), ("records", pa.int64()), ("counted", pa.int64()),
                                               ("counts", pa.list_(pa.int64()))]))
