"""Engines: where a `zipsift select METHOD` pipeline reads and scores the pool.

One interface, two engines. ``run_select`` (the CLI) builds a :class:`SelectJob` and calls
``engine.select(job)``; the engine returns a :class:`SelectResult` with the kept records (as
``ScoredRecord``, best first), what it read, and, for the report, what it did. `select
submodular` builds a :class:`SubmodularJob` and calls ``engine.maximize(job)``.

* :class:`LocalEngine` (``engine.local``): this process, the selector's own streaming ``select``.
* :class:`RayEngine` (``engine.ray``): a Ray cluster — splits of files scored by actors, ranks
  merged on the driver, winners read again; the same records, scores and order. Submodular
  selection runs GreeDi (facility location on parts, then on the union of their picks): an
  approximation of the single-machine greedy.
"""
from __future__ import annotations

from .job import EmptyPool, Engine, FitPass, NotDistributed, SelectJob, SelectResult, SubmodularJob, SubmodularResult
from .local import LocalEngine


def ray_engine(**kwargs) -> "Engine":
    """A RayEngine (``engine.ray``); Ray is imported only when it runs."""
    from .ray.engine import RayEngine

    return RayEngine(**kwargs)


__all__ = ["Engine", "SelectJob", "SelectResult", "SubmodularJob", "SubmodularResult", "FitPass", "LocalEngine",
           "NotDistributed", "EmptyPool", "ray_engine"]
