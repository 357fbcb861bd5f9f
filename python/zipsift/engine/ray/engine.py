"""The Ray engine behind the ``Engine`` interface that ``run_select`` calls."""
from __future__ import annotations

import time
from typing import Optional

from ...io import DEFAULT_SPLIT_BYTES
from ...params import check_threads
from ..job import NotDistributed, SelectJob, SelectResult, SubmodularJob, SubmodularResult
from .select import select


# First passes over the first N records that the Ray engine runs: the actors read the texts, the
# driver fits, the actors score with the fitted selector.
FIRST_PASSES = ("reference_sample", "length_baseline")


def _fitted(job: SelectJob, texts):
    """The selector factory after ``job.fit`` on ``texts`` (the first N records): run once here
    (for the report's parameters and its errors), then per actor, replayed (gain: dictionaries of
    N texts) or as the fitted arrays (ZIP-FIT's length baseline, whose alignments are the cost)."""
    records = [{job.text_field: t} for t in texts]
    fitted = job.make_selector(job.targets)
    job.fit(fitted, iter(records), None)
    if job.fit_name == "length_baseline":
        knots, baseline = fitted.length_knots, fitted.baseline_alignment
        make_selector, targets = job.make_selector, job.targets

        def make():
            selector = make_selector(targets)
            selector.length_knots, selector.baseline_alignment = knots, baseline
            return selector
        return make
    make_selector, targets, fit, text_field = job.make_selector, job.targets, job.fit, job.text_field

    def replay():
        selector = make_selector(targets)
        fit(selector, iter([{text_field: t} for t in texts]), None)
        return selector
    return replay


class RayEngine:
    """Selection on a Ray cluster (``select``): ``address`` (None: RAY_ADDRESS, else a local Ray),
    ``actors`` (0: one per ``threads`` CPUs of the cluster), ``threads`` native threads per actor
    (0 means 1: Ray schedules actors on CPUs, not the core's pool), ``split_bytes`` per split."""

    name = "ray"

    def __init__(self, address: Optional[str] = None, actors: int = 0, threads: int = 0,
                 split_bytes: int = DEFAULT_SPLIT_BYTES):
        self.address = address
        self.actors = actors
        self.threads = check_threads(threads) or 1
        self.split_bytes = split_bytes

    def select(self, job: SelectJob) -> SelectResult:
        first_pass = None
        if job.fit is not None and job.fit_name != "dsir_fit":
            if job.fit_name not in FIRST_PASSES or job.fit_records is None:
                # Silently skipping the pass would change the scores (plain gain instead of Moore-Lewis).
                raise NotDistributed(f"--engine ray does not run the {job.fit_name} pass; run with --engine local")
            first_pass = (job.fit_records, lambda texts: _fitted(job, texts), job.fit_seed)
        progress = job.progress("score") if job.progress is not None else None
        meter = progress.__enter__() if progress is not None else None

        def on_progress(done_bytes: int, total_bytes: int, records: int) -> None:
            if meter is not None:
                meter.fraction = lambda: done_bytes / total_bytes if total_bytes else None
                meter(records, None)

        try:
            result = select(job.sources, lambda: job.make_selector(job.targets), k=job.k,
                            budget_bytes=job.budget_bytes, text_field=job.text_field, on_error=job.on_error,
                            reserved_fields=job.reserved_fields, options=job.options,
                            fit_sample=job.fit_sample if job.fit is not None else None, actors=self.actors,
                            threads_per_actor=self.threads, batch_size=job.batch_size,
                            split_bytes=self.split_bytes, address=self.address, on_progress=on_progress,
                            first_pass=first_pass)
        finally:
            if progress is not None:
                progress.__exit__(None, None, None)
        import ray

        info = {"address": self.address, "nodes": len([n for n in ray.nodes() if n.get("Alive")]),
                "cluster_cpus": ray.cluster_resources().get("CPU", 0), "actors": result.actors,
                "threads_per_actor": self.threads, "split_bytes": self.split_bytes, "splits": result.splits,
                "records_per_actor": result.records_per_actor, "rank_rows_to_driver": result.rank_rows,
                "rank_bytes_to_driver": result.rank_bytes, "seconds": result.seconds,
                "scoring_seconds": result.scoring_seconds}
        if result.splits.get("file"):
            info["note"] = ("gzip and one-frame zstd files cannot be split: each is read by one actor; "
                            "write multi-frame .jsonl.zst (zipsift's own outputs are) to spread them")
        return SelectResult(result.kept, result.stats, result.fit_stats, info)

    def maximize(self, job: SubmodularJob) -> SubmodularResult:
        """Facility location by GreeDi (``greedi_facility_location``): one part per actor of the
        cluster (``actors``, or its CPUs / ``threads``), each part's greedy a Ray task, then greedy on
        the union of their picks here; gains and objective are f_V over the whole pool. Other
        objectives, kernels not made from embeddings, and kNN kernels are refused before any work."""
        if job.objective != "fl":
            raise NotDistributed(f"--engine ray runs --objective fl (facility location, by GreeDi); "
                                 f"run --objective {job.objective} with --engine local")
        if job.embeddings is None:
            raise NotDistributed("--engine ray runs GreeDi on embeddings (--embeddings X.npy); run a model's "
                                 "or a codec's kernel with --engine local")
        if job.knn:
            raise NotDistributed("--engine ray builds a dense kernel per part (4 (n/parts)^2 bytes); drop --knn, "
                                 "or run --knn with --engine local")
        from ...submodular import Selection
        from .connect import connect
        from .greedi import greedi_facility_location

        X = job.embeddings
        picks = job.picks(len(X))
        started = time.perf_counter()
        ray = connect(self.address)
        parts = self.actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // self.threads)
        parts = min(parts, len(X))
        options = {k: job.options[k] for k in ("optimizer", "epsilon", "seed", "stop_if_zero_gain") if k in job.options}
        found = greedi_facility_location(X, picks, parts, job.metric, threads_per_task=self.threads,
                                         gamma=job.gamma, threads=job.threads, **options)
        selection = Selection(found.indices, found.gains, found.objective, "facility_location",
                              options.get("optimizer", "lazy"), found.evaluations, len(X),
                              meta={"approximation": "GreeDi"})
        rows = -(-len(X) // parts)
        about = {"kind": "dense", "parts": parts, "part_shape": [rows, rows], "bytes": 4 * rows * rows,
                 "candidates": found.candidates}
        info = {"address": self.address, "nodes": len([n for n in ray.nodes() if n.get("Alive")]),
                "cluster_cpus": ray.cluster_resources().get("CPU", 0), "parts": parts,
                "threads_per_part": self.threads, "candidates": found.candidates,
                "method": "GreeDi: greedy on each part, then greedy on the union of their picks (an approximation "
                          "of single-machine greedy; the gains and objective are over the whole pool)",
                "seconds": round(time.perf_counter() - started, 3)}
        return SubmodularResult(selection, None, about, info)
