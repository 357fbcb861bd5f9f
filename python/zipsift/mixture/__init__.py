"""Data-mixture optimisation for supervised fine-tuning.

Plan the 4K + 1 small runs (``plan_runs``), train them, fit a law on their per-domain validation
losses (``MixtureLaw`` — Li, Liu & Xing, ICML 2025 — or ``DataMixingLaw`` — Ye et al. 2024), and
choose the weights that minimise the summed predicted loss at your budget (``law.optimize(N0)``).
``grid_search`` is the baseline the paper compares against. Needs scipy:
``pip install "zipsift[mixture]"``.

>>> runs = plan_runs(["code", "math"], 10_000_000)         # train these, add {"loss": {...}}
>>> law = MixtureLaw().fit(runs_with_losses)                  # doctest: +SKIP
>>> law.optimize(total_tokens=20_000_000).weights             # doctest: +SKIP
"""
from .laws import DataMixingLaw, MixtureLaw
from .optimize import GridSearchResult, MixtureResult, grid_search
from .runs import SCALES, check_runs, plan_runs

__all__ = ["plan_runs", "SCALES", "check_runs", "MixtureLaw", "DataMixingLaw", "MixtureResult",
           "GridSearchResult", "grid_search"]
