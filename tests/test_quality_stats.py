"""The quality study's statistics (bench/quality_stats.py): the paired difference to random, its
bootstrap interval over held-out items, and "beyond the random spread"."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import quality_stats  # noqa: E402


def _items(seed=0, m=24):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(100, 300, m).astype(float)
    random = [tokens * 3.0 + rng.normal(0, 8, m) for _ in range(3)]
    return tokens, random


def test_a_uniform_gain_is_found_with_a_tight_interval_beyond_the_spread():
    tokens, random = _items()
    selector = [r - 0.1 * tokens for r in random]  # 0.1 nats/token better on every item and seed
    out = quality_stats.paired_difference(selector, random, tokens)
    assert out["diff"] == pytest.approx(-0.1)
    assert out["ci_low"] == pytest.approx(-0.1) and out["ci_high"] == pytest.approx(-0.1)
    assert out["beyond_spread"] and out["random_spread"] < 0.1


def test_noise_alone_gives_an_interval_around_zero_within_the_spread():
    tokens, random = _items(1)
    rng = np.random.default_rng(5)
    selector = [r + rng.normal(0, 8, len(tokens)) for r in random]
    out = quality_stats.paired_difference(selector, random, tokens)
    assert out["ci_low"] < 0 < out["ci_high"]
    assert out["ci_low"] <= out["diff"] <= out["ci_high"]


def test_summarise_pairs_by_seed_and_reports_recall():
    tokens, random = _items(2)
    rows = []
    for s in range(3):
        for name, nats, recall in (("random", random[s], 0.03), ("dsir", random[s] - 0.05 * tokens, 0.8)):
            rows.append({"setting": "domains", "task": "vim", "tau": 197, "method": name, "seed": s, "docs": 20,
                         "recall": recall, "lm_nats": list(nats), "lm_tokens": list(tokens),
                         "lm_ce": float(np.sum(nats) / tokens.sum())})
    summary = {r["method"]: r for r in quality_stats.summarise(rows)}
    assert summary["dsir"]["diff"] == pytest.approx(-0.05) and summary["dsir"]["recall"] == pytest.approx(0.8)
    assert "diff" not in summary["random"]
    table = quality_stats.markdown(list(summary.values()), {"vim": 3.5})
    assert "vim (base 3.500)" in table and "-0.050 [-0.050, -0.050]" in table and "| yes |" in table


def test_mismatched_shapes_are_refused():
    tokens, random = _items()
    with pytest.raises(ValueError, match="must both be"):
        quality_stats.paired_difference(random[:2], random, tokens)
