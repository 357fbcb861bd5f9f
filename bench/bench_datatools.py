"""Data tools: the NCD near-duplicate rule of diversity@k against the same rule in pure Python, and
the cost of fitting and optimising a mixture law.

diversity@k with unique="ncd" compares every pair of a question's correct solutions. The baseline
does exactly that with CPython's gzip.compress (both orders, sizes of single texts cached) and the
same single-linkage grouping. Solutions are 50 questions × 16 samples, each a ~300-byte slice of a
stdlib function with a quarter of them lightly edited copies of another. Run:
pytest bench/bench_datatools.py
"""
from __future__ import annotations

import gzip
import random

import numpy as np
import pytest

from zipsift.synth import diversity_at_k

QUESTIONS, SAMPLES, THRESHOLD = 50, 16, 0.25


def python_diversity(solutions, correct, k, threshold=THRESHOLD, level=9):
    total = 0
    for texts, ok in zip(solutions, correct):
        kept = [t.encode() for t, c in zip(texts[:k], ok[:k]) if c]
        n = len(kept)
        sizes = [len(gzip.compress(t, level)) for t in kept]
        parent = list(range(n))

        def find(i):
            while parent[i] != i:
                i = parent[i]
            return i

        for i in range(n):
            for j in range(i + 1, n):
                d = max((len(gzip.compress(kept[a] + kept[b], level)) - min(sizes[a], sizes[b]))
                        / max(sizes[a], sizes[b]) for a, b in ((i, j), (j, i)))
                if d <= threshold or kept[i] == kept[j]:
                    a, b = find(i), find(j)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        total += len({find(i) for i in range(n)})
    return total / len(solutions)


@pytest.fixture(scope="module")
def solutions(stdlib_functions):
    rng = random.Random(0)
    texts = [f.decode("utf-8", "replace")[:300] for f in stdlib_functions[:QUESTIONS * SAMPLES]]
    out = []
    for q in range(QUESTIONS):
        row = texts[q * SAMPLES:(q + 1) * SAMPLES]
        for s in range(0, SAMPLES, 4):  # a lightly edited copy of another sample
            src = row[rng.randrange(SAMPLES)]
            row[s] = src.replace(" ", "  ", 3).replace("return", "return ", 1)
        out.append(row)
    correct = np.random.default_rng(0).random((QUESTIONS, SAMPLES)) < 0.7
    return out, correct


@pytest.mark.benchmark(group="diversity@16, NCD rule, gzip-9, 50 questions x 16 samples")
def test_diversity_ncd_python_gzip_baseline(benchmark, record_rate, solutions):
    texts, correct = solutions
    result = benchmark.pedantic(python_diversity, args=(texts, correct, SAMPLES), rounds=3, iterations=1)
    assert result == diversity_at_k(texts, correct, SAMPLES, unique="ncd", threshold=THRESHOLD)
    record_rate("questions/s", QUESTIONS)


@pytest.mark.parametrize("threads", [1, 0], ids=["1-thread", "all-threads"])
@pytest.mark.benchmark(group="diversity@16, NCD rule, gzip-9, 50 questions x 16 samples")
def test_diversity_ncd_native(benchmark, record_rate, solutions, threads):
    texts, correct = solutions
    benchmark.pedantic(diversity_at_k, args=(texts, correct, SAMPLES),
                       kwargs={"unique": "ncd", "threshold": THRESHOLD, "threads": threads}, rounds=3, iterations=1)
    record_rate("questions/s", QUESTIONS)


@pytest.mark.benchmark(group="mixture law, 3 domains, 13 runs (no peer library)")
def test_mixture_law_fit_and_optimize(benchmark):
    pytest.importorskip("scipy")
    from zipsift.mixture import MixtureLaw, plan_runs

    rng = np.random.default_rng(0)
    params = {"code": (60.0, 400.0, 0.5, 0.25, 1.2), "math": (150.0, 40.0, 0.6, 0.35, 0.9),
              "chat": (30.0, 2000.0, 0.45, 0.2, 1.6)}
    runs = []
    for r in plan_runs(list(params), 1e7):
        total = sum(r["tokens"].values())
        loss = {}
        for d, (c, k, a, b, e) in params.items():
            n = r["tokens"][d]
            loss[d] = (c * (n + min(k * (total - n) ** a, total - n)) ** -b + e) * (1 + 0.001 * rng.standard_normal())
        runs.append({"tokens": r["tokens"], "loss": loss})
    benchmark.pedantic(lambda: MixtureLaw().fit(runs).optimize(3e7), rounds=3, iterations=1)
