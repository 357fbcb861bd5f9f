"""The engine interface: a selection job (scores, or a submodular objective), its result, and the
errors an engine raises."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence

from ..io import ReadStats
from ..progress import OnProgress
from ..stream import ScoredRecord

# fit(selector, records, on_progress): a first streaming pass over the sources, for methods that
# learn from the pool before scoring it (DSIR fits p_R). It may read only a prefix of the records.
FitPass = Callable[[Any, Any, OnProgress], None]


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
    with ``fit_seed``, a seeded random sample of that many records instead (``zipsift.sample``). ``progress(label, read)``: a
    context manager that is an ``on_progress(done, total)`` (zipsift.progress; documents done), given
    the ReadStats of the pass when the engine reads in this process (``read``, for the share of the
    input read so far) and with a settable ``fraction`` otherwise; or None for no progress."""

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


@dataclass
class SubmodularJob:
    """One submodular selection (``zipsift select submodular``). ``objective``: "fl", "flmi", ...
    ``picks(n)``: how many of n rows to pick (raises on a budget that picks nothing).
    ``make_kernels()``: the PoolKernels on this machine (zipsift.submodular.sources; reads the
    records and checks memory itself). ``maximize(kernels, picks, on_progress)``: the objective's
    greedy on them, a ``zipsift.submodular.Selection``. ``embeddings``: the pool's vectors X (n, d)
    when the kernel is made from them (``metric``, ``gamma``, ``knn``), else None (a model's or a
    codec's kernel). ``options``: optimizer, epsilon, seed, stop_if_zero_gain. ``threads``: native
    threads of this process. ``progress(label)``: a context manager that is an on_progress, or None."""

    objective: str
    picks: Callable[[int], int]
    make_kernels: Callable[[], Any]
    maximize: Callable[[Any, int, Optional[OnProgress]], Any]
    embeddings: Any = None
    metric: str = "cosine"
    gamma: Optional[float] = None
    knn: Optional[int] = None
    options: Dict[str, Any] = field(default_factory=dict)
    threads: int = 0
    progress: Optional[Callable[[str], Any]] = None


@dataclass
class SubmodularResult:
    """``selection``: the picks (zipsift.submodular.Selection; gains are marginal gains of the
    objective over the whole pool). ``kernels``: the PoolKernels it ran on, or None when no whole
    pool kernel was built (GreeDi on Ray). ``kernel``: what the report says about the kernel(s).
    ``info``: what the engine reports about itself (None for the local engine)."""

    selection: Any
    kernels: Any = None
    kernel: Dict[str, Any] = field(default_factory=dict)
    info: Optional[Dict[str, Any]] = None


class Engine(Protocol):
    name: str

    def select(self, job: SelectJob) -> SelectResult: ...

    def maximize(self, job: SubmodularJob) -> SubmodularResult: ...
