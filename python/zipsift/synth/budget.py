"""How many samples per question a weaker-but-cheaper model can draw for the cost of the stronger
model's samples (Bansal et al. 2024, "Smaller, Weaker, Yet Better")."""
from __future__ import annotations

import math
from typing import Optional

__all__ = ["compute_matched_samples", "price_matched_samples"]


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _length_ratio(tokens_strong, tokens_weak) -> float:
    if (tokens_strong is None) != (tokens_weak is None):
        raise ValueError("pass both tokens_strong and tokens_weak (average solution lengths) or neither")
    if tokens_strong is None:
        return 1.0
    return _positive("tokens_strong", tokens_strong) / _positive("tokens_weak", tokens_weak)


def compute_matched_samples(params_strong: float, params_weak: float, samples_strong: float = 1,
                            tokens_strong: Optional[float] = None, tokens_weak: Optional[float] = None) -> float:
    """Samples per question of the weak model that cost the same inference FLOPs as ``samples_strong``.

    Inference costs about 2·P FLOPs per token, so

        S_weak = S_strong · (P_strong · W_strong) / (P_weak · W_weak)

    with W the average solution length in tokens (taken equal when ``tokens_*`` are not given).
    ``compute_matched_samples(27e9, 9e9, 1) == 3.0``. Returns a float; round it down for a whole
    number of samples.
    """
    s = _positive("samples_strong", samples_strong)
    return s * _positive("params_strong", params_strong) / _positive("params_weak", params_weak) \
        * _length_ratio(tokens_strong, tokens_weak)


def price_matched_samples(price_strong: float, price_weak: float, samples_strong: float = 1,
                          tokens_strong: Optional[float] = None, tokens_weak: Optional[float] = None) -> float:
    """Samples per question of the weak model that cost the same money as ``samples_strong``.

    S_weak = S_strong · (price_strong · W_strong) / (price_weak · W_weak), prices per output token
    (any unit, the same for both), W the average solution length (equal when not given).
    """
    s = _positive("samples_strong", samples_strong)
    return s * _positive("price_strong", price_strong) / _positive("price_weak", price_weak) \
        * _length_ratio(tokens_strong, tokens_weak)
