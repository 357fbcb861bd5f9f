"""GreeDi (Mirzasoleiman et al., 2013) for facility location on a Ray cluster — an approximation.

Partition the pool V into m parts, run greedy facility location on each part's own kernel (one Ray
task per part, in parallel), then run greedy again on the union of the parts' picks. The objective
reported is the single-machine one over all of V,

    f_V(A) = Σ_{i∈V} max_{j∈A} max(s_ij, 0),

so it can be compared with single-machine greedy, and each pick's gain is its marginal gain in
f_V (the gains sum to the objective, as the single-machine selection's do). GreeDi's guarantee is
(1 − 1/e)² / min(m, k) of the optimum in the worst case; on real data it is usually within a few
per cent of greedy (docs/ray.md states the measured ratio). Unlike ZIP-FIT and DSIR under
``zipsift.engine.ray``, its picks are NOT those of the single-machine run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...submodular import facility_location, kernel, resolve_budget
from .connect import connect

# Rows of V per block when the gains over all of V are computed: a (rows, k) float32 kernel block.
_GAIN_BLOCK_ROWS = 4096


@dataclass(frozen=True)
class GreeDiSelection:
    """``indices``: int64 (k,) rows of X in pick order. ``objective``: f_V of them (float).
    ``gains``: float64 (k,), each pick's marginal gain in f_V. ``parts``: m. ``candidates``: size
    of the union the second greedy ran on. ``evaluations``: gain evaluations of all greedy runs."""

    indices: np.ndarray
    objective: float
    parts: int
    candidates: int
    gains: Optional[np.ndarray] = None
    evaluations: int = 0


def facility_location_gains(X: np.ndarray, picks: np.ndarray, metric: str = "cosine", gamma: Optional[float] = None,
                            threads: int = 0) -> np.ndarray:
    """Marginal gains float64 (k,) of ``picks`` in order under f_V(A) = Σ_i max_{j∈A} max(s_ij, 0),
    over every row i of X (n, d): gain_t = f_V(A_t) − f_V(A_{t−1}). Computed in blocks of rows, so
    it needs 4·4096·k bytes, never the n × k kernel."""
    X = np.asarray(X)
    picks = np.asarray(picks, dtype=np.int64)
    gains = np.zeros(len(picks), np.float64)
    if not len(picks):
        return gains
    Y = X[picks]
    for start in range(0, len(X), _GAIN_BLOCK_ROWS):
        block = kernel(X[start:start + _GAIN_BLOCK_ROWS], metric, Y=Y, gamma=gamma, clip_negative=True,
                       threads=threads).toarray()
        best = np.maximum.accumulate(block, axis=1).astype(np.float64)
        gains[0] += best[:, 0].sum()
        gains[1:] += (best[:, 1:] - best[:, :-1]).sum(axis=0)
    return gains


def facility_location_objective(X: np.ndarray, picks: np.ndarray, metric: str = "cosine",
                                threads: int = 0, gamma: Optional[float] = None) -> float:
    """f_V(A) = Σ_i max_{j∈A} max(s_ij, 0) over every row i of X (n, d), A = ``picks``; float64 sum."""
    return float(facility_location_gains(X, picks, metric, gamma, threads).sum())


def _greedy_on_part(X: np.ndarray, rows: np.ndarray, budget: int, metric: str, gamma: Optional[float],
                    options: dict, threads: int):
    K = kernel(X[rows], metric, gamma=gamma, clip_negative=True, threads=threads)
    sel = facility_location(K, min(budget, len(rows)), threads=threads, **options)
    return rows[sel.indices], sel.evaluations


def greedi_facility_location(X, budget, parts: int, metric: str = "cosine", seed: int = 0,
                             threads_per_task: int = 1, address: Optional[str] = None, *,
                             gamma: Optional[float] = None, optimizer: str = "lazy", epsilon: float = 0.1,
                             stop_if_zero_gain: bool = False, threads: int = 0) -> GreeDiSelection:
    """GreeDi on the rows of X (n, d) float: ``budget`` picks (count, or fraction of n), ``parts``
    random parts of about n/m rows (permutation seeded by ``seed``), one Ray task per part with
    ``threads_per_task`` native threads, then greedy on the union on the driver (``threads``).
    ``gamma`` (rbf), ``optimizer``, ``epsilon`` and ``stop_if_zero_gain`` are those of
    ``zipsift.submodular.facility_location`` (the stochastic optimizers are seeded by ``seed``)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"X must be a non-empty 2-d array (rows x dimensions), got shape {X.shape}")
    if isinstance(parts, bool) or not isinstance(parts, (int, np.integer)) or not 1 <= parts <= len(X):
        raise ValueError(f"parts must be an integer in [1, {len(X)}] (the number of partitions), got {parts!r}")
    k = resolve_budget(budget, len(X))
    options = {"optimizer": optimizer, "epsilon": epsilon, "seed": seed, "stop_if_zero_gain": stop_if_zero_gain}
    # The arguments fail here, in one line, rather than inside a remote task.
    facility_location(np.zeros((1, 1), np.float32), 1, threads=threads, **options)
    kernel(X[:1], metric, gamma=gamma)
    ray = connect(address)
    order = np.random.default_rng(seed).permutation(len(X))
    splits = np.array_split(order, parts)
    task = ray.remote(num_cpus=threads_per_task)(_greedy_on_part)
    X_ref = ray.put(X)
    # Every task gets X by reference (put once, read zero-copy from its node's object store).
    futures = [task.remote(X_ref, rows, k, metric, gamma, options, threads_per_task) for rows in splits]
    found = ray.get(futures)
    union = np.unique(np.concatenate([rows for rows, _ in found]))
    sel = facility_location(kernel(X[union], metric, gamma=gamma, clip_negative=True, threads=threads), k,
                            threads=threads, **options)
    picks = union[sel.indices].astype(np.int64)
    gains = facility_location_gains(X, picks, metric, gamma, threads)
    return GreeDiSelection(picks, float(gains.sum()), parts, len(union), gains,
                           sel.evaluations + sum(e for _, e in found))
