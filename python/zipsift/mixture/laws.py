"""Mixture laws: per-domain validation loss as a function of the data mixture, fitted on small runs.

Two laws behind one interface (``fit`` → ``predict`` / ``predict_tokens`` / ``optimize``):

``MixtureLaw`` — Li, Liu & Xing (ICML 2025). With N_i tokens of domain i and M_i = Σ_{j≠i} N_j::

    D_i = N_i + min(k_i · M_i^α_i, M_i)          effective data (transfer grows sublinearly)
    L_i = C_i · D_i^(−β_i) + E_i                  five parameters per domain

``DataMixingLaw`` — Ye et al. (2024). With proportions r_j = N_j / Σ N::

    L_i = c_i + k_i · exp(Σ_j t_ij · r_j)          reported in the gauge Σ_j t_ij = 0

Both are fitted per domain by bounded robust least squares (Huber loss on relative residuals
pred/observed − 1) from several starting points, and choose weights by minimising Σ_i L_i on the
simplex. Fitting and optimising need scipy: ``pip install "zipsift[mixture]"``.
"""
from __future__ import annotations

import itertools
import math
import warnings
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from .optimize import MixtureResult, check_total_tokens, check_weights, minimize_on_simplex, require_scipy
from .runs import check_runs

__all__ = ["MixtureLaw", "DataMixingLaw"]


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _quality(y: np.ndarray, pred: np.ndarray, cost: float) -> Dict[str, float]:
    resid = pred - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "n_runs": int(y.size),
        "rmse": float(np.sqrt(np.mean(resid ** 2))),
        "max_rel_error": float(np.max(np.abs(resid) / y)),
        "r2": float(1.0 - np.sum(resid ** 2) / ss_tot) if ss_tot > 0 else float("nan"),
        "huber_cost": float(cost),
    }


