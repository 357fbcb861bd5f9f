"""Selection on a Ray cluster with the single-machine result: same records, order and scores.

The driver plans splits of the pool (``zipsift.io.plan_splits``: byte ranges of plain files,
frames of multi-frame zstd, Parquet row groups, other files whole), deals them to a pool of
actors (``worker.SplitWorker``; a dead actor is restarted by Ray and its split run again), merges
the rank rows they send back exactly as ``TopK`` would (``ranking``), and finally reads the
winners' lines again (``zipsift.io.records_at``), so no record travels whole through the cluster.
"""
from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ...dsir import DSIR
from ...io import (DEFAULT_SPLIT_BYTES, UNREADABLE_TAIL, BadRecord, ReadStats, Split, expand_paths, plan_splits,
                   records_at)
from ...stream import ScoredRecord, validate_limits
from ...sample import top_positions
from .connect import connect
from .ranking import better_stop, ranked_prefix
from .worker import SplitWorker, job_rank_dtype, rank_scores, rank_sizes

# The driver compacts the candidate rows to the ranked prefix once this many wait.
_COMPACT_ROWS = 1 << 16
# Splits queued per actor: one scoring, one waiting, so an actor never idles between splits.
_IN_FLIGHT = 2
_job_ids = itertools.count()


@dataclass
class RaySelection:
    """``kept``: ScoredRecord(record, score, index) best first, as ``ZipFit.select``/``DSIR.select``
    return them. ``stats``: what the scoring pass read. ``fit_stats``: DSIR's fitting pass.
    ``actors``: size of the actor pool. ``seconds``: wall time per stage (connect and plan the
    splits, start the actors, first pass, score, fetch the winners; "merge": the driver's share of
    scoring, "build_selector": the actors' summed time building the target state). ``raw_counts``: DSIR's p_R
    counts (int64 (B,)) summed over the cluster, else None. ``splits``: how the pool was split
    (counts by kind). ``records_per_actor``: records each actor scored. ``rank_rows`` and
    ``rank_bytes``: what the actors sent to the driver."""

    kept: List[ScoredRecord]
    stats: ReadStats
    fit_stats: Optional[ReadStats] = None
    actors: int = 0
    seconds: Dict[str, float] = field(default_factory=dict)
    raw_counts: Optional[np.ndarray] = None
    splits: Dict[str, int] = field(default_factory=dict)
    records_per_actor: List[int] = field(default_factory=list)
    rank_rows: int = 0
    rank_bytes: int = 0
    scoring_seconds: float = 0.0  # summed over actors: time in the selector's scoring
    busy_seconds: float = 0.0  # summed over actors: time on splits (reading, decoding, scoring, ranking)


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


