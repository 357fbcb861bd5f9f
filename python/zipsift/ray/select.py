"""Selection on a Ray cluster with the single-machine result: same records, order and scores."""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from ..dsir import DSIR
from ..io import ReadStats, expand_paths
from ..stream import ScoredRecord, validate_limits
from ._connect import connect
from .fit import CountNgrams
from .ranking import better_stop, ranked_prefix
from .read import BAD, BLANK, ParseFiles, bad_record
from .score import COUNT, KEPT, STOP, ScoreActor

# The driver folds candidate rows in and compacts them to the ranked prefix once this many wait.
_COMPACT_ROWS = 1 << 16


@dataclass
class RaySelection:
    """``kept``: ScoredRecord(record, score, index) best first, as ``ZipFit.select``/``DSIR.select``
    return them. ``stats``: what the scoring pass read. ``fit_stats``: DSIR's fitting pass.
    ``actors``: size of the scoring actor pool. ``seconds``: wall time per stage. ``raw_counts``:
    DSIR's p_R counts (int64 (B,)) summed over the cluster, else None."""

    kept: List[ScoredRecord]
    stats: ReadStats
    fit_stats: Optional[ReadStats] = None
    actors: int = 0
    seconds: Dict[str, float] = field(default_factory=dict)
    raw_counts: Optional[np.ndarray] = None
    candidates_received: int = 0  # KEPT rows the actors sent to the driver (the top-k merge's volume)


def unwrap_ray_error(err: BaseException) -> BaseException:
    """The user-code exception inside a Ray task/actor error (BadRecord, ValueError, ...), else err."""
    seen = err
    for _ in range(8):
        cause = getattr(seen, "cause", None) or seen.__cause__
        if cause is None or cause is seen:
            break
        seen = cause
        if not type(seen).__module__.startswith("ray."):
            return seen
    return err


def _rows(ds, ray, names: Sequence[str]):
    """Batches of ``ds`` on the driver as pyarrow tables, a worker's own exception re-raised."""
    try:
        yield from ds.iter_batches(batch_size=None, batch_format="pyarrow")
    except ray.exceptions.RayError as err:
        inner = unwrap_ray_error(err)
        if isinstance(inner, OSError):
            _name_the_corrupt_file(names, inner)
        if inner is err:
            raise
        raise inner from None


def _name_the_corrupt_file(names: Sequence[str], err: OSError) -> None:
    """Ray's reader decompresses .gz/.zst itself, and its error ("Truncated compressed stream")
    names no file. Find the file with the local reader, which raises its own clear ValueError
    (file, last good line, what to do); return if none of the compressed files is at fault."""
    from .. import io as zio

    for name in names:
        suffix = zio._suffix(Path(name))
        if suffix and suffix.endswith((".gz", ".zst")):
            for _ in zio._lines(Path(name), suffix):
                pass


