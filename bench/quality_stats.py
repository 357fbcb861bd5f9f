"""Statistics of the quality study: paired differences to random with a bootstrap over held-out items.

A judged selection carries, per held-out item i, its nats n_i and tokens t_i; its cross-entropy is
CE = Σ n_i / Σ t_i. For a selector S and random R judged with the same training-order seeds s:

    diff = mean over s of (CE(S, s) − CE(R, s))                       (negative = S helps)

and its 95% interval resamples the held-out items (the same resample for every seed and both
sides, 2,000 times; percentile interval). "Beyond the random spread" means |diff| exceeds the
range (max − min) of CE(R, s) over the seeds: the differences random selections make among
themselves.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

BOOTSTRAP = 2000


def ce(nats: np.ndarray, tokens: np.ndarray) -> float:
    return float(nats.sum() / tokens.sum())


def paired_difference(selector: Sequence[np.ndarray], random: Sequence[np.ndarray], tokens: np.ndarray,
                      seed: int = 0, draws: int = BOOTSTRAP) -> Dict[str, float]:
    """selector, random: per seed, nats per held-out item (float64 (m,)), in the same seed order;
    tokens: tokens per item (m,). Returns diff, ci_low, ci_high, random_spread, beyond_spread."""
    sel, ran = np.asarray(selector, dtype=np.float64), np.asarray(random, dtype=np.float64)
    if sel.shape != ran.shape or sel.ndim != 2 or sel.shape[1] != len(tokens):
        raise ValueError(f"selector {sel.shape} and random {ran.shape} must both be (seeds, {len(tokens)} items)")
    tokens = np.asarray(tokens, dtype=np.float64)
    diff = float(np.mean(sel.sum(1) / tokens.sum() - ran.sum(1) / tokens.sum()))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(tokens), size=(draws, len(tokens)))
    t = tokens[idx].sum(1)                                   # (draws,)
    boot = ((sel[:, idx].sum(2) - ran[:, idx].sum(2)) / t).mean(0)  # (draws,)
    low, high = np.percentile(boot, [2.5, 97.5])
    spread = float(np.ptp(ran.sum(1) / tokens.sum())) if len(ran) > 1 else float("nan")
    return {"diff": diff, "ci_low": float(low), "ci_high": float(high), "random_spread": spread,
            "beyond_spread": bool(len(ran) > 1 and abs(diff) > spread)}


def summarise(rows: List[dict], task_keys=("setting", "task", "tau")) -> List[dict]:
    """One summary per (task, selector) from judged rows that carry ``lm_nats`` and ``lm_tokens``
    lists, ``seed``, ``method`` and ``recall``: mean CE, seed range, recall, and the paired
    difference to ``random`` over the seeds both have."""
    out = []
    groups: Dict[tuple, Dict[str, Dict[int, dict]]] = {}
    for r in rows:
        if "lm_nats" not in r:
            continue
        key = tuple(r.get(k) for k in task_keys)
        groups.setdefault(key, {}).setdefault(r["method"], {})[r["seed"]] = r
    for key, methods in groups.items():
        random = methods.get("random", {})
        for method, by_seed in methods.items():
            ces = [by_seed[s]["lm_ce"] for s in sorted(by_seed)]
            row = dict(zip(task_keys, key))
            row.update({"method": method, "seeds": sorted(by_seed), "ce_mean": float(np.mean(ces)),
                        "ce_min": float(min(ces)), "ce_max": float(max(ces)),
                        "recall": float(np.mean([by_seed[s].get("recall", np.nan) for s in by_seed])),
                        "docs": float(np.mean([by_seed[s]["docs"] for s in by_seed]))})
            common = sorted(set(by_seed) & set(random))
            if method != "random" and common:
                tokens = np.asarray(random[common[0]]["lm_tokens"], dtype=np.float64)
                row.update(paired_difference([by_seed[s]["lm_nats"] for s in common],
                                             [random[s]["lm_nats"] for s in common], tokens))
            out.append(row)
    return out


def markdown(summary: List[dict], baselines: Dict[str, float]) -> str:
    """The study's table: per task and selector, CE (seed range), difference to random [95% CI],
    beyond the random spread, recall of the target domain, documents."""
    lines = ["| task | τ | selector | LM CE nats/token (seed range) | Δ vs random [95% CI] | beyond random spread | "
             "recall | docs |", "|---|---|---|---|---|---|---|---|"]
    for r in summary:
        delta = (f"{r['diff']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]" if "diff" in r else
                 f"(spread {r['ce_max'] - r['ce_min']:.3f})" if r["method"] == "random" else "")
        beyond = ("n/a, 1 seed" if np.isnan(r["random_spread"]) else "yes" if r["beyond_spread"] else "no") \
            if "diff" in r else ""
        recall = "" if np.isnan(r["recall"]) else f"{r['recall']:.2f}"
        tau = r.get("tau")
        task = r.get("task")
        base = baselines.get(str(task))
        name = f"{task} (base {base:.3f})" if base is not None else str(task)
        lines.append(f"| {name} | {tau if tau is not None else ''} | {r['method']} | {r['ce_mean']:.3f} "
                     f"({r['ce_min']:.3f}–{r['ce_max']:.3f}) | {delta} | {beyond} | {recall} | {r['docs']:.0f} |")
    return "\n".join(lines)
