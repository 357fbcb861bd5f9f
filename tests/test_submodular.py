"""zipsift.submodular objectives and optimizers against a brute-force numpy greedy written here."""
import inspect
import itertools
import json
import math
import os

import numpy as np
import pytest
from sigint import interrupt_script

from zipsift import submodular as sm

# ---- brute force: f(A) from scratch in float64, greedy by evaluating f(A + j) - f(A) ----------


def f_fl(S, A, floor=None, cap=None):
    n = S.shape[0]
    floor = np.zeros(n) if floor is None else floor.astype(np.float64)
    best = floor.copy()
    if A:
        m = S[:, A].max(axis=1)
        if cap is not None:
            m = np.minimum(m, cap)
        best = np.maximum(best, m)
    return float((best - floor).sum())


def f_graph_cut(S, A, lam):
    if not A:
        return 0.0
    return float(S[:, A].sum() - lam * S[np.ix_(A, A)].sum())


def f_logdet(S, A, reg):
    if not A:
        return 0.0
    sign, logdet = np.linalg.slogdet(S[np.ix_(A, A)] + reg * np.eye(len(A)))
    assert sign > 0
    return float(logdet)


def distances(S):
    return 1.0 - (S + S.T) / 2.0


def f_disparity_sum(S, A):
    D = distances(S)
    return float(sum(D[a, b] for a, b in itertools.combinations(A, 2)))


def f_disparity_min(S, A):
    D = distances(S)
    return float(min((D[a, b] for a, b in itertools.combinations(A, 2)), default=0.0))


def brute_greedy(f, n, k):
    A, gains = [], []
    for _ in range(k):
        base = f(A)
        cand = [j for j in range(n) if j not in A]
        g = np.array([f(A + [j]) - base for j in cand])
        best = int(np.argmax(g))  # first maximum: the lowest index wins a tie
        A.append(cand[best])
        gains.append(g[best])
    return A, np.array(gains)


def brute_dispersion(S, k):
    D = distances(S)
    A = [0]
    while len(A) < k:
        cand = [j for j in range(S.shape[0]) if j not in A]
        near = [min(D[a, j] for a in A) for j in cand]
        A.append(cand[int(np.argmax(near))])
    return A


def random_kernel(n, seed, symmetric=True):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 8), dtype=np.float32)
    if symmetric:
        return sm.kernel(X, "cosine").toarray().astype(np.float32)
    return rng.random((n, n), dtype=np.float32)


def real_texts():
    """A real instance: docstrings of the standard library's json, os.path and itertools functions."""
    import os.path as osp

    texts = []
    for mod in (json, osp, itertools, math):
        for name in sorted(dir(mod)):
            doc = inspect.getdoc(getattr(mod, name))
            if doc and len(doc) > 40 and not name.startswith("_"):
                texts.append(doc)
    return sorted(set(texts))[:48]


# ---- naive and lazy equal brute force -----------------------------------------------------


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("optimizer", ["naive", "lazy"])
def test_facility_location_picks_equal_bruteforce_greedy(symmetric, optimizer):
    S = random_kernel(50, 1, symmetric)
    sel = sm.facility_location(S, 15, optimizer=optimizer)
    A, gains = brute_greedy(lambda A: f_fl(S.astype(np.float64), A), 50, 15)
    assert sel.indices.tolist() == A
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-5, atol=1e-6)
    assert sel.objective == pytest.approx(f_fl(S.astype(np.float64), A), rel=1e-6)


@pytest.mark.parametrize("optimizer", ["naive", "lazy"])
def test_flmi_picks_equal_bruteforce_greedy(optimizer):
    rng = np.random.default_rng(2)
    X, Q = rng.random((45, 6), dtype=np.float32), rng.random((7, 6), dtype=np.float32)
    S = sm.kernel(X).toarray().astype(np.float64)
    Kq = sm.kernel(X, Y=Q).toarray()
    eta = 0.8
    cap = (np.float32(eta) * Kq.max(axis=1)).astype(np.float64)
    sel = sm.flmi(S, Kq, 12, eta=eta, optimizer=optimizer)
    A, gains = brute_greedy(lambda A: f_fl(S, A, cap=cap), 45, 12)
    assert sel.indices.tolist() == A
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-5, atol=1e-6)
    assert sel.objective == pytest.approx(f_fl(S, A, cap=cap), rel=1e-6)