def select(sources: Union[str, Sequence[str]], make_selector: Callable[[], Any], k: Optional[int] = None,
           budget_bytes: Optional[int] = None, *, text_field: str = "text", on_error: str = "raise",
           reserved_fields: Sequence[str] = (), options: Optional[Dict[str, Any]] = None,
           fit_sample: Optional[int] = None, actors: int = 0, threads_per_actor: int = 1,
           batch_size: int = 4096, address: Optional[str] = None) -> RaySelection:
    """Select from ``sources`` (files, directories, globs, as ``zipsift.io``) on a Ray cluster.

    ``make_selector()`` builds the selector — e.g. ``lambda: ZipFit(targets, threads=1)`` or
    ``lambda: DSIR(targets, threads=1)`` — once on the driver (to check parameters, and to fit
    DSIR's p_R by a distributed count) and once in every scoring actor. ``options`` are the
    selector's ``select`` keywords (DSIR: method, seed, min_example_length); ``fit_sample`` fits
    DSIR on the first N records only. ``actors`` = 0: one per ``threads_per_actor`` CPUs of the
    cluster. Connects to ``address`` unless this process is already connected (see ``connect``).

    The result equals the selector's single-machine ``select`` over ``iter_records(sources)``:
    ties go to the earlier record in input order, the byte budget walk stops at the first record
    that would overspend, DSIR's Gumbel noise is seeded by the record's global stream position.
    Bad records raise the first one's BadRecord in input order, or with ``on_error="skip"`` are
    skipped and counted, as the single-machine reader does.
    """
    options = dict(options or {})
    validate_limits(k, budget_bytes)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    for name, value in (("actors", actors), ("threads_per_actor", threads_per_actor - 1), ("batch_size", batch_size - 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a {'non-negative' if name == 'actors' else 'positive'} integer")
    clock = {"start": time.perf_counter()}
    names = [str(p) for p in expand_paths(sources)]
    paths = [os.path.abspath(n) for n in names]
    if len(set(paths)) != len(paths):
        raise ValueError("a file appears twice in the sources; the Ray engine reads each file once: "
                         "name each file once")
    probe = make_selector()
    ray = connect(address)
    is_dsir = isinstance(probe, DSIR)
    if fit_sample is not None and not is_dsir:
        raise ValueError("fit_sample applies to DSIR only")

    # Reading a file's bytes is I/O: the read tasks ask for no CPU, or an actor pool that holds every
    # CPU would wait forever for them. Parsing runs fused into the next stage (the actors).
    parsed = _read_binary_files(ray, paths).map_batches(
        ParseFiles(paths, names, text_field, reserved_fields), batch_size=1, batch_format="pyarrow")

    raw_counts = offsets = None
    fit_stats = None
    if is_dsir:
        featurizer = (probe.ngrams, probe.buckets, probe.scheme)
        if fit_sample is not None:  # the first N records: count each file's records first, to know where N falls
            offsets = _offsets(_per_file(parsed.map_batches(CountNgrams(*featurizer, fit=False),
                                                            batch_format="pyarrow"), ray, names)[0])
        records, counted, raw_counts = _per_file(parsed.map_batches(
            CountNgrams(*featurizer, offsets=offsets, limit=fit_sample), batch_format="pyarrow"), ray, names)
        if counted.sum() == 0:
            raise ValueError("the raw sample is empty: fit p_R on at least one text of the pool")
        probe.fit_counts(raw_counts)
        offsets = _offsets(records)
        fit_stats = ReadStats(records=int(counted.sum()), files=len(paths))
        clock["fit"] = time.perf_counter()
    # The selector's own select checks k, budget, batch size and options with its own messages.
    probe.select([], k=k, budget_bytes=budget_bytes, batch_size=batch_size, **options)

    n_actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads_per_actor)
    scored = parsed.map_batches(
        ScoreActor, fn_constructor_kwargs=dict(make_selector=make_selector, raw_counts=raw_counts, options=options,
                                               k=k, budget_bytes=budget_bytes, offsets=offsets),
        compute=ray.data.ActorPoolStrategy(size=n_actors), num_cpus=threads_per_actor,
        batch_size=batch_size, batch_format="pyarrow")
    kept, stats = _merge(scored, ray, names, k, budget_bytes, on_error)
    clock["score"] = time.perf_counter()
    received = stats.pop("received")
    if offsets is None:
        offsets = _offsets(stats.pop("per_file"))
    else:
        stats.pop("per_file")
    read = ReadStats(records=stats["records"], skipped=stats["skipped"], files=len(paths),
                     blank_lines=stats["blank_lines"])
    result = [ScoredRecord(json.loads(raw), score, int(offsets[f] + o)) for score, f, o, raw in kept]
    seconds = {"fit": clock["fit"] - clock["start"]} if "fit" in clock else {}
    seconds["score"] = clock["score"] - clock.get("fit", clock["start"])
    return RaySelection(result, read, fit_stats, n_actors, {k_: round(v, 3) for k_, v in seconds.items()}, raw_counts,
                        received)


def _read_binary_files(ray, paths: List[str]):
    import inspect

    # Newer Ray takes num_cpus by name and deprecates ray_remote_args; older Ray has only the latter.
    named = "num_cpus" in inspect.signature(ray.data.read_binary_files).parameters
    return ray.data.read_binary_files(paths, include_paths=True,
                                      **({"num_cpus": 0} if named else {"ray_remote_args": {"num_cpus": 0}}))


def _offsets(records_per_file: np.ndarray) -> np.ndarray:
    """Global stream position of each file's first record."""
    return np.concatenate([[0], np.cumsum(records_per_file)[:-1]]).astype(np.int64)


def _per_file(ds, ray, names: List[str]):
    records = np.zeros(len(names), np.int64)
    counted = np.zeros(len(names), np.int64)
    total = None
    for batch in _rows(ds, ray, names):
        files = batch.column("file").to_numpy()
        np.add.at(records, files, batch.column("records").to_numpy())
        np.add.at(counted, files, batch.column("counted").to_numpy())
        for counts in batch.column("counts").to_pylist():
            if counts:
                total = np.asarray(counts, np.int64) if total is None else total + np.asarray(counts, np.int64)
    return records, counted, total


def _merge(scored, ray, names: List[str], k, budget_bytes, on_error: str):
    """Fold the actors' output into the global ranked prefix; count records; find bad records.
    Returns ([(score, file, ordinal, raw)] best first, stats)."""
    import pyarrow as pa

    per_file = np.zeros(len(names), np.int64)
    skipped: Counter = Counter()
    blank = 0
    first_bad = None  # (file, line, exception) earliest in input order that must be raised
    kept = None
    stop = None  # the best stop of any block (see ranking): nothing ranked at or below it is kept
    pending: list = []
    pending_rows = 0
    received = 0

    def compact(tables):
        nonlocal stop
        table = pa.concat_tables(tables)
        # A record reaches the driver once; should a retried batch ever send it twice, keep one copy.
        _, first = np.unique(np.stack([table.column("file").to_numpy(), table.column("ordinal").to_numpy()]),
                             axis=1, return_index=True)
        if len(first) < table.num_rows:
            table = table.take(pa.array(np.sort(first), pa.int64()))
        order, stop = ranked_prefix(table.column("key").to_numpy(), table.column("file").to_numpy(),
                                    table.column("ordinal").to_numpy(), table.column("size").to_numpy(), k,
                                    budget_bytes, stop)
        return table.take(pa.array(order, pa.int64()))

    for batch in _rows(scored, ray, names):
        kind = batch.column("kind").to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(kind == STOP):
            stop = better_stop(stop, (-batch.column("key")[int(i)].as_py(), batch.column("file")[int(i)].as_py(),
                                      batch.column("ordinal")[int(i)].as_py()))
        candidates = batch.filter(pa.array(kind == KEPT))
        received += candidates.num_rows
        if candidates.num_rows:
            pending.append(candidates)
            pending_rows += candidates.num_rows
            if pending_rows >= _COMPACT_ROWS:
                kept = compact(([kept] if kept is not None else []) + pending)
                pending, pending_rows = [], 0
        for f, n in zip(batch.column("file").to_numpy()[kind == COUNT], batch.column("count").to_numpy()[kind == COUNT]):
            per_file[f] += n
        blank += int(batch.column("count").to_numpy()[kind == BLANK].sum())
        for i in np.flatnonzero(kind == BAD):
            row = {name: batch.column(name)[int(i)].as_py() for name in ("file", "line", "reason", "detail", "skippable")}
            if on_error == "skip" and row["skippable"]:
                skipped[row["reason"]] += 1
                continue
            if first_bad is None or (row["file"], row["line"]) < first_bad[:2]:
                first_bad = (row["file"], row["line"],
                             bad_record(names, row["file"], row["line"], row["reason"], row["detail"], row["skippable"]))
    if first_bad is not None:
        raise first_bad[2]
    if pending or kept is not None:
        kept = compact(([kept] if kept is not None else []) + pending)
    rows = [] if kept is None else list(zip(kept.column("score").to_pylist(), kept.column("file").to_pylist(),
                                            kept.column("ordinal").to_pylist(), kept.column("raw").to_pylist()))
    return rows, {"records": int(per_file.sum()), "skipped": skipped, "blank_lines": blank, "per_file": per_file,
                  "received": received}
