"""The local engine: the pool streamed through the selector in this process."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Optional

from ..io import ReadStats, iter_records
from ..sample import seeded_sample
from .job import EmptyPool, SelectJob, SelectResult, SubmodularJob, SubmodularResult


def _quiet(done: int, total: Optional[int] = None) -> bool:
    return True


class LocalEngine:
    """Reads with ``zipsift.io.iter_records`` and keeps the best with the selector's ``select``
    (its own threads); a first pass (``job.fit``) streams the sources once before."""

    name = "local"

    def select(self, job: SelectJob) -> SelectResult:
        selector = job.make_selector(job.targets)
        progress = job.progress or (lambda label, read=None: nullcontext(_quiet))
        fit_stats = None
        if job.fit is not None:
            fit_stats = ReadStats()
            fit_records = iter_records(job.sources, text_field=job.text_field, on_error=job.on_error,
                                       stats=fit_stats, reserved_fields=job.reserved_fields)
            with progress("fit") as meter:
                try:
                    if job.fit_seed is not None:  # the first pass sees a seeded random sample
                        fit_records = iter(seeded_sample(fit_records, job.fit_records, job.fit_seed))
                    job.fit(selector, fit_records, meter)
                except ValueError:
                    if fit_stats.records == 0:
                        raise EmptyPool(fit_stats) from None
                    raise
        stats = ReadStats()
        records = iter_records(job.sources, text_field=job.text_field, on_error=job.on_error, stats=stats,
                               reserved_fields=job.reserved_fields)
        with progress("score" if job.fit is not None else "", stats) as meter:
            kept = selector.select(records, k=job.k, budget_bytes=job.budget_bytes, text_field=job.text_field,
                                   batch_size=job.batch_size, on_progress=meter, **job.options)
        return SelectResult(kept, stats, fit_stats)

    def maximize(self, job: SubmodularJob) -> SubmodularResult:
        """The whole pool's kernel(s) on this machine, then the objective's greedy."""
        built = job.make_kernels()
        picks = job.picks(built.pool.shape[0])
        progress = job.progress or (lambda label: nullcontext(None))
        with progress("") as meter:
            selection = job.maximize(built, picks, meter)
        K = built.pool
        about = {"kind": "sparse" if job.knn else "dense", "shape": list(K.shape), "bytes": int(K.nbytes)}
        if job.knn:
            about["knn"] = job.knn
        return SubmodularResult(selection, built, about)