@pytest.mark.parametrize("optimizer", ["naive", "lazy"])
def test_flcg_picks_equal_bruteforce_greedy(optimizer):
    rng = np.random.default_rng(3)
    X, P = rng.random((45, 6), dtype=np.float32), rng.random((5, 6), dtype=np.float32)
    S = sm.kernel(X).toarray().astype(np.float64)
    Kp = sm.kernel(X, Y=P).toarray()
    nu = 0.9
    floor = (np.float32(nu) * Kp.max(axis=1)).astype(np.float64)
    sel = sm.flcg(S, Kp, 12, nu=nu, optimizer=optimizer)
    A, gains = brute_greedy(lambda A: f_fl(S, A, floor=floor), 45, 12)
    assert sel.indices.tolist() == A
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-5, atol=1e-6)
    assert sel.objective == pytest.approx(f_fl(S, A, floor=floor), rel=1e-6)


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("optimizer", ["naive", "lazy"])
def test_graph_cut_picks_equal_bruteforce_greedy(symmetric, optimizer):
    S = random_kernel(40, 4, symmetric).astype(np.float64)
    sel = sm.graph_cut(S, 12, lambda_=0.4, optimizer=optimizer)
    A, gains = brute_greedy(lambda A: f_graph_cut(S, A, 0.4), 40, 12)
    assert sel.indices.tolist() == A
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-6, atol=1e-6)
    assert sel.objective == pytest.approx(f_graph_cut(S, A, 0.4), rel=1e-6)


@pytest.mark.parametrize("optimizer", ["naive", "lazy"])
def test_log_determinant_picks_equal_bruteforce_greedy(optimizer):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 10)).astype(np.float32)
    S = sm.kernel(X, "rbf", gamma=0.05).toarray()
    sel = sm.log_determinant(S, 15, regularizer=0.5, optimizer=optimizer)
    S64 = S.astype(np.float64)
    A, gains = brute_greedy(lambda A: f_logdet(S64, A, 0.5), 40, 15)
    assert sel.indices.tolist() == A
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-6, atol=1e-6)
    assert sel.objective == pytest.approx(f_logdet(S64, A, 0.5), rel=1e-6, abs=1e-6)


def test_disparity_sum_naive_picks_equal_bruteforce_greedy():
    S = random_kernel(30, 6, symmetric=False).astype(np.float64)
    sel = sm.disparity_sum(S, 8)
    A, gains = brute_greedy(lambda A: f_disparity_sum(S, A), 30, 8)
    assert sel.indices.tolist() == A
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-6, atol=1e-9)
    assert sel.objective == pytest.approx(f_disparity_sum(S, A), rel=1e-6)


@pytest.mark.parametrize("optimizer", ["naive", "lazy"])
def test_disparity_min_is_the_max_min_dispersion_greedy(optimizer):
    S = random_kernel(40, 7, symmetric=False).astype(np.float64)
    sel = sm.disparity_min(S, 10, optimizer=optimizer)
    A = brute_dispersion(S, 10)
    assert sel.indices.tolist() == A
    assert sel.gains[0] == 0.0
    D = distances(S)
    np.testing.assert_allclose(sel.gains[1:], [min(D[a, A[t]] for a in A[:t]) for t in range(1, 10)], rtol=1e-6)
    assert sel.objective == pytest.approx(f_disparity_min(S, A), rel=1e-6)


