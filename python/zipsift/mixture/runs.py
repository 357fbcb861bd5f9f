"""The small training runs a mixture law is fitted on: planning them and checking them.

A run is ``{"tokens": {domain: tokens}, "loss": {domain: validation_loss}}``: how many tokens of
each domain the model was trained on, and its validation loss on each domain afterwards.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np

__all__ = ["plan_runs", "SCALES", "check_runs"]

#: The per-domain scale factors of Li, Liu & Xing (2025): each domain at 1/3, 1/2, 2 and 3 times
#: its base amount while the other domains stay at their base amounts.
SCALES: Tuple[Tuple[str, float], ...] = (("1/3", 1 / 3), ("1/2", 1 / 2), ("2", 2.0), ("3", 3.0))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def plan_runs(domains: Sequence[str], base_tokens_per_domain: Union[float, Mapping[str, float]]) -> List[dict]:
    """The 4K + 1 small runs to train before fitting a ``MixtureLaw`` (Li, Liu & Xing 2025).

    Parameters
    ----------
    domains : sequence of K >= 2 distinct domain names.
    base_tokens_per_domain : tokens of each domain in the base run: one number for every domain, or a
        mapping domain -> tokens.

    Returns
    -------
    list of 4K + 1 dicts ``{"name": str, "tokens": {domain: int}}``: first the base run (``name`` =
    "base"), then for each domain in order its data scaled to 1/3, 1/2, 2 and 3 times the base
    (``name`` = "<domain>x<factor>") with every other domain at its base amount. Token counts are
    rounded to whole tokens.
    """
    domains = list(domains)
    if len(domains) < 2:
        raise ValueError(f"a mixture needs at least 2 domains, got {len(domains)}: {domains!r}")
    if len(set(domains)) != len(domains):
        raise ValueError(f"domain names must be distinct, got {domains!r}")
    for d in domains:
        if not isinstance(d, str) or not d:
            raise ValueError(f"domain names must be non-empty strings, got {d!r}")
    if isinstance(base_tokens_per_domain, Mapping):
        missing = [d for d in domains if d not in base_tokens_per_domain]
        extra = [d for d in base_tokens_per_domain if d not in domains]
        if missing or extra:
            raise ValueError(f"base_tokens_per_domain must name exactly the domains; missing {missing}, "
                             f"unknown {extra}")
        base = {d: base_tokens_per_domain[d] for d in domains}
    else:
        base = {d: base_tokens_per_domain for d in domains}
    for d, t in base.items():
        if not _is_number(t) or not math.isfinite(t) or t < 3:
            raise ValueError(f"base tokens for domain {d!r} must be a finite number >= 3 (so that 1/3 of it "
                             f"is at least one token), got {t!r}")
    runs = [{"name": "base", "tokens": {d: int(round(base[d])) for d in domains}}]
    for d in domains:
        for label, factor in SCALES:
            tokens = {e: int(round(base[e] * factor)) if e == d else int(round(base[e])) for e in domains}
            runs.append({"name": f"{d}x{label}", "tokens": tokens})
    return runs


def check_runs(runs: Sequence[Mapping[str, Any]], min_runs: int) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """Validate runs and return ``(domains, tokens, losses)``.

    ``tokens`` and ``losses`` are float64 arrays of shape (n_runs, K), columns in the order of
    ``domains`` (the order of the first run's ``tokens``). Raises ValueError naming the run and the
    domain for anything malformed: a missing key, a domain missing from a run, non-finite or negative
    tokens, non-finite or non-positive losses, or fewer than ``min_runs`` runs.
    """
    if isinstance(runs, Mapping) or isinstance(runs, (str, bytes)):
        raise ValueError("runs must be a list of dicts {'tokens': {domain: tokens}, 'loss': {domain: loss}}")
    runs = list(runs)
    if not runs:
        raise ValueError("runs is empty; train the runs from plan_runs(domains, base_tokens) first")
    domains: List[str] = []
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping) or "tokens" not in run or "loss" not in run:
            raise ValueError(f"run {i}: expected a dict with keys 'tokens' and 'loss', got {run!r:.200}")
        if not isinstance(run["tokens"], Mapping) or not isinstance(run["loss"], Mapping):
            raise ValueError(f"run {i}: 'tokens' and 'loss' must both be dicts domain -> number")
        if i == 0:
            domains = list(run["tokens"])
            if len(domains) < 2:
                raise ValueError(f"run 0: a mixture needs at least 2 domains, got {domains!r}")
        for key in ("tokens", "loss"):
            got = set(run[key])
            if got != set(domains):
                raise ValueError(f"run {i}: {key} has domains {sorted(got)}, expected {sorted(domains)} "
                                 f"(the domains of run 0); every run must report every domain")
    k = len(domains)
    if len(runs) < min_runs:
        raise ValueError(f"got {len(runs)} runs for {k} domains; this law needs at least {min_runs}. "
                         f"Train the 4K + 1 = {4 * k + 1} runs from plan_runs()")
    tokens = np.empty((len(runs), k))
    losses = np.empty((len(runs), k))
    for i, run in enumerate(runs):
        for j, d in enumerate(domains):
            t, y = run["tokens"][d], run["loss"][d]
            if not _is_number(t) or not math.isfinite(t) or t < 0:
                raise ValueError(f"run {i}: tokens[{d!r}] = {t!r}; token counts must be finite numbers >= 0")
            if not _is_number(y) or not math.isfinite(y) or y <= 0:
                raise ValueError(f"run {i}: loss[{d!r}] = {y!r}; validation losses must be finite numbers > 0")
            tokens[i, j], losses[i, j] = t, y
    if np.any(tokens.sum(axis=1) <= 0):
        bad = int(np.flatnonzero(tokens.sum(axis=1) <= 0)[0])
        raise ValueError(f"run {bad}: trained on 0 tokens in total")
    return domains, tokens, losses
