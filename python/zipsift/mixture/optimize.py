"""Choosing mixture weights: minimise the summed predicted loss on the simplex, and the grid-search
baseline it is compared with."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Sequence, Union

import numpy as np

__all__ = ["MixtureResult", "GridSearchResult", "grid_search", "minimize_on_simplex", "check_weights",
           "require_scipy"]


def require_scipy():
    try:
        import scipy.optimize
    except ImportError:
        raise ImportError('zipsift.mixture fits and optimises with scipy, which is not installed; '
                          'run: pip install "zipsift[mixture]"') from None
    return scipy.optimize


@dataclass(frozen=True)
class MixtureResult:
    """An optimised mixture.

    weights : domain -> weight w_i (w_i >= 0, Σ w_i = 1).
    losses : domain -> predicted validation loss L_i(w).
    total_loss : Σ_i L_i(w), the objective that was minimised.
    total_tokens : the budget N0 the weights are for.
    tokens : domain -> w_i · N0.
    """

    weights: Dict[str, float]
    losses: Dict[str, float]
    total_loss: float
    total_tokens: float
    tokens: Dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GridSearchResult:
    """The best mixture of a grid, and every mixture evaluated as ``(weights, losses)`` in grid order."""

    weights: Dict[str, float]
    losses: Dict[str, float]
    total_loss: float
    evaluated: List[tuple]


def check_total_tokens(total_tokens) -> float:
    if isinstance(total_tokens, bool) or not isinstance(total_tokens, (int, float, np.integer, np.floating)) \
            or not math.isfinite(total_tokens) or total_tokens <= 0:
        raise ValueError(f"total_tokens must be a finite number > 0, got {total_tokens!r}")
    return float(total_tokens)


def check_weights(weights: Mapping[str, float], domains: Sequence[str], atol: float = 1e-6) -> np.ndarray:
    """Weights as a float64 array in ``domains`` order; ValueError unless they are on the simplex."""
    if not isinstance(weights, Mapping):
        raise ValueError(f"weights must be a dict domain -> weight, got {type(weights).__name__}")
    if set(weights) != set(domains):
        raise ValueError(f"weights name domains {sorted(weights)}, expected exactly {sorted(domains)}")
    w = np.array([weights[d] for d in domains], dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < -atol):
        raise ValueError(f"weights must be finite and >= 0, got {dict(weights)}")
    if abs(w.sum() - 1.0) > atol:
        raise ValueError(f"weights must sum to 1 (they are fractions of total_tokens), they sum to {w.sum():.8g}")
    return np.clip(w, 0.0, None)


def _simplex_starts(k: int) -> List[np.ndarray]:
    starts = [np.full(k, 1.0 / k)]
    for i in range(k):  # one start leaning towards each domain
        w = np.full(k, 0.4 / max(k - 1, 1))
        w[i] = 0.6
        starts.append(w / w.sum())
    return starts


def minimize_on_simplex(objective: Callable[[np.ndarray], float], k: int) -> np.ndarray:
    """argmin over {w : w_i >= 0, Σ w_i = 1} of ``objective(w)``, by SLSQP from several starts.

    Returns a float64 array of shape (k,), clipped at 0 and renormalised to sum to 1.
    """
    opt = require_scipy()
    best_w, best_f = None, math.inf
    for w0 in _simplex_starts(k):
        res = opt.minimize(objective, w0, method="SLSQP", bounds=[(0.0, 1.0)] * k,
                           constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1.0,
                                         "jac": lambda w: np.ones_like(w)}],
                           options={"ftol": 1e-14, "maxiter": 1000})
        w = np.clip(res.x, 0.0, None)
        w = w / w.sum()
        f = objective(w)
        if np.isfinite(f) and f < best_f:
            best_w, best_f = w, f
    if best_w is None:
        raise RuntimeError("the mixture optimisation found no point with a finite predicted loss")
    return best_w


def _grid(k: int, resolution: int):
    # all compositions of `resolution` into k non-negative parts, i.e. weights in steps of 1/resolution
    for bars in itertools.combinations(range(resolution + k - 1), k - 1):
        parts, prev = [], -1
        for b in bars:
            parts.append(b - prev - 1)
            prev = b
        parts.append(resolution + k - 2 - prev)
        yield np.array(parts, dtype=float) / resolution


def grid_search(evaluate: Union[Callable[[Dict[str, float]], Mapping[str, float]], object],
                domains: Sequence[str], resolution: int = 5, total_tokens: float = None) -> GridSearchResult:
    """The grid-search baseline: evaluate every mixture whose weights are multiples of 1/resolution.

    There are C(resolution + K − 1, K − 1) such mixtures (21 for K = 3, resolution = 5: the size of the
    grid Li, Liu & Xing compare against). ``evaluate`` is either a fitted law (its ``predict`` is used
    at ``total_tokens``) or any callable ``weights dict -> {domain: loss}``, e.g. one that trains and
    evaluates a model. The best mixture minimises the summed loss; ties go to the earlier grid point.
    """
    domains = list(domains)
    if len(domains) < 2 or len(set(domains)) != len(domains):
        raise ValueError(f"domains must be at least 2 distinct names, got {domains!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise ValueError(f"resolution must be an integer >= 1 (weights move in steps of 1/resolution), "
                         f"got {resolution!r}")
    if hasattr(evaluate, "predict"):
        law, n0 = evaluate, check_total_tokens(total_tokens)
        evaluate = lambda weights: law.predict(weights, n0)  # noqa: E731
    elif not callable(evaluate):
        raise ValueError("evaluate must be a fitted law or a callable weights -> {domain: loss}")
    evaluated, best = [], None
    for w in _grid(len(domains), int(resolution)):
        weights = {d: float(x) for d, x in zip(domains, w)}
        losses = evaluate(weights)
        if not isinstance(losses, Mapping) or set(losses) != set(domains):
            raise ValueError(f"evaluate({weights}) must return a dict with a loss for each of {domains}, "
                             f"got {losses!r:.200}")
        total = float(sum(losses[d] for d in domains))
        if not math.isfinite(total):
            raise ValueError(f"evaluate({weights}) returned a non-finite loss: {losses}")
        evaluated.append((weights, dict(losses)))
        if best is None or total < best[2]:
            best = (weights, dict(losses), total)
    return GridSearchResult(best[0], best[1], best[2], evaluated)