@pytest.mark.parametrize("objective", ["fl", "graph_cut", "disparity_min"])
@pytest.mark.parametrize("optimizer", ["naive", "lazy"])
def test_sparse_knn_kernel_selection_equals_bruteforce_on_its_dense_form(objective, optimizer):
    rng = np.random.default_rng(8)
    X = rng.random((60, 5), dtype=np.float32)
    K = sm.kernel(X, "cosine", knn=6)
    D = K.toarray().astype(np.float64)
    if objective == "fl":
        sel = sm.facility_location(K, 15, optimizer=optimizer)
        A, _ = brute_greedy(lambda A: f_fl(D, A), 60, 15)
        expect = f_fl(D, A)
    elif objective == "graph_cut":
        sel = sm.graph_cut(K, 15, lambda_=0.5, optimizer=optimizer)
        A, _ = brute_greedy(lambda A: f_graph_cut(D, A, 0.5), 60, 15)
        expect = f_graph_cut(D, A, 0.5)
    else:
        sel = sm.disparity_min(K, 15, optimizer=optimizer)
        A = brute_dispersion(D, 15)
        expect = f_disparity_min(D, A)
    assert sel.indices.tolist() == A
    assert sel.objective == pytest.approx(expect, rel=1e-6)


def test_sparse_flmi_and_flcg_equal_their_dense_form():
    rng = np.random.default_rng(9)
    X, Q = rng.random((80, 5), dtype=np.float32), rng.random((6, 5), dtype=np.float32)
    K = sm.kernel(X, knn=8)
    Kq = sm.kernel(X, Y=Q, knn=2)
    for fn in (sm.flmi, sm.flcg):
        sparse = fn(K, Kq, 20)
        dense = fn(K.toarray(), Kq.toarray(), 20)
        assert sparse.indices.tolist() == dense.indices.tolist()
        assert sparse.objective == pytest.approx(dense.objective, rel=1e-6)


def test_real_instance_ncd_kernel_of_stdlib_docstrings():
    texts = real_texts()
    assert len(texts) >= 30
    K = sm.ncd_kernel(texts)
    S = K.toarray().astype(np.float64)
    naive = sm.facility_location(K, 10, optimizer="naive")
    lazy = sm.facility_location(K, 10, optimizer="lazy")
    A, _ = brute_greedy(lambda A: f_fl(S, A), len(texts), 10)
    assert naive.indices.tolist() == lazy.indices.tolist() == A
    assert naive.objective == lazy.objective


def test_scipy_sparse_matrix_is_accepted_as_a_kernel():
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(10)
    D = rng.random((30, 30)) * (rng.random((30, 30)) < 0.3)
    sel = sm.facility_location(sp.csr_matrix(D), 8)
    A, _ = brute_greedy(lambda A: f_fl(D.astype(np.float32).astype(np.float64), A), 30, 8)
    assert sel.indices.tolist() == A


# ---- optimizers --------------------------------------------------------------------------


def test_naive_and_lazy_give_identical_picks_and_objective_at_scale():
    rng = np.random.default_rng(11)
    K = sm.kernel(rng.random((1500, 16), dtype=np.float32))
    naive = sm.facility_location(K, 120, optimizer="naive")
    lazy = sm.facility_location(K, 120, optimizer="lazy")
    assert np.array_equal(naive.indices, lazy.indices)
    assert np.array_equal(naive.gains, lazy.gains)
    assert naive.objective == lazy.objective
    assert lazy.evaluations < naive.evaluations


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_lazier_than_lazy_picks_equal_stochastic_for_a_seed(seed):
    K = random_kernel(300, 12)
    st = sm.facility_location(K, 40, optimizer="stochastic", epsilon=0.05, seed=seed)
    ltl = sm.facility_location(K, 40, optimizer="lazier_than_lazy", epsilon=0.05, seed=seed)
    assert np.array_equal(st.indices, ltl.indices)
    assert np.array_equal(st.gains, ltl.gains)
    assert ltl.evaluations <= st.evaluations


def test_stochastic_greedy_is_within_its_bound_in_expectation():
    rng = np.random.default_rng(13)
    S = rng.random((14, 14)).astype(np.float32) ** 3  # uneven similarities: the optimum is not trivial
    S64 = S.astype(np.float64)
    k, eps = 4, 0.3
    opt = max(f_fl(S64, list(A)) for A in itertools.combinations(range(14), k))
    values = [sm.facility_location(S, k, optimizer="stochastic", epsilon=eps, seed=s).objective for s in range(60)]
    assert np.mean(values) >= (1 - 1 / math.e - eps) * opt
    greedy = sm.facility_location(S, k, optimizer="naive").objective
    assert greedy >= (1 - 1 / math.e) * opt
    # The seed matters: different samples give different selections.
    assert len({tuple(sm.facility_location(S, k, optimizer="stochastic", epsilon=eps, seed=s).indices)
                for s in range(10)}) > 1


