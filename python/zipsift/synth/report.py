"""Side-by-side quality of several models' samples at matched compute (or price)."""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Mapping, Optional

from .answers import is_correct
from .budget import compute_matched_samples, price_matched_samples
from .metrics import coverage_at_k, diversity_at_k, false_positive_rate

__all__ = ["matched_report"]


def matched_report(samples: Iterable[Mapping[str, Any]], gold: Mapping[Any, Any],
                   params: Optional[Mapping[str, float]] = None, prices: Optional[Mapping[str, float]] = None,
                   samples_strong: int = 1, unique: str = "ncd", threshold: float = 0.25,
                   id_field: str = "question_id", text_field: str = "solution", model_field: str = "model",
                   judgement_field: str = "reasoning_correct", source: str = "samples") -> Dict[str, Any]:
    """coverage, diversity and FPR per model, each at its compute-matched number of samples.

    ``samples``: records ``{model_field, id_field, text_field[, judgement_field]}``, several per
    (model, question), in sampling order. ``gold``: question id -> answer; every model must have
    samples for every gold question. Costs come from ``params`` (model -> parameter count,
    compute-matched) or ``prices`` (model -> price per output token, price-matched). The model with
    the highest cost is the strong one and gets ``samples_strong`` samples per question; each other
    model gets floor(compute_matched_samples(...)) samples.

    Per model: ``k`` (samples per question used), ``k_matched`` (the unrounded figure), coverage@k
    (empirical, first k samples, and the unbiased estimator from all samples), diversity@k (rule
    ``unique``), and the false-positive rate with its Wilson 95% interval over the kept solutions
    among the first k that carry a boolean ``judgement_field`` (None when none do).
    Errors name ``source`` and the record's 1-based position.
    """
    if (params is None) == (prices is None):
        raise ValueError("pass exactly one of params (model -> parameter count) or prices (model -> price)")
    costs = dict(params if params is not None else prices)
    matcher = compute_matched_samples if params is not None else price_matched_samples
    if isinstance(samples_strong, bool) or not isinstance(samples_strong, int) or samples_strong < 1:
        raise ValueError(f"samples_strong must be an integer >= 1, got {samples_strong!r}")
    by_model: Dict[str, Dict[Any, List[Mapping[str, Any]]]] = {}
    for i, s in enumerate(samples, 1):
        if not isinstance(s, Mapping):
            raise ValueError(f"{source} record {i}: expected a JSON object, got {type(s).__name__}")
        for field in (model_field, id_field, text_field):
            if field not in s:
                raise ValueError(f"{source} record {i}: missing field {field!r}")
        if not isinstance(s[text_field], str):
            raise ValueError(f"{source} record {i}: {text_field!r} must be a string")
        if s[id_field] not in gold:
            raise ValueError(f"{source} record {i}: question {s[id_field]!r} is not in the gold answers")
        if s[model_field] not in costs:
            raise ValueError(f"{source} record {i}: model {s[model_field]!r} has no "
                             f"{'parameter count' if params is not None else 'price'}; known: {sorted(costs)}")
        by_model.setdefault(s[model_field], {}).setdefault(s[id_field], []).append(s)
    if not by_model:
        raise ValueError(f"{source}: no samples")
    questions = list(gold)
    strong = max(by_model, key=lambda m: costs[m])
    rows = []
    for model, per_q in by_model.items():
        missing = [q for q in questions if q not in per_q]
        if missing:
            raise ValueError(f"{source}: model {model!r} has no samples for {len(missing)} gold question(s), "
                             f"e.g. {missing[0]!r}")
        k_matched = matcher(costs[strong], costs[model], samples_strong)
        k = int(math.floor(k_matched + 1e-9))
        n_min = min(len(per_q[q]) for q in questions)
        if n_min < k:
            raise ValueError(f"model {model!r} needs {k} samples per question at matched "
                             f"{'compute' if params is not None else 'price'} but has only {n_min} for some question")
        texts = [[s[text_field] for s in per_q[q]] for q in questions]
        correct = [[is_correct(t, gold[q]) for t in ts] for q, ts in zip(questions, texts)]
        judged = []
        for q, ok in zip(questions, correct):
            for s, c in zip(per_q[q][:k], ok[:k]):
                if c and isinstance(s.get(judgement_field), bool):
                    judged.append(s[judgement_field])
        fpr = false_positive_rate(judged) if judged else None
        rows.append({
            "model": model, "cost": costs[model], "k": k, "k_matched": k_matched,
            "n_questions": len(questions), "samples_per_question_min": n_min,
            "coverage": coverage_at_k(correct, k),
            "coverage_unbiased": coverage_at_k(correct, k, estimator="unbiased"),
            "diversity": diversity_at_k(texts, correct, k, unique=unique, threshold=threshold),
            "kept": sum(sum(ok[:k]) for ok in correct),
            "fpr": None if fpr is None else {"rate": fpr.rate, "low": fpr.low, "high": fpr.high,
                                             "n_judged": fpr.n_judged, "interval": "wilson 95%"},
        })
    rows.sort(key=lambda r: -r["cost"])
    return {"strong": strong, "samples_strong": samples_strong,
            "matched_by": "compute" if params is not None else "price", "diversity_rule": unique,
            "models": rows}
