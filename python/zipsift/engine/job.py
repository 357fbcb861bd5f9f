"""The engine interface: a selection job, its result, and the errors an engine raises."""
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