def select(sources: Union[str, Sequence[str]], make_selector: Callable[[], Any], k: Optional[int] = None,
           budget_bytes: Optional[int] = None, *, text_field: str = "text", on_error: str = "raise",
           reserved_fields: Sequence[str] = (), options: Optional[Dict[str, Any]] = None,
           fit_sample: Optional[int] = None, actors: int = 0, threads_per_actor: int = 1,
           batch_size: int = 4096, split_bytes: int = DEFAULT_SPLIT_BYTES, address: Optional[str] = None,
           on_progress: Optional[Callable[[int, int, int], Any]] = None,
           first_pass: Optional[Tuple[int, Callable[[List[str]], Callable[[], Any]], Optional[int]]] = None
           ) -> RaySelection:
    """Select from ``sources`` (files, directories, globs, as ``zipsift.io``) on a Ray cluster.

    ``make_selector()`` builds the selector — e.g. ``lambda: ZipFit(targets, threads=1)``,
    ``lambda: CompressionGain(targets, threads=1)`` or ``lambda: DSIR(targets, threads=1)`` — once
    on the driver (to check parameters, and to fit DSIR's p_R from a distributed count) and once
    per actor. ``options`` are the selector's ``select`` keywords (DSIR: method, seed,
    min_example_length); ``fit_sample`` fits DSIR on the first N records only. ``actors`` = 0: one
    per ``threads_per_actor`` CPUs of the cluster. Files are split into pieces of about
    ``split_bytes`` (see ``zipsift.io.plan_splits``); every node must see the files at the same
    paths (shared storage). Connects to ``address`` unless this process is already connected.
    ``on_progress(done_bytes, total_bytes, records_done)`` is called as splits finish. ``first_pass`` = (N, fit, seed):
    a method's first pass over the first N records, or with a seed over the seeded random sample
    of N records of ``zipsift.sample`` (gain's reference sample, ZIP-FIT's length baseline): the
    actors read those texts, ``fit(texts)`` runs on the driver and returns the selector factory
    the actors then score with.

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
    for name, value, least in (("actors", actors, 0), ("threads_per_actor", threads_per_actor, 1),
                               ("batch_size", batch_size, 1), ("split_bytes", split_bytes, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    clock = {"start": time.perf_counter()}
    names = [str(p) for p in expand_paths(sources)]
    if len({os.path.abspath(n) for n in names}) != len(names):
        raise ValueError("a file appears twice in the sources; the Ray engine reads each file once: "
                         "name each file once")
    probe = make_selector()
    is_dsir = isinstance(probe, DSIR)
    if fit_sample is not None and not is_dsir:
        raise ValueError("fit_sample applies to DSIR only")
    # The selector's own select checks k, budget, batch size and options with its own messages
    # (DSIR's only once fitted, after its first pass).
    if not is_dsir:
        probe.select([], k=k, budget_bytes=budget_bytes, batch_size=batch_size, **options)
    ray = connect(address)
    plan = plan_splits(names, split_bytes)
    n_actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads_per_actor)
    clock["planned"] = time.perf_counter()
    pool = _ActorPool(ray, n_actors, threads_per_actor)
    clock["actors"] = time.perf_counter()
    job = {"id": next(_job_ids), "selector": [ray.put(make_selector)], "text_field": text_field,
           "reserved": tuple(reserved_fields), "on_error": on_error, "batch_size": batch_size, "options": options,
           "k": k, "budget_bytes": budget_bytes, "raw_counts": None, "scores_differ": is_dsir}
    try:
        raw_counts = positions = fit_stats = None
        if first_pass is not None:
            texts, fit_stats = _first_texts(pool, job, plan, names, first_pass[0], on_error, first_pass[2])
            make_selector = first_pass[1](texts)
            job = {**job, "id": next(_job_ids), "selector": [ray.put(make_selector)]}
            clock["fit"] = time.perf_counter()
        if is_dsir:
            raw_counts, positions, fit_stats, lost = _fit_dsir(pool, job, plan, names, fit_sample, on_error)
            if lost:  # a corrupt piece mid-file: the local reader loses the rest of that file
                plan = [s for s in plan if (s.file, s.piece) not in lost]
                raw_counts, positions, fit_stats, _ = _fit_dsir(pool, job, plan, names, fit_sample, on_error)
            probe.fit_counts(raw_counts)
            probe.select([], k=k, budget_bytes=budget_bytes, batch_size=batch_size, **options)
            job["raw_counts"] = [ray.put(raw_counts)]
            clock["fit"] = time.perf_counter()
        scored = _score(pool, job, plan, names, positions, on_error, on_progress)
        if scored["lost_tails"]:  # a corrupt piece mid-file: the local reader loses the rest of that file
            plan = [s for s in plan if (s.file, s.piece) not in scored["lost_tails"]]
            job = {**job, "id": next(_job_ids)}
            scored = _score(pool, job, plan, names, positions, on_error, on_progress)
        clock["score"] = time.perf_counter()
        kept = _fetch_winners(scored, plan, text_field)
        clock["fetch"] = time.perf_counter()
        per_actor = pool.records_per_actor()
    finally:
        pool.close()
    seconds = {"connect_and_plan": clock["planned"] - clock["start"], "start_actors": clock["actors"] - clock["planned"]}
    if "fit" in clock:
        seconds["fit"] = clock["fit"] - clock["actors"]
    seconds["score"] = clock["score"] - clock.get("fit", clock["actors"])
    seconds["merge"] = scored["merge_seconds"]
    seconds["build_selector"] = pool.build_seconds
    seconds["fetch_winners"] = clock["fetch"] - clock["score"]
    return RaySelection(kept, scored["stats"], fit_stats, n_actors, {key: round(v, 3) for key, v in seconds.items()},
                        raw_counts, dict(Counter(s.kind for s in plan)), per_actor, scored["rank_rows"],
                        scored["rank_rows"] * job_rank_dtype(job).itemsize,
                        round(scored["scoring_seconds"], 3), round(scored["busy_seconds"], 3))


class _ActorPool:
    """``n`` restartable actors; splits are dealt to whichever has room, results come back as they finish."""

    def __init__(self, ray, n: int, threads: int):
        self.ray = ray
        # Restarted on death, and the split it held run again: the output does not change.
        remote = ray.remote(SplitWorker).options(num_cpus=threads, max_restarts=-1, max_task_retries=-1)
        self.actors = [remote.remote() for _ in range(n)]
        # Wait for the actors' processes (start and import), so that cost is a stage of its own.
        try:
            ray.get([actor.ready.remote() for actor in self.actors])
        except ray.exceptions.RayError as err:
            inner = unwrap_ray_error(err)
            raise (err if inner is err else inner) from None
        self.load = [0] * n
        self.done = [0] * n
        self.build_seconds = 0.0

    def run(self, method: str, calls: List[tuple], on_result: Callable[[Any], None]) -> None:
        """Call ``actor.method(*args)`` for every args tuple of ``calls`` on the least loaded actor,
        keeping _IN_FLIGHT calls per actor; ``on_result`` gets each result as it arrives."""
        pending: Dict[Any, int] = {}
        queue = list(reversed(calls))
        while queue or pending:
            while queue and min(self.load) < _IN_FLIGHT:
                i = self.load.index(min(self.load))
                pending[getattr(self.actors[i], method).remote(*queue.pop())] = i
                self.load[i] += 1
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                self.load[i] -= 1
                try:
                    result = self.ray.get(ref)
                except self.ray.exceptions.RayError as err:
                    inner = unwrap_ray_error(err)
                    raise (err if inner is err else inner) from None
                self.done[i] += result.get("records", 0) if method == "score" else 0
                self.build_seconds += result.get("build_seconds", 0.0)
                on_result(result)

    def records_per_actor(self) -> List[int]:
        return list(self.done)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


def _first_lines(plan: List[Split], lines: np.ndarray) -> np.ndarray:
    """Line number in its file of the line before each split (0 for a file's first split)."""
    before = np.zeros(len(plan), np.int64)
    for i in range(1, len(plan)):
        if plan[i].file == plan[i - 1].file:
            before[i] = before[i - 1] + lines[i - 1]
    return before


class _Tally:
    """Counts of a pass over the splits, and the first bad record that must be raised."""

    def __init__(self, plan: List[Split], names: List[str], on_error: str):
        self.plan, self.names, self.on_error = plan, names, on_error
        n = len(plan)
        self.records = np.zeros(n, np.int64)
        self.lines = np.zeros(n, np.int64)
        self.blank = self.empty = 0
        self.bad: List[tuple] = []  # (split, line in split, reason, detail, skippable)

    def add(self, result: Dict[str, Any]) -> None:
        s = result["split"]
        self.records[s] = result["records"]
        self.lines[s] = result["lines"]
        self.blank += result["blank_lines"]
        self.empty += result["empty_texts"]
        self.bad.extend((s, *row) for row in result["bad"])

    def finish(self) -> ReadStats:
        """ReadStats of the pass; raises the first bad record in input order that must be raised."""
        before = _first_lines(self.plan, self.lines)
        skipped: Counter = Counter()
        for s, line, reason, detail, skippable, hint in sorted(self.bad, key=lambda b: (b[0], b[1])):
            if self.on_error == "skip" and skippable:
                skipped[reason] += 1
                continue
            raise BadRecord(self.names[self.plan[s].file], int(before[s] + line), reason, detail, skippable, hint)
        return ReadStats(records=int(self.records.sum()), skipped=skipped, files=len(self.names),
                         blank_lines=self.blank, empty_texts=self.empty)

    def lost_tails(self) -> set:
        """(file, piece) of splits after a split whose compressed data broke off (skip mode)."""
        lost = set()
        for s, _, reason, _, _, _ in self.bad:
            if reason == UNREADABLE_TAIL:
                lost |= {(t.file, t.piece) for t in self.plan[s + 1:] if t.file == self.plan[s].file}
        return lost


def _fit_dsir(pool: _ActorPool, job, plan: List[Split], names: List[str], fit_sample: Optional[int], on_error: str):
    """DSIR's p_R counts summed over the cluster (integer sums: exact in any order), the global
    stream position of each split's first record, and the fit pass's ReadStats. With
    ``fit_sample`` = N only the first N records count: a second small pass counts the splits
    that hold them."""
    tally = _Tally(plan, names, on_error)
    total = None

    def add(result):
        nonlocal total
        tally.add(result)
        if result["ngrams"] is not None:
            total = result["ngrams"] if total is None else total + result["ngrams"]

    pool.run("count", [(job, split, i, None, fit_sample is None) for i, split in enumerate(plan)], add)
    stats = tally.finish()
    lost = tally.lost_tails() if on_error == "skip" else set()
    if lost:
        return None, None, None, lost
    positions = np.concatenate([[0], np.cumsum(tally.records)[:-1]]).astype(np.int64)
    counted = stats.records
    if fit_sample is not None:
        total, counted = None, 0
        calls = []
        for i, split in enumerate(plan):
            left = fit_sample - int(positions[i])
            if left > 0 and tally.records[i]:
                calls.append((job, split, i, None if left >= tally.records[i] else left, True))
        sampled = []
        pool.run("count", calls, sampled.append)
        for result in sampled:
            add(result)
            counted += result["counted"]
    if not counted:
        raise ValueError("the raw sample is empty: fit p_R on at least one text of the pool")
    return total, positions, ReadStats(records=counted, files=len(names)), set()


def _first_texts(pool: _ActorPool, job, plan: List[Split], names: List[str], n: int, on_error: str,
                 seed: Optional[int] = None):
    """The texts of the first ``n`` records in input order (with ``seed``: of the seeded random
    sample of n records), and the ReadStats of reading them: a count of every split, then the
    texts of the splits that hold the first n records (the n largest keys of each split)."""
    tally = _Tally(plan, names, on_error)
    pool.run("count", [(job, split, i, None, False) for i, split in enumerate(plan)], tally.add)
    read = tally.finish()
    before = np.concatenate([[0], np.cumsum(tally.records)[:-1]])
    if seed is not None:
        found: List[tuple] = []
        calls = [(job, split, i, int(before[i]), n, seed) for i, split in enumerate(plan) if tally.records[i]]
        pool.run("sample", calls, lambda r: found.extend(zip(r["keys"], r["positions"], r["texts"])))
        keys = np.array([f[0] for f in found], np.float64)
        positions = np.array([f[1] for f in found], np.int64)
        texts = [found[i][2] for i in top_positions(keys, positions, n)]
        return texts, read  # the draw read every record, as the local one does
    calls = [(job, split, i, int(min(n - before[i], tally.records[i])), False, True)
             for i, split in enumerate(plan) if before[i] < n and tally.records[i]]
    parts: Dict[int, List[str]] = {}
    pool.run("count", calls, lambda result: parts.__setitem__(result["split"], result["texts"]))
    texts = [t for i in sorted(parts) for t in parts[i]]
    return texts, ReadStats(records=len(texts), files=len(names))


def _score(pool: _ActorPool, job, plan: List[Split], names: List[str], positions: Optional[np.ndarray],
           on_error: str, on_progress) -> Dict[str, Any]:
    """Run the scoring pass; returns the merged ranked prefix (rank columns), the ReadStats, and
    the splits lost after a broken compressed piece."""
    tally = _Tally(plan, names, on_error)
    state = {"kept": None, "stop": None, "pending": [], "pending_rows": 0, "rank_rows": 0, "scoring": 0.0, "busy": 0.0,
             "done": 0, "records": 0, "merge": 0.0}
    total_bytes = sum(max(s.end - s.start, 0) for s in plan) or 1
    k, budget = job["k"], job["budget_bytes"]

    def compact():
        started = time.perf_counter()
        merged = np.concatenate(([state["kept"]] if state["kept"] is not None else []) + state["pending"])
        # A split retried after its actor died may send its rows twice: keep one copy of each record.
        place = (merged["split"].astype(np.uint64) << np.uint64(32)) | merged["ordinal"].astype(np.uint64)
        _, first = np.unique(place, return_index=True)
        if len(first) < len(merged):
            merged = merged[np.sort(first)]
        order, state["stop"] = ranked_prefix(merged["key"], merged["split"], merged["ordinal"], rank_sizes(merged), k,
                                             budget, state["stop"])
        state["kept"] = merged[order]
        state["pending"], state["pending_rows"] = [], 0
        state["merge"] += time.perf_counter() - started

    def add(result):
        tally.add(result)
        state["stop"] = better_stop(state["stop"], result["stop"])
        rows = result["rows"]
        state["rank_rows"] += len(rows)
        state["scoring"] += result["scoring_seconds"]
        state["busy"] += result["seconds"]
        if len(rows):
            state["pending"].append(rows)
            state["pending_rows"] += len(rows)
            if state["pending_rows"] >= _COMPACT_ROWS:
                compact()
        split = plan[result["split"]]
        state["done"] += max(split.end - split.start, 0)
        state["records"] += result["records"]
        if on_progress is not None:
            on_progress(state["done"], total_bytes, state["records"])

    pool.run("score", [(job, split, i, None if positions is None else int(positions[i]))
                       for i, split in enumerate(plan)], add)
    stats = tally.finish()
    lost = tally.lost_tails() if on_error == "skip" else set()
    if state["pending"] or state["kept"] is not None:
        compact()
    return {"kept": state["kept"], "stats": stats, "records": tally.records, "lost_tails": lost,
            "rank_rows": state["rank_rows"], "scoring_seconds": state["scoring"], "busy_seconds": state["busy"],
            "merge_seconds": state["merge"]}


def _fetch_winners(scored: Dict[str, Any], plan: List[Split], text_field: str) -> List[ScoredRecord]:
    """The kept records, read again from their splits by offset (a second, small read), as
    ScoredRecords with their global stream position."""
    kept = scored["kept"]
    if kept is None or not len(kept):
        return []
    first_record = np.concatenate([[0], np.cumsum(scored["records"])[:-1]])
    records: Dict[tuple, Dict[str, Any]] = {}
    for s in np.unique(kept["split"]):
        offsets = kept["offset"][kept["split"] == s]
        for offset, record in records_at(plan[int(s)], offsets.tolist(), text_field).items():
            records[(int(s), offset)] = record
    return [ScoredRecord(records[(int(s), int(o))], float(score), int(first_record[s] + ordinal))
            for s, o, score, ordinal in zip(kept["split"], kept["offset"], rank_scores(kept), kept["ordinal"])]