@pytest.mark.parametrize("optimizer", list(sm.OPTIMIZERS))
def test_reported_objective_equals_f_of_selection_recomputed(optimizer):
    S = random_kernel(200, 14, symmetric=False)
    sel = sm.facility_location(S, 30, optimizer=optimizer, seed=3)
    assert sel.objective == pytest.approx(f_fl(S.astype(np.float64), sel.indices.tolist()), rel=1e-6)
    assert sel.objective == pytest.approx(sel.gains.sum(), rel=1e-12)
    assert len(set(sel.indices.tolist())) == 30
    assert sel.indices.dtype == np.int64 and sel.gains.dtype == np.float64


@pytest.mark.parametrize("optimizer", list(sm.OPTIMIZERS))
def test_results_do_not_depend_on_thread_count(optimizer):
    rng = np.random.default_rng(15)
    X = rng.random((2000, 24), dtype=np.float32)
    runs = []
    for threads in (1, 2, 3):
        K = sm.kernel(X, threads=threads)
        Ks = sm.kernel(X, knn=10, threads=threads)
        d = sm.facility_location(K, 50, optimizer=optimizer, seed=5, threads=threads)
        s = sm.facility_location(Ks, 50, optimizer=optimizer, seed=5, threads=threads)
        runs.append((K.values.tobytes(), Ks.indices.tobytes(), Ks.data.tobytes(), d.indices.tolist(),
                     d.gains.tobytes(), s.indices.tolist(), s.gains.tobytes()))
    assert runs[0] == runs[1] == runs[2]


def test_budget_as_a_fraction_of_n():
    K = random_kernel(50, 16)
    assert len(sm.facility_location(K, 0.3)) == 15
    assert len(sm.facility_location(K, 1.0)) == 50
    assert len(sm.facility_location(K, 0)) == 0
    assert sm.resolve_budget(0.31, 10) == 3 and sm.resolve_budget(0.35, 10) == 4


