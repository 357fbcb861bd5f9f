"""Submodular selection: zipsift against apricot and submodlib, side by side in one run.

Workload (issue 3): facility location, n = 5,000, budget 500, 64-d float32 embeddings, cosine
similarity, lazy greedy, kernel + maximise. The embeddings are |N(0, 1)| (non-negative, like ReLU
features), so every cosine is >= 0 and all three libraries maximise the same function without
clipping. apricot squares cosine similarities (its "cosine" is 1 - (1 - cos)^2 as a distance), so
its objective differs; a parity case below feeds it zipsift's kernel as "precomputed" instead.
Peers run only when installed: pip install "zipsift[bench]". Run: pytest bench/bench_submodular.py
"""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from zipsift import _core
from zipsift import submodular as sm

N, D, BUDGET = 5_000, 64, 500
ROUNDS = 5


@pytest.fixture(scope="module")
def embeddings():
    return np.abs(np.random.default_rng(0).standard_normal((N, D))).astype(np.float32)


@pytest.fixture(scope="module")
def naive_objective(embeddings):
    """Naive greedy's objective: the value every lazy run must reproduce exactly."""
    return sm.facility_location(sm.kernel(embeddings), BUDGET, optimizer="naive").objective


def zipsift_fl(X, threads=0):
    return sm.facility_location(sm.kernel(X, "cosine", threads=threads), BUDGET, optimizer="lazy", threads=threads)


def apricot_fl(X, budget=BUDGET):
    from apricot import FacilityLocationSelection

    return FacilityLocationSelection(budget, metric="cosine", optimizer="lazy").fit(X)


def submodlib_fl(X):
    from submodlib import FacilityLocationFunction

    f = FacilityLocationFunction(n=X.shape[0], mode="dense", data=X, metric="cosine")
    with contextlib.redirect_stdout(io.StringIO()):  # it draws its own progress bar on stdout
        return f.maximize(budget=BUDGET, optimizer="LazyGreedy", stopIfZeroGain=False, stopIfNegativeGain=False,
                          verbose=False, show_progress=False)


GROUP_APRICOT = f"FL n={N:,} budget {BUDGET}, dense cosine, kernel + maximise, lazy: vs apricot"
GROUP_SUBMODLIB = f"FL n={N:,} budget {BUDGET}, dense cosine, kernel + maximise, lazy: vs submodlib"


@pytest.mark.benchmark(group=GROUP_APRICOT)
def test_fl_apricot_baseline(benchmark, embeddings):
    pytest.importorskip("apricot", reason='pip install "zipsift[bench]" to compare with apricot')
    apricot_fl(embeddings[:200], 20)  # numba JIT outside the timing, as the issue measured it
    sel = benchmark.pedantic(apricot_fl, args=(embeddings,), rounds=ROUNDS, iterations=1)
    benchmark.extra_info["objective (its cos^2 kernel)"] = float(np.sum(sel.gains))


@pytest.mark.benchmark(group=GROUP_SUBMODLIB)
def test_fl_submodlib_baseline(benchmark, embeddings, naive_objective):
    pytest.importorskip("submodlib", reason='pip install "zipsift[bench]" to compare with submodlib')
    picks = benchmark.pedantic(submodlib_fl, args=(embeddings,), rounds=2, iterations=1)
    objective = sum(g for _, g in picks)
    benchmark.extra_info["objective"] = objective
    assert objective == pytest.approx(naive_objective, rel=1e-5)


@pytest.mark.parametrize("group", [GROUP_APRICOT, GROUP_SUBMODLIB], ids=["vs-apricot", "vs-submodlib"])
@pytest.mark.parametrize("threads", [1, 0], ids=["1-thread", "all-threads"])
def test_fl_zipsift(benchmark, embeddings, naive_objective, group, threads):
    benchmark.group = group
    benchmark.name = f"test_fl_zipsift[{_core.usable_cores() if threads == 0 else 1} threads]"
    sel = benchmark.pedantic(zipsift_fl, args=(embeddings, threads), rounds=ROUNDS * 2, iterations=1,
                             warmup_rounds=1)
    benchmark.extra_info["objective"] = sel.objective
    benchmark.extra_info["evaluations"] = sel.evaluations
    assert sel.objective == naive_objective  # lazy is naive greedy, to the last bit


