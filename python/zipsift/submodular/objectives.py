"""Submodular objectives over a similarity kernel, maximised by the native greedy family.

s_ij is the similarity of ground element i to candidate j (``K[i, j]``); V is the ground set, A the
selection, Q a query set and P a private set (DELIFT, Agarwal et al. 2025; submodlib's definitions):

===================  ===============================================================  =========
function             f(A)                                                             kernels
===================  ===============================================================  =========
facility_location    Σ_{i∈V} max_{j∈A} s_ij                                           s ≥ 0
flmi                 Σ_{i∈V} min(max_{j∈A} s_ij, η · max_{q∈Q} s_iq)                  s ≥ 0
flcg                 Σ_{i∈V} max(max_{j∈A} s_ij − ν · max_{p∈P} s_ip, 0)              s ≥ 0
graph_cut            Σ_{i∈V, j∈A} s_ij − λ Σ_{i,j∈A} s_ij                             s ≥ 0
log_determinant      log det(S_A + r·I)                                               symmetric
disparity_sum        Σ_{i<j∈A} d_ij,  d_ij = 1 − (s_ij + s_ji)/2                      any
disparity_min        min_{i≠j∈A} d_ij  (greedy: farthest from the nearest pick)       any
===================  ===============================================================  =========

Optimizers (``optimizer=``): ``naive``, ``lazy`` (same picks as naive), ``stochastic`` and
``lazier_than_lazy`` (same picks as stochastic for a seed), with ``epsilon`` and ``seed``. Ties go
to the lowest index. Results are deterministic for a seed whatever ``threads`` is.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

import numpy as np

from .. import _core
from ..params import check_int, check_threads
from ..progress import OnProgress, report
from .kernels import (DenseKernel, SparseKernel, gib, as_kernel, available_memory, block_bounds_bytes,
                      dense_kernel_bytes)
from .selection import OPTIMIZERS, Selection, resolve_budget

__all__ = [
    "facility_location",
    "flmi",
    "flcg",
    "graph_cut",
    "log_determinant",
    "disparity_sum",
    "disparity_min",
]



def _check_values(k, what: str, nonnegative: bool, needed_by: str) -> None:
    bad, first, lo, _ = k.scan()
    if bad:
        if isinstance(k, DenseKernel):
            where = f"at ({first // k.shape[1]}, {first % k.shape[1]})"
        else:
            where = f"at stored entry {first}"
        raise ValueError(f"{what} holds {bad} NaN or inf entries (first {where}); a kernel must be finite")
    if nonnegative and lo < 0:
        raise ValueError(f"{what} has negative similarities (min {lo:.6g}) but {needed_by} needs s >= 0; build it "
                         "with kernel(X, metric, clip_negative=True), shift/rescale it to [0, 1], or clip it "
                         "with np.maximum(K, 0)")


def _pool(K, nonnegative: bool, needed_by: str, threads: int):
    k = as_kernel(K, "K", threads)
    if k.shape[0] != k.shape[1]:
        raise ValueError(f"K must be square (ground set x ground set) for {needed_by}, got shape {k.shape}; "
                         "a rectangular pool x query kernel goes in K_query / K_private")
    if k.shape[0] == 0:
        raise ValueError("K is empty: the ground set needs at least one item")
    _check_values(k, "K", nonnegative, needed_by)
    return k


def _side_row_max(Kside, n: int, what: str, needed_by: str, threads: int) -> np.ndarray:
    k = as_kernel(Kside, what, threads)
    if k.shape[0] != n:
        raise ValueError(f"{what} must have one row per ground element: shape (n={n}, q), got {k.shape}")
    if k.shape[1] == 0:
        raise ValueError(f"{what} has no columns; give at least one query/private item")
    _check_values(k, what, True, needed_by)
    return np.ascontiguousarray(k.row_max(), dtype=np.float32)


def _check_optimizer(optimizer: str, epsilon: float) -> None:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
    if optimizer in ("stochastic", "lazier_than_lazy") and not (0 < epsilon < 1):
        raise ValueError(f"epsilon must be in (0, 1) for {optimizer}, got {epsilon!r}")


def _run(name: str, k, budget, optimizer: str, objective: Callable[[Any, int], Any], *, epsilon: float = 0.1,
         seed: int = 0, stop_if_zero_gain: bool = False, stop_if_negative_gain: bool = False, threads: int = 0,
         on_progress: Optional[OnProgress] = None) -> Selection:
    """Maximise ``objective(native kernel, picks)`` (a native objective made by the caller: the
    choice of function is made here in Python, the core only maximises what it is given)."""
    _check_optimizer(optimizer, epsilon)
    threads = check_threads(threads)
    n = k.shape[0]
    b = resolve_budget(budget, n)
    seed = check_int(seed, "seed", 0, 2 ** 64 - 1)
    if isinstance(k, DenseKernel):
        _check_working_memory(name, k)
        native = _core.NativeKernel.dense(k.values, None if k.symmetric else k.columns(), n)
    else:
        native = _core.NativeKernel.sparse(k.csr(), k.csc(), n)
    indices, gains, value, evaluations = _core.maximize(
        objective(native, b), b, optimizer, epsilon=float(epsilon), seed=int(seed),
        stop_if_zero_gain=bool(stop_if_zero_gain), stop_if_negative_gain=bool(stop_if_negative_gain), threads=threads,
        progress=None if on_progress is None else (lambda picks: report(on_progress, picks, b)))
    return Selection(indices=indices, gains=gains, objective=float(value), objective_name=name,
                     optimizer=optimizer, evaluations=int(evaluations), n=n)


def _check_working_memory(name: str, k: DenseKernel) -> None:
    """What the selection adds to a dense kernel it is given (the transpose of a non-symmetric one,
    facility location's block bounds) must fit in the memory available now; if not, say to use kNN."""
    n = k.shape[0]
    extra = 0
    if not k.symmetric and k._cols is None:
        extra += dense_kernel_bytes(n)
    if name in ("facility_location", "flmi", "flcg"):
        extra += block_bounds_bytes(n)
    avail = available_memory()
    if avail and extra > 0.9 * avail:
        raise ValueError(f"{name} over this dense {n} x {n} kernel needs {gib(extra)} more (block bounds "
                         f"n²/4 bytes{', and the transpose of a non-symmetric kernel, 4n² bytes' if not k.symmetric else ''}) "
                         f"but only {gib(avail)} is available; use a sparse kNN kernel instead: "
                         "kernel(X, knn=32) (or --knn 32 on the command line)")


_OPTIONS_DOC = """
    budget: a count, or a float in (0, 1] for a fraction of n. optimizer: naive | lazy | stochastic |
    lazier_than_lazy; epsilon and seed for the last two. stop_if_zero_gain / stop_if_negative_gain
    end early when the best gain is 0 / negative. threads: 0 = every usable core. on_progress:
    ``(picks, budget)`` about every 100 ms (zipsift.progress; False stops the call). Returns a Selection.
"""


def facility_location(K, budget: Union[int, float], optimizer: str = "lazy", *, epsilon: float = 0.1,
                      seed: int = 0, stop_if_zero_gain: bool = False, stop_if_negative_gain: bool = False,
                      threads: int = 0, on_progress: Optional[OnProgress] = None) -> Selection:
    """Facility location: f(A) = Σ_{i∈V} max_{j∈A} s_ij over a square kernel K (n, n), s ≥ 0.

    K: a DenseKernel / SparseKernel from ``kernel``, a float (n, n) numpy array, or a scipy.sparse
    matrix (entries not stored are 0). A dense K of n >= 1024 also gets a bound per candidate and
    block of 16 rows (n²/4 bytes, 1/16 of the kernel) that lets gains skip blocks they cannot use;
    with the kernel's 4n² that is 10.6 GB at n = 50,000 (``dense_selection_bytes``). When the bounds
    do not fit in the memory available, a ValueError points to the kNN kernel (``knn=t``).
    """
    k = _pool(K, True, "facility_location", threads)
    return _run("facility_location", k, budget, optimizer,
                lambda native, b: _core.facility_location_objective(native, threads=threads), epsilon=epsilon, seed=seed,
                stop_if_zero_gain=stop_if_zero_gain, stop_if_negative_gain=stop_if_negative_gain,
                threads=threads, on_progress=on_progress)


def flmi(K, K_query, budget: Union[int, float], eta: float = 1.0, optimizer: str = "lazy", *,
         epsilon: float = 0.1, seed: int = 0, stop_if_zero_gain: bool = False,
         stop_if_negative_gain: bool = False, threads: int = 0, on_progress: Optional[OnProgress] = None) -> Selection:
    """Facility-location mutual information toward a query set Q (DELIFT's task-specific stage):
    f(A; Q) = Σ_{i∈V} min(max_{j∈A} s_ij, η · max_{q∈Q} s_iq).

    K: pool kernel (n, n); K_query: pool x query similarities (n, q); both s ≥ 0; eta ≥ 0.
    """
    return _facility_location_with_side("flmi", "cap", K, K_query, "K_query", "eta", eta, budget, optimizer,
                                        epsilon=epsilon, seed=seed, stop_if_zero_gain=stop_if_zero_gain,
                                        stop_if_negative_gain=stop_if_negative_gain, threads=threads,
                                        on_progress=on_progress)


def flcg(K, K_private, budget: Union[int, float], nu: float = 1.0, optimizer: str = "lazy", *,
         epsilon: float = 0.1, seed: int = 0, stop_if_zero_gain: bool = False,
         stop_if_negative_gain: bool = False, threads: int = 0, on_progress: Optional[OnProgress] = None) -> Selection:
    """Facility-location conditional gain given a private set P (DELIFT's continual stage):
    f(A | P) = Σ_{i∈V} max(max_{j∈A} s_ij − ν · max_{p∈P} s_ip, 0).

    K: pool kernel (n, n); K_private: pool x private similarities (n, p); both s ≥ 0; nu ≥ 0.
    """
    return _facility_location_with_side("flcg", "floor", K, K_private, "K_private", "nu", nu, budget, optimizer,
                                        epsilon=epsilon, seed=seed, stop_if_zero_gain=stop_if_zero_gain,
                                        stop_if_negative_gain=stop_if_negative_gain, threads=threads,
                                        on_progress=on_progress)


def _facility_location_with_side(name: str, bound: str, K, K_side, side_name: str, weight_name: str, weight: float,
                                 budget, optimizer: str, *, threads: int, **options) -> Selection:
    """FLMI and FLCG: facility location whose per-row coverage is capped (``bound="cap"``, FLMI) or
    offset (``"floor"``, FLCG) by ``weight`` · max over the side set of s_iq."""
    k = _pool(K, True, name, threads)
    if not (np.isfinite(weight) and weight >= 0):
        raise ValueError(f"{weight_name} must be a finite number >= 0, got {weight!r}")
    side_max = _side_row_max(K_side, k.shape[0], side_name, name, threads)
    limit = {bound: (np.float32(weight) * side_max).astype(np.float32)}
    return _run("facility_location", k, budget, optimizer,
                lambda native, b: _core.facility_location_objective(native, threads=threads, **limit),
                threads=threads, **options)


def graph_cut(K, budget: Union[int, float], lambda_: float = 0.5, optimizer: str = "lazy", *,
              epsilon: float = 0.1, seed: int = 0, stop_if_zero_gain: bool = False,
              stop_if_negative_gain: bool = False, threads: int = 0, on_progress: Optional[OnProgress] = None) -> Selection:
    """Graph cut: f(A) = Σ_{i∈V, j∈A} s_ij − λ Σ_{i,j∈A} s_ij (the second sum over ordered pairs,
    diagonal included). Monotone for λ ≤ 0.5; s ≥ 0."""
    k = _pool(K, True, "graph_cut", threads)
    if not (np.isfinite(lambda_) and lambda_ >= 0):
        raise ValueError(f"lambda_ must be a finite number >= 0, got {lambda_!r}")
    return _run("graph_cut", k, budget, optimizer,
                lambda native, b: _core.graph_cut_objective(native, float(lambda_)), epsilon=epsilon, seed=seed,
                stop_if_zero_gain=stop_if_zero_gain, stop_if_negative_gain=stop_if_negative_gain,
                threads=threads, on_progress=on_progress)


def log_determinant(K, budget: Union[int, float], regularizer: float = 1.0, optimizer: str = "lazy", *,
                    epsilon: float = 0.1, seed: int = 0, stop_if_zero_gain: bool = False,
                    stop_if_negative_gain: bool = False, threads: int = 0,
                    on_progress: Optional[OnProgress] = None) -> Selection:
    """Log determinant: f(A) = log det(S_A + r·I), r = ``regularizer``, by incremental Cholesky.

    K must be dense and symmetric, S + r·I positive definite on the picks (ValueError otherwise).
    With a positive semidefinite S and r ≥ 1 every gain is ≥ 0. Memory: 8·n·budget bytes.
    """
    k = _pool(K, False, "log_determinant", threads)
    if not isinstance(k, DenseKernel):
        raise ValueError("log_determinant needs a dense kernel (a kNN kernel is not positive semidefinite)")
    if not k.symmetric:
        raise ValueError("log_determinant needs a symmetric kernel (s_ij == s_ji); symmetrise it with "
                         "(K + K.T) / 2")
    if not (np.isfinite(regularizer) and regularizer >= 0):
        raise ValueError(f"regularizer must be a finite number >= 0, got {regularizer!r}")
    return _run("log_determinant", k, budget, optimizer,
                lambda native, b: _core.log_determinant_objective(native, float(regularizer), b),
                epsilon=epsilon, seed=seed,
                stop_if_zero_gain=stop_if_zero_gain, stop_if_negative_gain=stop_if_negative_gain,
                threads=threads, on_progress=on_progress)


def disparity_sum(K, budget: Union[int, float], optimizer: str = "naive", *, epsilon: float = 0.1, seed: int = 0,
                  stop_if_zero_gain: bool = False, stop_if_negative_gain: bool = False, threads: int = 0,
                  on_progress: Optional[OnProgress] = None) -> Selection:
    """Disparity sum: f(A) = Σ_{i<j∈A} d_ij with d_ij = 1 − (s_ij + s_ji)/2 (similarities in [0, 1]
    give distances in [0, 1]). Supermodular: a gain grows as A grows, so stale gains bound nothing
    and only ``naive`` and ``stochastic`` apply (``lazy`` raises ValueError)."""
    if optimizer in ("lazy", "lazier_than_lazy"):
        raise ValueError(f"disparity_sum's gains grow as the selection grows, so the {optimizer} optimizer's "
                         "stale bounds are not upper bounds; use optimizer='naive' or 'stochastic'")
    k = _pool(K, False, "disparity_sum", threads)
    return _run("disparity_sum", k, budget, optimizer, lambda native, b: _core.disparity_sum_objective(native),
                epsilon=epsilon, seed=seed,
                stop_if_zero_gain=stop_if_zero_gain, stop_if_negative_gain=stop_if_negative_gain,
                threads=threads, on_progress=on_progress)


def disparity_min(K, budget: Union[int, float], optimizer: str = "lazy", *, epsilon: float = 0.1, seed: int = 0,
                  stop_if_zero_gain: bool = False, stop_if_negative_gain: bool = False, threads: int = 0,
                  on_progress: Optional[OnProgress] = None) -> Selection:
    """Disparity min: f(A) = min_{i≠j∈A} d_ij, d_ij = 1 − (s_ij + s_ji)/2 (0 while |A| < 2).

    Not submodular: the greedy is the max–min dispersion greedy (a 2-approximation), picking the
    candidate farthest from its nearest pick; ``gains`` holds those distances (0 for the first pick,
    which is index 0 by the lowest-index rule; the stop rules skip it).
    """
    k = _pool(K, False, "disparity_min", threads)
    return _run("disparity_min", k, budget, optimizer, lambda native, b: _core.disparity_min_objective(native),
                epsilon=epsilon, seed=seed,
                stop_if_zero_gain=stop_if_zero_gain, stop_if_negative_gain=stop_if_negative_gain,
                threads=threads, on_progress=on_progress)