def test_stop_if_zero_gain_stops_when_every_row_is_covered():
    S = np.eye(6, dtype=np.float32)  # each item covers only itself: gains are 1, then 0
    S[0, 1] = S[1, 0] = 1.0
    full = sm.facility_location(S, 6)
    assert full.gains.tolist() == [2.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    stopped = sm.facility_location(S, 6, stop_if_zero_gain=True)
    assert stopped.indices.tolist() == [0, 2, 3, 4, 5]


def test_stop_if_negative_gain_stops_graph_cut_once_it_turns_negative():
    K = random_kernel(30, 17)
    full = sm.graph_cut(K, 30, lambda_=1.0)
    assert (full.gains < 0).any()
    stopped = sm.graph_cut(K, 30, lambda_=1.0, stop_if_negative_gain=True)
    assert len(stopped) == int(np.argmax(full.gains < 0))
    assert (stopped.gains >= 0).all()


def test_progress_is_called_with_the_pick_count():
    seen = []
    sm.facility_location(random_kernel(100, 18), 20, on_progress=lambda done, total: seen.append(done))
    assert seen and seen[-1] == 20


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_kernel_entries_are_rejected(bad):
    K = random_kernel(10, 19)
    K[3, 4] = bad
    with pytest.raises(ValueError, match=r"NaN or inf.*\(3, 4\)"):
        sm.facility_location(K, 2)


def test_non_finite_query_kernel_is_rejected():
    K = random_kernel(10, 20)
    Kq = np.ones((10, 3), dtype=np.float32)
    Kq[1, 1] = np.nan
    with pytest.raises(ValueError, match="K_query holds 1 NaN"):
        sm.flmi(K, Kq, 2)


def test_wrong_shapes_are_rejected():
    K = random_kernel(10, 21)
    with pytest.raises(ValueError, match="must be square"):
        sm.facility_location(K[:, :8], 2)
    with pytest.raises(ValueError, match="2-d"):
        sm.facility_location(K[0], 2)
    with pytest.raises(ValueError, match=r"shape \(n=10, q\)"):
        sm.flmi(K, np.ones((9, 3)), 2)
    with pytest.raises(ValueError, match=r"shape \(n=10, q\)"):
        sm.flcg(K, np.ones((11, 3)), 2)
    with pytest.raises(ValueError, match="no columns"):
        sm.flcg(K, np.ones((10, 0)), 2)


@pytest.mark.parametrize("fn", [sm.facility_location, sm.graph_cut])
def test_negative_similarities_are_rejected_where_the_objective_needs_s_nonnegative(fn):
    K = random_kernel(10, 22) - 0.5
    with pytest.raises(ValueError, match="negative similarities.*clip_negative"):
        fn(K, 2)


def test_negative_query_or_private_similarities_are_rejected():
    K = random_kernel(10, 23)
    with pytest.raises(ValueError, match="K_query has negative"):
        sm.flmi(K, -np.ones((10, 2)), 2)
    with pytest.raises(ValueError, match="K_private has negative"):
        sm.flcg(K, -np.ones((10, 2)), 2)


@pytest.mark.parametrize("budget", [11, 1.5, -1, 0.0, float("nan"), True, "3"])
def test_bad_budgets_are_rejected(budget):
    with pytest.raises(ValueError, match="budget"):
        sm.facility_location(random_kernel(10, 24), budget)


def test_unknown_optimizer_and_bad_epsilon_are_rejected():
    K = random_kernel(10, 25)
    with pytest.raises(ValueError, match="unknown optimizer 'greedy'.*lazier_than_lazy"):
        sm.facility_location(K, 2, optimizer="greedy")
    with pytest.raises(ValueError, match="epsilon"):
        sm.facility_location(K, 2, optimizer="stochastic", epsilon=1.5)
    with pytest.raises(ValueError, match="seed"):
        sm.facility_location(K, 2, optimizer="stochastic", seed=-1)
    with pytest.raises(ValueError, match="threads"):
        sm.facility_location(K, 2, threads=-1)


def test_bad_objective_parameters_are_rejected():
    K = random_kernel(10, 26)
    with pytest.raises(ValueError, match="eta"):
        sm.flmi(K, K, 2, eta=-1)
    with pytest.raises(ValueError, match="nu"):
        sm.flcg(K, K, 2, nu=float("nan"))
    with pytest.raises(ValueError, match="lambda_"):
        sm.graph_cut(K, 2, lambda_=-0.1)
    with pytest.raises(ValueError, match="regularizer"):
        sm.log_determinant(K, 2, regularizer=-1)


def test_lazy_is_refused_for_disparity_sum_whose_gains_grow():
    with pytest.raises(ValueError, match="naive"):
        sm.disparity_sum(random_kernel(10, 27), 3, optimizer="lazy")


def test_log_determinant_rejects_non_symmetric_sparse_and_indefinite_kernels():
    with pytest.raises(ValueError, match="symmetric"):
        sm.log_determinant(random_kernel(10, 28, symmetric=False), 3)
    X = np.random.default_rng(29).random((20, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="dense"):
        sm.log_determinant(sm.kernel(X, knn=3), 3)
    # Rank 1 with no regularizer: the second pick has a zero Schur complement.
    with pytest.raises(ValueError, match="positive definite"):
        sm.log_determinant(np.ones((5, 5), dtype=np.float32), 3, regularizer=0.0)


# ---- Ctrl-C -------------------------------------------------------------------------------


def test_ctrl_c_stops_a_knn_kernel_build(tmp_path):
    out = interrupt_script(tmp_path, """
        import sys
        import numpy as np
        from zipsift import submodular as sm
        X = np.random.default_rng(0).random((400_000, 64), dtype=np.float32)
        print("ready", flush=True)
        try:
            sm.kernel(X, knn=32)   # 1.6e11 dot products: minutes
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"


def test_ctrl_c_stops_a_long_maximisation(tmp_path):
    out = interrupt_script(tmp_path, """
        import sys
        import numpy as np
        from zipsift import submodular as sm
        K = sm.kernel(np.random.default_rng(0).random((6000, 8), dtype=np.float32))
        print("ready", flush=True)
        try:
            sm.facility_location(K, 6000, optimizer="naive", threads=1)   # 2e11 terms: minutes
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"