class _Law:
    """Shared plumbing: validation, prediction over weights or tokens, optimisation."""

    _min_runs_per_domain = 1

    def __init__(self, huber_delta: float = 0.01, n_starts: int = 8):
        self.huber_delta = _check_positive("huber_delta", huber_delta)
        if isinstance(n_starts, bool) or not isinstance(n_starts, int) or n_starts < 1:
            raise ValueError(f"n_starts must be an integer >= 1, got {n_starts!r}")
        self.n_starts = n_starts
        self.domains: List[str] = []
        self.params: Dict[str, Dict[str, Any]] = {}
        self.fit_quality: Dict[str, Dict[str, float]] = {}

    # -- subclass hooks --------------------------------------------------------------------------
    def _min_runs(self, k: int) -> int:
        raise NotImplementedError

    def _fit_domain(self, i: int, tokens: np.ndarray, y: np.ndarray, opt) -> tuple:
        """Fit domain i; returns (internal parameters, cost)."""
        raise NotImplementedError

    def _predict_internal(self, tokens: np.ndarray) -> np.ndarray:
        """Losses, float64 (n, K), for token counts (n, K)."""
        raise NotImplementedError

    def _best_huber_fit(self, i, residuals, starts, lower, upper, opt, max_nfev: int, tol: float) -> tuple:
        """Bounded robust (Huber) least squares from every start; the lowest cost wins and is
        recorded for domain i. Returns (parameters, cost)."""
        best = None
        for x0 in starts:
            res = opt.least_squares(residuals, x0, bounds=(lower, upper), loss="huber", f_scale=self.huber_delta,
                                    x_scale="jac", method="trf", max_nfev=max_nfev, ftol=tol, xtol=tol, gtol=tol)
            if best is None or res.cost < best.cost:
                best = res
        self._costs[i] = float(best.cost)
        return best.x, best.cost

    # -- public API ------------------------------------------------------------------------------
    def fit(self, runs: Sequence[Mapping[str, Any]]) -> "_Law":
        """Fit the law on runs ``[{"tokens": {domain: N}, "loss": {domain: L}}, ...]``; returns self.

        After fitting, ``params[domain]`` holds the fitted parameters and ``fit_quality[domain]`` the
        fit on the runs: ``n_runs``, ``rmse`` (loss units), ``max_rel_error``, ``r2`` and
        ``huber_cost``.
        """
        opt = require_scipy()
        domains, tokens, losses = check_runs(runs, 0)
        need = self._min_runs(len(domains))
        if len(tokens) < need:
            raise ValueError(f"got {len(tokens)} runs for {len(domains)} domains; {type(self).__name__} needs "
                             f"at least {need}. Train the 4K + 1 = {4 * len(domains) + 1} runs from plan_runs()")
        self.domains = domains
        try:
            self._prepare(tokens, losses)
            internal, self.params, self.fit_quality = [], {}, {}
            for i in range(len(domains)):
                theta, _ = self._fit_domain(i, tokens, losses[:, i], opt)
                internal.append(theta)
        except BaseException:
            self.domains = []  # a failed fit leaves the law unfitted, not half-fitted
            raise
        self._internal = internal
        pred = self._predict_internal(tokens)
        for i, d in enumerate(domains):
            self.params[d] = self._public_params(i)
            self.fit_quality[d] = _quality(losses[:, i], pred[:, i], self._costs[i])
        return self

    def _prepare(self, tokens: np.ndarray, losses: np.ndarray) -> None:
        self._costs = [0.0] * tokens.shape[1]
        self._run_totals = (float(tokens.sum(1).min()), float(tokens.sum(1).max()))

    def _check_fitted(self) -> None:
        if not self.domains:
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call .fit(runs) first")

    def predict_tokens(self, tokens: Mapping[str, float]) -> Dict[str, float]:
        """Predicted per-domain losses after training on ``tokens`` (domain -> token count)."""
        self._check_fitted()
        if not isinstance(tokens, Mapping) or set(tokens) != set(self.domains):
            raise ValueError(f"tokens must be a dict with a count for each of {self.domains}")
        t = np.array([tokens[d] for d in self.domains], dtype=float)
        if not np.all(np.isfinite(t)) or np.any(t < 0) or t.sum() <= 0:
            raise ValueError(f"token counts must be finite, >= 0 and not all 0, got {dict(tokens)}")
        out = self._predict_internal(t[None, :])[0]
        return {d: float(x) for d, x in zip(self.domains, out)}

    def predict(self, weights: Mapping[str, float], total_tokens: float) -> Dict[str, float]:
        """Predicted per-domain losses L_i(w) when training on ``total_tokens`` mixed by ``weights``.

        ``weights``: domain -> w_i, w_i >= 0, Σ w_i = 1. Returns domain -> loss.
        """
        self._check_fitted()
        n0 = check_total_tokens(total_tokens)
        w = check_weights(weights, self.domains)
        out = self._predict_internal((w * n0)[None, :])[0]
        return {d: float(x) for d, x in zip(self.domains, out)}

    def optimize(self, total_tokens: float) -> MixtureResult:
        """Weights on the simplex minimising Σ_i L_i(w) at budget ``total_tokens`` (SLSQP, several starts)."""
        self._check_fitted()
        n0 = check_total_tokens(total_tokens)

        def objective(w):
            return float(self._predict_internal((np.clip(w, 0.0, None) * n0)[None, :]).sum())

        w = minimize_on_simplex(objective, len(self.domains))
        losses = self._predict_internal((w * n0)[None, :])[0]
        weights = {d: float(x) for d, x in zip(self.domains, w)}
        return MixtureResult(weights=weights, losses={d: float(x) for d, x in zip(self.domains, losses)},
                             total_loss=float(losses.sum()), total_tokens=n0,
                             tokens={d: float(x * n0) for d, x in zip(self.domains, w)})

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready description: law name, domains, parameters and fit quality."""
        self._check_fitted()
        return {"law": type(self).__name__, "domains": list(self.domains), "params": self.params,
                "fit_quality": self.fit_quality}


class MixtureLaw(_Law):
    """Li, Liu & Xing (ICML 2025): L_i = C_i · (N_i + k_i · M_i^α_i)^(−β_i) + E_i.

    Parameters
    ----------
    huber_delta : float, default 0.01
        Where the Huber loss turns linear, on relative residuals (0.01 = 1% of the loss). Runs whose
        loss is off by more than this weigh less.
    n_starts : int, default 8
        Local least-squares fits run per domain, from the best points of a grid over (β, α, κ)
        with (C, E) solved linearly at each grid point.

    Fitting, per domain i, in token units scaled by S (the median token count):

    * transferred data is written k_i · M^α = κ_i · M_min^(1−α) · M^α with κ_i ∈ [0, 1], where M_min
      is the least other-domain data in any run; this keeps the transfer ≤ M for every M >= M_min
      (every run), as the paper requires. At prediction the transfer is also capped at M.
    * bounds: C >= 0, β ∈ [0.001, 3], E ∈ [0, min observed loss], κ ∈ [0, 1], α ∈ [0, 1].

    ``params[domain]`` = {"C", "k", "alpha", "beta", "E"} in raw token units.

    Identifiability: the 4K + 1 runs of ``plan_runs`` give each domain 5 own-data levels at fixed
    other data, and 4 other-data levels at fixed own data — enough for five parameters when the
    noise is small; ``fit_quality`` reports how well the law explains the runs.
    """

    _GRID_BETA = (0.05, 0.15, 0.3, 0.5, 0.8, 1.2)
    _GRID_ALPHA = (0.1, 0.4, 0.7, 0.95)
    _GRID_KAPPA = (0.0, 0.05, 0.2, 0.5, 1.0)

    def _min_runs(self, k: int) -> int:
        return max(5, k + 3)

    def _prepare(self, tokens, losses):
        super()._prepare(tokens, losses)
        positive = tokens[tokens > 0]
        self._scale = float(np.median(positive))
        self._m_min = []

    def _fit_domain(self, i, tokens, y, opt):
        d = self.domains[i]
        n = tokens[:, i] / self._scale
        m = (tokens.sum(1) - tokens[:, i]) / self._scale
        if np.unique(n).size < 3:
            raise ValueError(f"domain {d!r}: its own token count takes {np.unique(n).size} distinct value(s) across "
                             f"the runs; scale it in at least 3 runs (plan_runs scales each domain 5 ways)")
        if np.unique(m).size < 2 or not np.any(m > 0):
            raise ValueError(f"domain {d!r}: the other domains' token count never varies across the runs, so "
                             f"transfer (k, alpha) cannot be fitted; vary the other domains (plan_runs does)")
        m_min = float(m[m > 0].min())
        self._m_min.append(m_min)
        y_min = float(y.min())

        def effective(theta):
            kappa, alpha = theta[3], theta[4]
            with np.errstate(divide="ignore"):
                transfer = kappa * m_min ** (1.0 - alpha) * np.power(m, alpha)
            return n + np.minimum(transfer, m)

        def residuals(theta):
            dd = effective(theta)
            with np.errstate(divide="ignore", over="ignore"):
                pred = theta[0] * np.power(dd, -theta[1]) + theta[2]
            return np.where(np.isfinite(pred), pred / y - 1.0, 1e6)

        lower = np.array([0.0, 1e-3, 0.0, 0.0, 0.0])
        upper = np.array([1e6, 3.0, y_min, 1.0, 1.0])
        starts = []
        for beta, alpha, kappa in itertools.product(self._GRID_BETA, self._GRID_ALPHA, self._GRID_KAPPA):
            dd = effective((0, 0, 0, kappa, alpha))
            if np.any(dd <= 0):
                continue
            x = np.power(dd, -beta)
            # (C, E) by least squares on relative residuals: min Σ ((C x + E) / y − 1)²
            a = np.stack([x / y, 1.0 / y], axis=1)
            (c, e), *_ = np.linalg.lstsq(a, np.ones_like(y), rcond=None)
            theta = np.clip([c, beta, e, kappa, alpha], lower, upper)
            r = residuals(theta)
            starts.append((float(r @ r), theta))
        starts.sort(key=lambda s: s[0])
        margin = 1e-9 * (upper - lower)
        x0s = [np.clip(theta0, lower + margin, upper - margin) for _, theta0 in starts[: self.n_starts]]
        return self._best_huber_fit(i, residuals, x0s, lower, upper, opt, max_nfev=3000, tol=1e-14)

    def _public_params(self, i):
        c, beta, e, kappa, alpha = (float(v) for v in self._internal[i])
        s, m_min = self._scale, self._m_min[i]
        return {"C": c * s ** beta, "k": kappa * (m_min * s) ** (1.0 - alpha), "alpha": alpha, "beta": beta, "E": e}

    def _predict_internal(self, tokens):
        tokens = np.asarray(tokens, dtype=float) / self._scale
        total = tokens.sum(1)
        out = np.empty_like(tokens)
        for i, theta in enumerate(self._internal):
            c, beta, e, kappa, alpha = theta
            n, m = tokens[:, i], total - tokens[:, i]
            transfer = kappa * self._m_min[i] ** (1.0 - alpha) * np.power(m, alpha)
            dd = n + np.minimum(transfer, m)
            with np.errstate(divide="ignore"):
                out[:, i] = np.where(dd > 0, c * np.power(np.where(dd > 0, dd, 1.0), -beta) + e, np.inf)
        return out


class DataMixingLaw(_Law):
    """Ye et al. (2024), Data Mixing Laws: L_i(r) = c_i + k_i · exp(Σ_j t_ij · r_j).

    r_j = N_j / Σ N are the mixture proportions; the law has no term for the total budget, so it
    describes the training scale of the runs it was fitted on (``predict`` warns when asked about a
    total outside the runs' range). Since Σ_j r_j = 1, only k_i · exp(t_i) up to a common shift is
    identifiable; ``params[domain]`` = {"c", "k", "t": {domain: t_ij}} with Σ_j t_ij = 0.

    Fitted per domain by Huber least squares on relative residuals with c ∈ [0, min observed loss],
    from starts where log(L − c) is solved linearly in r.
    """

    def _min_runs(self, k: int) -> int:
        return k + 2

    def _prepare(self, tokens, losses):
        super()._prepare(tokens, losses)
        r = tokens / tokens.sum(1, keepdims=True)
        if np.linalg.matrix_rank(r) < tokens.shape[1]:
            raise ValueError("the runs' mixture proportions do not span every direction (matrix rank "
                             f"{np.linalg.matrix_rank(r)} < {tokens.shape[1]} domains); vary each domain's share")
        self._r = r

    def _fit_domain(self, i, tokens, y, opt):
        r, k = self._r, tokens.shape[1]
        y_min = float(y.min())

        def residuals(theta):
            with np.errstate(over="ignore"):
                pred = theta[0] + np.exp(r @ theta[1:])
            return np.where(np.isfinite(pred), pred / y - 1.0, 1e6)

        lower = np.concatenate([[0.0], np.full(k, -50.0)])
        upper = np.concatenate([[y_min], np.full(k, 50.0)])
        x0s = []
        for frac in (0.0, 0.5, 0.8, 0.95):
            c = frac * y_min
            u, *_ = np.linalg.lstsq(r, np.log(y - c), rcond=None)
            x0s.append(np.clip(np.concatenate([[c], u]), lower + 1e-9, upper - 1e-9))
        return self._best_huber_fit(i, residuals, x0s, lower, upper, opt, max_nfev=400, tol=1e-12)

    def _public_params(self, i):
        c, u = float(self._internal[i][0]), np.asarray(self._internal[i][1:])
        shift = float(u.mean())
        return {"c": c, "k": math.exp(shift), "t": {d: float(x - shift) for d, x in zip(self.domains, u)}}

    def _predict_internal(self, tokens):
        tokens = np.asarray(tokens, dtype=float)
        r = tokens / tokens.sum(1, keepdims=True)
        return np.stack([th[0] + np.exp(r @ th[1:]) for th in self._internal], axis=1)

    def predict(self, weights, total_tokens):
        lo, hi = getattr(self, "_run_totals", (0, math.inf))
        if self.domains and not (0.5 * lo <= check_total_tokens(total_tokens) <= 2 * hi):
            warnings.warn(f"DataMixingLaw has no term for the training budget; it was fitted on runs of "
                          f"{lo:.4g}–{hi:.4g} tokens and is being asked about {total_tokens:.4g}", stacklevel=2)
        return super().predict(weights, total_tokens)
