"""ZIP-FIT's length option: the documented residual formula, its effect on a pool where exact
ZIP-FIT prefers short documents, its bad input, and `select zipfit --length-fair`."""
from __future__ import annotations

import ast
import json
import random

import numpy as np
import pytest

import zipsift
from zipsift import ZipFit
from zipsift.cli import main
from zipsift.io import read_texts

from conftest import STDLIB


def spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _docstrings():
    """English prose: the docstrings of CPython's stdlib modules, classes and functions."""
    out = []
    for path in sorted(STDLIB.glob("*.py"))[:200]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                doc = ast.get_docstring(node)
                if doc and 200 <= len(doc) <= 600:
                    out.append(doc + "\n")
    random.Random(1).shuffle(out)
    return out


@pytest.fixture(scope="module")
def short_long_pool(stdlib_functions):
    """Python code and English prose, each as short (one function / one docstring) and long (eight
    joined) documents."""
    funcs = [f for f in stdlib_functions if 200 <= len(f) <= 600]
    prose = _docstrings()
    assert len(funcs) > 450 and len(prose) > 420
    pool = []
    for i in range(40):
        pool.append(("python", "short", funcs[i]))
        pool.append(("python", "long", "".join(funcs[100 + 8 * i:108 + 8 * i])))
        pool.append(("prose", "short", prose[i]))
        pool.append(("prose", "long", "".join(prose[100 + 8 * i:108 + 8 * i])))
    targets = funcs[-30:]
    return pool, targets


def test_length_fair_score_is_alignment_minus_interpolated_pool_baseline(short_long_pool):
    pool, targets = short_long_pool
    texts = [t for *_, t in pool]
    fair = ZipFit(targets, length_fair=True, length_bins=4).fit_length_baseline(texts)
    align = zipsift.alignment(texts, targets)
    sizes = np.array([len(t.encode()) for t in texts], dtype=float)
    order = np.lexsort((np.arange(len(sizes)), sizes))
    bins = np.array_split(order, 4)
    knots = np.array([np.log(sizes[b]).mean() for b in bins])
    base = np.array([align[b].mean() for b in bins])
    assert np.array_equal(fair.length_knots, knots) and np.array_equal(fair.baseline_alignment, base)
    assert np.array_equal(fair.scores(texts), align - np.interp(np.log(sizes), knots, base))
    # Exact ZIP-FIT stays the default and is untouched.
    assert np.array_equal(ZipFit(targets).scores(texts), align)


def test_length_fair_removes_exact_zipfits_preference_for_short_documents(short_long_pool):
    pool, targets = short_long_pool
    texts = [t for *_, t in pool]
    sizes = np.array([len(t.encode()) for t in texts])
    exact = ZipFit(targets)
    fair = ZipFit(targets, length_fair=True, length_bins=8).fit_length_baseline(texts)
    s_exact, s_fair = exact.scores(texts), fair.scores(texts)
    assert spearman(s_exact, sizes) < -0.5  # the bias: shorter scores higher
    assert abs(spearman(s_fair, sizes)) < 0.3
    top_exact = [pool[s.index] for s in exact.select(texts, k=40)]
    top_fair = [pool[s.index] for s in fair.select(texts, k=40)]
    # Exact ZIP-FIT takes short prose over any long Python; length-fair takes Python, long and short.
    assert sum(1 for d, n, _ in top_exact if n == "short") >= 38
    assert sum(1 for d, n, _ in top_exact if d == "prose") >= 8
    assert sum(1 for d, n, _ in top_fair if d == "python") >= 38
    assert sum(1 for d, n, _ in top_fair if d == "python" and n == "long") >= 8


def test_length_fair_bad_input():
    with pytest.raises(ValueError, match="length_fair must be True or False"):
        ZipFit(["abc"], length_fair="yes")
    with pytest.raises(ValueError, match="length_bins must be a positive integer"):
        ZipFit(["abc"], length_bins=0)
    fair = ZipFit(["def f(): pass"], length_fair=True, length_bins=4)
    with pytest.raises(RuntimeError, match="fit_length_baseline"):
        fair.scores(["x = 1"])
    with pytest.raises(ValueError, match="at least length_bins=4 texts"):
        fair.fit_length_baseline(["a", "b"])
    with pytest.raises(ValueError, match="max_records must be a positive integer"):
        fair.fit_length_baseline(["a"] * 10, max_records=0)
    fair.fit_length_baseline(["a", "bb", "ccc", "dddd", "eeeee"])
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        fair.scores(["x", ""])


def test_select_zipfit_length_fair_cli_fits_on_first_records_and_reports_the_baseline(quickstart, tmp_path):
    out, report = tmp_path / "o.jsonl", tmp_path / "r.json"
    assert main(["select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source",
                 str(quickstart / "pool.jsonl"), "--k", "20", "--out", str(out), "--report", str(report),
                 "--length-fair", "--length-sample", "120", "--length-bins", "6", "--progress", "never"]) == 0
    pool = [json.loads(line) for line in open(quickstart / "pool.jsonl", encoding="utf-8")]
    fair = ZipFit(read_texts(quickstart / "targets.jsonl"), length_fair=True, length_bins=6)
    fair.fit_length_baseline(pool[:120])
    expected = fair.select(pool, k=20)
    rows = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert [r["zipfit_score"] for r in rows] == [s.score for s in expected]
    rep = json.loads(report.read_text())
    assert rep["params"]["length_fair"] is True and rep["fit"]["records"] == 120
    assert rep["params"]["length_baseline"]["ln_length"] == fair.length_knots.tolist()


def test_length_fair_selection_does_not_depend_on_input_order_when_lengths_tie():
    # 141 chunks of exactly 300 bytes and 40 shorter ones: with 16 bins, several bins hold only
    # 300-byte chunks, whose knots coincide; the baseline must not depend on which bin np.interp keeps.
    source = "".join(p.read_text(encoding="utf-8") for p in sorted(STDLIB.glob("*.py"))[:40])
    source = source.encode("ascii", "ignore").decode()
    chunks = [source[i:i + 300] for i in range(0, 300 * 141, 300)]
    shorter = [source[50_000 + 400 * i:50_000 + 400 * i + 60 + 5 * i] for i in range(40)]
    pool = chunks + shorter
    targets = [source[200_000 + 500 * i:200_000 + 500 * i + 300] for i in range(10)]

    def picks(order):
        texts = [pool[i] for i in order]
        fit = ZipFit(targets, length_fair=True).fit_length_baseline(texts)
        assert np.all(np.diff(fit.length_knots) > 0)
        return {item.record for item in fit.select(texts, k=30)}

    forward = list(range(len(pool)))
    assert picks(forward) == picks(forward[::-1]) == picks(random.Random(3).sample(forward, len(pool)))


def test_length_fair_default_bins_fit_a_pool_smaller_than_sixteen():
    fair = ZipFit(["def f(x): return x + 1"], length_fair=True).fit_length_baseline(
        ["a = 1", "def g(): pass", "import os", "x = [1, 2]"])
    assert len(fair.length_knots) == 4
