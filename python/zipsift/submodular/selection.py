"""The result of a greedy selection, and the options every optimizer shares."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Union

import numpy as np

__all__ = ["Selection", "OPTIMIZERS", "resolve_budget"]

OPTIMIZERS = ("naive", "lazy", "stochastic", "lazier_than_lazy")


@dataclass(frozen=True)
class Selection:
    """``indices``: int64 (k,), the picks in order. ``gains``: float64 (k,), the marginal gain of
    each pick when it was made. ``objective``: f(selected). ``evaluations``: gain evaluations made."""

    indices: np.ndarray
    gains: np.ndarray
    objective: float
    objective_name: str = ""
    optimizer: str = ""
    evaluations: int = 0
    n: int = 0
    meta: dict = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def mask(self) -> np.ndarray:
        """bool (n,): True for selected items."""
        out = np.zeros(self.n, dtype=bool)
        out[self.indices] = True
        return out


def resolve_budget(budget: Union[int, float], n: int) -> int:
    """A count in [0, n] from a count (int) or a fraction of n (float in (0, 1], rounded to nearest)."""
    if isinstance(budget, bool):
        raise ValueError(f"budget must be a count (int) or a fraction of n (float in (0, 1]), got {budget!r}")
    if isinstance(budget, (int, np.integer)):
        if budget < 0:
            raise ValueError(f"budget must be >= 0, got {budget}")
        if budget > n:
            raise ValueError(f"budget {budget} is larger than the ground set ({n} items); give at most {n} "
                             "or a fraction such as 0.3")
        return int(budget)
    if isinstance(budget, (float, np.floating)):
        if not (math.isfinite(budget) and 0 < budget <= 1):
            raise ValueError(f"a float budget is a fraction of n in (0, 1], got {budget!r}; "
                             "give an int for a count")
        return int(math.floor(budget * n + 0.5))
    raise ValueError(f"budget must be an int (count) or a float (fraction of n), got {type(budget).__name__}")
