"""Quality of sampled synthetic data (Bansal et al. 2024): coverage@k, diversity@k, false-positive rate."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..dedup import unique_count
from ..params import DEFAULT_CODEC

__all__ = ["coverage_at_k", "diversity_at_k", "false_positive_rate", "FalsePositiveRate", "judge_sample"]


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def _rows(correct, name: str = "correct") -> List[np.ndarray]:
    """One bool vector per question, from a 2-D array [questions, samples] or a ragged list."""
    if isinstance(correct, np.ndarray) and correct.ndim == 2:
        rows = list(correct)
    elif isinstance(correct, np.ndarray) or isinstance(correct, (str, bytes)) or not hasattr(correct, "__len__"):
        raise ValueError(f"{name} must be a bool array of shape [questions, samples] or a list of per-question "
                         f"bool sequences, got {type(correct).__name__} {getattr(correct, 'shape', '')}")
    else:
        rows = list(correct)
    if not rows:
        raise ValueError(f"{name} has no questions")
    out = []
    for q, row in enumerate(rows):
        a = np.asarray(row)
        if a.ndim != 1:
            raise ValueError(f"{name}[{q}] must be a 1-D sequence of bools, got shape {a.shape}")
        if a.dtype != bool:
            if a.size and (not np.issubdtype(a.dtype, np.integer) or not np.all((a == 0) | (a == 1))):
                raise ValueError(f"{name}[{q}] must hold bools (or 0/1), got {a.dtype} values {a[:5]!r}")
            a = a.astype(bool)
        out.append(a)
    return out


def coverage_at_k(correct, k: int, estimator: str = "empirical") -> float:
    """coverage@k: the share of questions solved by at least one of k samples.

    ``correct``: bool array of shape [questions, n] (or a list of per-question bool sequences of any
    lengths n_q), ``correct[q, s]`` True when sample s of question q has the gold final answer.

    * ``estimator="empirical"`` — mean over questions of any(correct[q, :k]): the first k samples.
    * ``estimator="unbiased"`` — mean over questions of 1 − C(n−c, k) / C(n, k), with c correct out of
      n >= k samples: the chance that k samples drawn without replacement include a correct one
      (Chen et al. 2021's pass@k estimator), computed as 1 − Π_{i=n−c+1..n} (1 − k/i).

    Every question needs n_q >= k. Returns a float in [0, 1].
    """
    k = _check_k(k)
    if estimator not in ("empirical", "unbiased"):
        raise ValueError(f"estimator must be 'empirical' or 'unbiased', got {estimator!r}")
    rows = _rows(correct)
    short = [q for q, r in enumerate(rows) if r.size < k]
    if short:
        raise ValueError(f"coverage@{k} needs at least {k} samples per question; question {short[0]} has "
                         f"{rows[short[0]].size} ({len(short)} question(s) too short)")
    total = 0.0
    for r in rows:
        if estimator == "empirical":
            total += float(r[:k].any())
        else:
            n, c = r.size, int(r.sum())
            if n - c < k:
                total += 1.0
            else:
                total += 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
    return total / len(rows)


def diversity_at_k(solutions: Sequence[Sequence[str]], correct, k: int, unique: str = "exact",
                   threshold: float = 0.25, codec: str = DEFAULT_CODEC, level: Optional[int] = None, threads: int = 0) -> float:
    """diversity@k: mean over questions of the number of unique correct solutions among the first k.

    ``solutions[q][s]`` is the text of sample s of question q; ``correct`` has the same shape (see
    ``coverage_at_k``). Uniqueness (the paper does not publish its rule):

    * "exact" — equal strings are one solution;
    * "normalized" — equal after lowercasing and collapsing whitespace;
    * "ncd" — near-duplicates by normalised compression distance from the native core: two solutions
      are one when max(NCD(a, b), NCD(b, a)) <= ``threshold``, grouped transitively (see
      ``zipsift.dedup``). With gzip-9, one solution with a reworded sentence measured ≈ 0.12–0.22 and
      a genuinely different derivation ≈ 0.45–0.5, hence the default 0.25.

    Returns a float >= 0 (a question with no correct solution counts 0).
    """
    k = _check_k(k)
    rows = _rows(correct)
    if isinstance(solutions, (str, bytes)) or len(solutions) != len(rows):
        raise ValueError(f"solutions must be a list with one list of texts per question ({len(rows)} questions "
                         f"in correct), got {type(solutions).__name__} of length {len(solutions)}")
    total = 0
    for q, (texts, ok) in enumerate(zip(solutions, rows)):
        if isinstance(texts, (str, bytes)) or len(texts) != ok.size:
            raise ValueError(f"solutions[{q}] has {len(texts)} texts but correct[{q}] has {ok.size} flags")
        if ok.size < k:
            raise ValueError(f"diversity@{k} needs at least {k} samples per question; question {q} has {ok.size}")
        kept = [t for t, c in zip(list(texts)[:k], ok[:k]) if c]
        total += unique_count(kept, unique, threshold, codec=codec, level=level, threads=threads)
    return total / len(rows)


@dataclass(frozen=True)
class FalsePositiveRate:
    """FPR with its Wilson score interval.

    rate = n_false_positives / n_judged; [low, high] is the Wilson interval at ``confidence``.
    """

    rate: float
    low: float
    high: float
    n_judged: int
    n_false_positives: int
    confidence: float
    interval: str = "wilson"


def false_positive_rate(judgements: Sequence[bool], confidence: float = 0.95) -> FalsePositiveRate:
    """The share of kept (right final answer) solutions whose reasoning is wrong, with a Wilson interval.

    ``judgements[i]`` is True when the i-th judged solution's reasoning is correct, False when it
    reached the right answer with wrong reasoning (a false positive). With p = FP/n and z the normal
    quantile for ``confidence``, the Wilson score interval is

        (p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)

    which, unlike the normal approximation, stays inside [0, 1] and is sensible at p = 0 or 1 and for
    the small samples (e.g. 50) that are judged by hand.
    """
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence!r}")
    js = list(judgements)
    if not js:
        raise ValueError("judgements is empty; judge at least one kept solution (see judge_sample)")
    for i, j in enumerate(js):
        if not isinstance(j, (bool, np.bool_)):
            raise ValueError(f"judgement {i} is {j!r}; expected True (reasoning correct) or False (false positive)")
    n = len(js)
    fp = sum(1 for j in js if not j)
    p = fp / n
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return FalsePositiveRate(rate=p, low=max(0.0, centre - half), high=min(1.0, centre + half), n_judged=n,
                             n_false_positives=fp, confidence=float(confidence))


def judge_sample(solutions: Sequence[Any], judge: Callable[[Any], bool], n: int = 50,
                 seed: int = 0) -> Tuple[List[int], List[bool]]:
    """Label a random sample of ``n`` kept solutions with ``judge`` (any callable: a person at a
    prompt, an LLM judge, a checker).

    ``judge(solution)`` returns True when the reasoning is correct. Returns ``(indices, judgements)``:
    the positions sampled (without replacement, reproducible from ``seed``, in sampled order) and what
    the judge said; pass ``judgements`` to ``false_positive_rate``.
    """
    if not callable(judge):
        raise ValueError(f"judge must be callable solution -> bool, got {type(judge).__name__}")
    solutions = list(solutions)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(solutions):
        raise ValueError(f"n must be an integer in [1, {len(solutions)}] (the number of solutions), got {n!r}")
    indices = random.Random(seed).sample(range(len(solutions)), n)
    judgements = []
    for i in indices:
        verdict = judge(solutions[i])
        if not isinstance(verdict, (bool, np.bool_)):
            raise ValueError(f"judge returned {verdict!r} for solution {i}; it must return True (reasoning "
                             f"correct) or False")
        judgements.append(bool(verdict))
    return indices, judgements
