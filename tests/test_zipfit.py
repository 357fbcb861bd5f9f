"""ZipFit.select keeps exactly the best records, in order, with bounded memory."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import zipsift
from zipsift import ZipFit
from zipsift.stream import TopK


@pytest.fixture(scope="module")
def pool(stdlib_functions):
    return stdlib_functions[:300]


@pytest.fixture(scope="module")
def fit(stdlib_functions):
    return ZipFit(stdlib_functions[-20:])


def full_ranking(scores):
    # Descending score, ties by input order: the definition select() must reproduce.
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def test_scores_equal_alignment(fit, pool, stdlib_functions):
    assert np.array_equal(fit.scores(pool), zipsift.alignment(pool, stdlib_functions[-20:]))


def test_select_k_returns_the_top_k_of_a_full_sort(fit, pool):
    scores = fit.scores(pool)
    kept = fit.select(pool, k=25, batch_size=37)
    assert [s.index for s in kept] == full_ranking(scores)[:25]
    assert [s.score for s in kept] == sorted((s.score for s in kept), reverse=True)
    assert all(s.record is pool[s.index] for s in kept)


def test_select_does_not_depend_on_batch_size(fit, pool):
    reference = [s.index for s in fit.select(pool, k=40, batch_size=4096)]
    for batch_size in (1, 7, 64):
        assert [s.index for s in fit.select(pool, k=40, batch_size=batch_size)] == reference


def test_ties_are_broken_by_input_order(fit, pool):
    doubled = [pool[3], pool[3], pool[5], pool[3]]
    kept = fit.select(doubled, k=2, batch_size=1)
    scores = fit.scores(doubled)
    assert [s.index for s in kept] == full_ranking(scores)[:2]
    tied = [s for s in fit.select(doubled, k=4) if s.record is pool[3]]
    assert [s.index for s in tied] == [0, 1, 3]


def test_select_accepts_dict_records_and_keeps_them_unchanged(fit, pool):
    records = [{"id": i, "text": t, "meta": {"n": i}} for i, t in enumerate(pool)]
    kept = fit.select(records, k=5)
    assert [s.record["id"] for s in kept] == [s.index for s in kept]
    assert all(set(s.record) == {"id", "text", "meta"} for s in kept)
    custom = fit.select([{"body": t} for t in pool], k=5, text_field="body")
    assert [s.index for s in custom] == [s.index for s in kept]


def test_budget_bytes_walks_the_ranking_until_the_budget_is_spent(fit, pool):
    scores = fit.scores(pool)
    order = full_ranking(scores)
    budget = 6000
    expected, spent = [], 0
    for i in order:
        size = len(pool[i].encode())
        if spent + size > budget:
            break
        expected.append(i)
        spent += size
    kept = fit.select(pool, budget_bytes=budget, batch_size=50)
    assert [s.index for s in kept] == expected
    both = fit.select(pool, k=3, budget_bytes=budget)
    assert [s.index for s in both] == expected[:3]


def test_k_zero_and_k_above_pool_size(fit, pool):
    assert fit.select(pool, k=0) == []
    assert len(fit.select(pool[:10], k=1000)) == 10


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give k"),
    ({"k": -1}, "non-negative integer"),
    ({"k": 2.5}, "non-negative integer"),
    ({"budget_bytes": -5}, "non-negative integer"),
    ({"k": 3, "batch_size": 0}, "batch_size"),
])
def test_select_rejects_bad_limits(fit, pool, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit.select(pool, **kwargs)


def test_select_names_the_record_without_a_text_field(fit):
    with pytest.raises(ValueError, match="record 1 has no field 'text'"):
        fit.select([{"text": "ok"}, {"content": "x"}], k=1)
    with pytest.raises(ValueError, match="record 0: field 'text' is int"):
        fit.select([{"text": 5}], k=1)


def test_topk_refuses_nan_scores():
    with pytest.raises(ValueError, match="NaN"):
        TopK(k=2).offer(np.array([0.1, np.nan]), ["a", "b"])


@pytest.mark.memory_bound
def test_select_memory_is_bounded_by_k_not_by_the_pool(tmp_path):
    # 1,000,000 short records streamed from a generator; peak RSS must stay far below what
    # holding the pool would take. Runs in a fresh process so the measurement is its own.
    script = tmp_path / "rss.py"
    script.write_text(textwrap.dedent("""
        import zipsift
        fit = zipsift.ZipFit(["def add(a, b): return a + b"], threads=0)
        records = ({"id": i, "text": "def f%d(x): return x * %d" % (i, i % 97)} for i in range(1_000_000))
        kept = fit.select(records, k=1000)
        assert len(kept) == 1000
        # VmHWM is this process image's peak; ru_maxrss would include the parent's at fork.
        print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    peak_mb = int(out.stdout.strip())
    assert peak_mb < 300, f"peak RSS {peak_mb} MB"


def test_budget_walk_stops_at_the_first_record_that_does_not_fit():
    # A (best, 5000 B) fits, B (2000 B) does not, C (worse, 500 B) would fit but comes after B.
    top = TopK(budget_bytes=6000)
    top.offer(np.array([0.9, 0.8, 0.7]), ["A", "B", "C"], sizes=[5000, 2000, 500])
    assert [r.record for r in top.result()] == ["A"]
    # The same stream in another order and other batches gives the same answer.
    other = TopK(budget_bytes=6000)
    other.offer(np.array([0.7]), ["C"], sizes=[500])
    other.offer(np.array([0.8, 0.9]), ["B", "A"], sizes=[2000, 5000])
    assert [r.record for r in other.result()] == ["A"]


def test_topk_matches_a_full_sort_on_random_streams():
    rng = np.random.default_rng(1)
    for trial in range(200):
        n = int(rng.integers(1, 60))
        scores = np.round(rng.random(n), 1)  # many ties
        sizes = rng.integers(1, 50, n)
        k = int(rng.integers(0, 20)) if trial % 3 else None
        budget = int(rng.integers(0, 400)) if trial % 3 != 1 else None
        if k is None and budget is None:
            budget = 100
        expected, spent = [], 0
        for i in sorted(range(n), key=lambda i: (-scores[i], i)):
            if (k is not None and len(expected) == k) or (budget is not None and spent + sizes[i] > budget):
                break
            expected.append(i)
            spent += sizes[i]
        top = TopK(k=k, budget_bytes=budget)
        cuts = sorted(rng.choice(np.arange(1, n), size=min(3, n - 1), replace=False).tolist()) if n > 1 else []
        for lo, hi in zip([0] + cuts, cuts + [n]):
            top.offer(scores[lo:hi], list(range(lo, hi)), sizes=sizes[lo:hi])
        assert [r.index for r in top.result()] == expected