@pytest.mark.benchmark(group=f"FL n={N:,} budget {BUDGET}: kernel and maximise apart")
@pytest.mark.parametrize("part", ["kernel", "maximize-lazy", "maximize-lazier_than_lazy"])
def test_fl_zipsift_parts(benchmark, embeddings, part):
    if part == "kernel":
        benchmark.pedantic(sm.kernel, args=(embeddings,), rounds=ROUNDS, iterations=1)
        return
    K = sm.kernel(embeddings)
    optimizer = part.split("-", 1)[1]
    sel = benchmark.pedantic(sm.facility_location, args=(K, BUDGET), kwargs={"optimizer": optimizer},
                             rounds=ROUNDS, iterations=1)
    benchmark.extra_info["evaluations"] = sel.evaluations


def test_peers_pick_what_zipsift_picks(embeddings):
    """Parity, not speed: given the same kernel, apricot and submodlib make zipsift's picks."""
    K = sm.kernel(embeddings[:1500])
    ours = sm.facility_location(K, 100)
    apricot = pytest.importorskip("apricot")
    sel = apricot.FacilityLocationSelection(100, metric="precomputed", optimizer="lazy").fit(K.values.astype(np.float64))
    assert sel.ranking.tolist() == ours.indices.tolist()
    submodlib = pytest.importorskip("submodlib")
    f = submodlib.FacilityLocationFunction(n=1500, mode="dense", sijs=K.values.astype(np.float64), separate_rep=False)
    with contextlib.redirect_stdout(io.StringIO()):
        picks = f.maximize(budget=100, optimizer="NaiveGreedy", stopIfZeroGain=False, stopIfNegativeGain=False,
                           verbose=False, show_progress=False)
    assert [j for j, _ in picks] == ours.indices.tolist()


SPARSE_N, SPARSE_T = 100_000, 32


@pytest.mark.benchmark(group=f"sparse kNN FL, n={SPARSE_N:,}, t={SPARSE_T}, d={D}, budget 10%, kernel + maximise")
def test_sparse_fl_large_n_peak_rss(benchmark, tmp_path):
    # In a fresh process, so the peak RSS is this run's alone. A smoke run (--benchmark-disable, as
    # in CI) checks the path on a pool 20 times smaller.
    n = SPARSE_N // 20 if benchmark.disabled else SPARSE_N
    script = tmp_path / "sparse.py"
    script.write_text(textwrap.dedent(f"""
        import json, time
        import numpy as np
        from zipsift import submodular as sm
        X = np.random.default_rng(1).standard_normal(({n}, {D})).astype(np.float32)
        t0 = time.perf_counter()
        K = sm.kernel(X, "cosine", knn={SPARSE_T}, clip_negative=True)
        t1 = time.perf_counter()
        sel = sm.facility_location(K, 0.1)
        t2 = time.perf_counter()
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork + exec, so it would report the
        # benchmark process's own peak (the peers' float64 kernels) instead of this run's.
        hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
        print(json.dumps({{"kernel_s": t1 - t0, "maximize_s": t2 - t1, "picks": len(sel),
                          "objective": sel.objective, "evaluations": sel.evaluations, "rss_mb": hwm // 1024}}))
    """))
    result = {}

    def run():
        import json

        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
        result.update(json.loads(out))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["peak RSS MB"] = result["rss_mb"]
    benchmark.extra_info["kernel s"] = round(result["kernel_s"], 2)
    benchmark.extra_info["maximize s"] = round(result["maximize_s"], 2)
    benchmark.extra_info["picks"] = result["picks"]
