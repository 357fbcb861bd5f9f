"""Engines: where a `zipsift select METHOD` pipeline reads and scores the pool.

One interface, two engines. ``run_select`` (the CLI) builds a :class:`SelectJob` and calls
``engine.select(job)``; the engine returns a :class:`SelectResult` with the kept records (as
``ScoredRecord``, best first), what it read, and, for the report, what it did.

* :class:`LocalEngine` (``engine.local``): this process, the selector's own streaming ``select``.
* :class:`RayEngine` (``engine.ray``): a Ray cluster — splits of files scored by actors, ranks
  merged on the driver, winners read again; the same records, scores and order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence

from ..io import ReadStats
from ..stream import ScoredRecord

# fit(selector, records, on_batch): a first streaming pass over the sources, for methods that learn
# from the pool before scoring it (DSIR fits p_R). It may read only a prefix of the records.
FitPass = Callable[[Any, Any, Callable[[int], None]], None]


class NotDistributed(ValueError):
    """An option the chosen engine does not run; the message names the option and the way out."""


class EmptyPool(ValueError):
    """The first pass found no usable record; ``stats`` says what it skipped."""

    def __init__(self, stats: ReadStats):
        self.stats = stats
        super().__init__("the pool has no usable record")


@dataclass
class SelectJob:
    """One selection: ``make_selector(targets)`` scores ``sources``; keep ``k`` records or
    ``budget_bytes`` bytes of text. ``options``: keywords of the selector's ``select``. ``fit``:
    the method's first pass (``fit_name`` says which: "dsir_fit", "reference_sample",
    "length_baseline"), ``fit_sample``: DSIR's --fit-sample, ``fit_records``: how many of the first
    records the other first passes read (gain's --reference-sample, ZIP-FIT's --length-sample);
    with ``fit_seed``, a seeded random sample of that many records instead (``zipsift.sample``). ``progress(label)``: a context
    manager with ``update(n)`` (documents done), or None for no progress."""

    method: str
    sources: Sequence[str]
    targets: List[str]
    make_selector: Callable[[List[str]], Any]
    k: Optional[int] = None
    budget_bytes: Optional[int] = None
    text_field: str = "text"
    on_error: str = "raise"
    reserved_fields: Sequence[str] = ()
    batch_size: int = 4096
    options: Dict[str, Any] = field(default_factory=dict)
    fit: Optional[FitPass] = None
    fit_name: Optional[str] = None
    fit_sample: Optional[int] = None
    fit_records: Optional[int] = None
    fit_seed: Optional[int] = None
    progress: Optional[Callable[[str], Any]] = None


@dataclass
class SelectResult:
    """``kept``: best first. ``stats``: the scoring pass's reading. ``fit_stats``: the first pass's,
    or None. ``info``: what the engine reports about itself (None for the local engine)."""

    kept: List[ScoredRecord]
    stats: ReadStats
    fit_stats: Optional[ReadStats] = None
    info: Optional[Dict[str, Any]] = None


class Engine(Protocol):
    name: str

    def select(self, job: SelectJob) -> SelectResult: ...


from .local import LocalEngine  # noqa: E402  (the interface above is what it implements)


def ray_engine(**kwargs) -> "Engine":
    """A RayEngine (``engine.ray``); Ray is imported only when it runs."""
    from .ray.engine import RayEngine

    return RayEngine(**kwargs)


__all__ = ["Engine", "SelectJob", "SelectResult", "FitPass", "LocalEngine", "NotDistributed", "EmptyPool", "ray_engine"]
