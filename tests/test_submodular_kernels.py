"""zipsift.submodular kernels: dense and kNN from embeddings, neighbour lists, NCD, memory limits."""
import numpy as np
import pytest

from zipsift import ncd_matrix
from zipsift import submodular as sm


def reference(X, Y, metric, gamma):
    X = X.astype(np.float64)
    Y = X if Y is None else Y.astype(np.float64)
    G = X @ Y.T
    if metric == "cosine":
        return G / np.outer(np.linalg.norm(X, axis=1), np.linalg.norm(Y, axis=1))
    if metric == "dot":
        return G
    d2 = np.maximum((X ** 2).sum(1)[:, None] + (Y ** 2).sum(1)[None, :] - 2 * G, 0)
    if metric == "rbf":
        return np.exp(-gamma * d2)
    return 1 / (1 + np.sqrt(d2))


@pytest.mark.parametrize("metric", sm.METRICS)
@pytest.mark.parametrize("rect", [False, True])
def test_dense_kernel_matches_the_metric_formula(metric, rect):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((131, 37)).astype(np.float32)  # sizes off every tile boundary
    Y = rng.standard_normal((70, 37)).astype(np.float32) if rect else None
    K = sm.kernel(X, metric, Y=Y, gamma=0.02)
    assert K.values.dtype == np.float32 and K.shape == (131, 70 if rect else 131)
    np.testing.assert_allclose(K.values, reference(X, Y, metric, 0.02), rtol=2e-4, atol=2e-4)
    assert K.symmetric is (not rect)
    if not rect:
        assert np.array_equal(K.values, K.values.T)


def test_rbf_default_gamma_is_one_over_dimension():
    X = np.random.default_rng(1).standard_normal((20, 8)).astype(np.float32)
    np.testing.assert_allclose(sm.kernel(X, "rbf").values, reference(X, None, "rbf", 1 / 8), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("metric", sm.METRICS)
def test_knn_kernel_keeps_the_top_t_of_each_row_of_the_dense_kernel(metric):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 16)).astype(np.float32)
    Y = rng.standard_normal((90, 16)).astype(np.float32)
    for other in (None, Y):
        dense = sm.kernel(X, metric, Y=other).values
        K = sm.kernel(X, metric, knn=7, Y=other)
        assert isinstance(K, sm.SparseKernel) and K.nnz == 300 * 7
        idx = K.indices.reshape(300, 7)
        val = K.data.reshape(300, 7)
        expect = np.argsort(-dense, axis=1, kind="stable")[:, :7]
        # Same sets of neighbours up to float ties at the boundary, best first.
        assert (idx == expect).mean() > 0.99
        np.testing.assert_allclose(val, np.take_along_axis(dense, idx, 1), rtol=1e-4, atol=1e-5)
        assert (np.diff(val, axis=1) <= 1e-6).all()


def test_knn_ties_go_to_the_lower_column():
    X = np.ones((10, 4), dtype=np.float32)  # every similarity is 1
    K = sm.kernel(X, "cosine", knn=3)
    assert K.indices.reshape(10, 3).tolist() == [[0, 1, 2]] * 10


def test_clip_negative_zeroes_negative_similarities():
    X = np.array([[1, 0], [-1, 0], [0, 1]], dtype=np.float32)
    K = sm.kernel(X, "cosine", clip_negative=True)
    assert K.values.min() == 0.0 and K.values[0, 1] == 0.0
    sel = sm.facility_location(K, 2)
    assert len(sel) == 2


def test_sparse_kernel_from_neighbour_lists():
    idx = np.array([[1, 0, -1], [1, 2, 0], [2, -1, -1]])
    sim = np.array([[0.5, 1.0, 9.0], [1.0, 0.25, 0.5], [1.0, 0.0, 0.0]], dtype=np.float32)
    K = sm.sparse_kernel(idx, sim)
    dense = np.array([[1.0, 0.5, 0], [0.5, 1.0, 0.25], [0, 0, 1.0]], dtype=np.float32)
    assert np.array_equal(K.toarray(), dense)
    assert K.indices.tolist() == [0, 1, 0, 1, 2, 2]  # each row in column order
    assert sm.facility_location(K, 3).indices.tolist() == sm.facility_location(dense, 3).indices.tolist()


def test_sparse_kernel_rejects_bad_neighbour_lists():
    with pytest.raises(ValueError, match="same shape"):
        sm.sparse_kernel(np.zeros((3, 2), int), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="outside"):
        sm.sparse_kernel(np.array([[0, 5]]), np.ones((1, 2)))
    with pytest.raises(ValueError, match="twice"):
        sm.sparse_kernel(np.array([[0, 0], [1, 0]]), np.ones((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        sm.sparse_kernel(np.array([[0, 1], [1, 0]]), np.array([[1, np.nan], [1, 1]]))
    with pytest.raises(ValueError, match="integers"):
        sm.sparse_kernel(np.array([[0.0]]), np.array([[1.0]]))


def test_ncd_kernel_is_one_minus_ncd_clipped():
    texts = ["the cat sat on the mat", "the cat sat on a hat", "completely different words here", "zzzz"]
    K = sm.ncd_kernel(texts)
    expect = np.maximum(1 - ncd_matrix(texts, texts), 0).astype(np.float32)
    assert np.array_equal(K.values, expect)
    Kq = sm.ncd_kernel(texts, ["the cat"])
    assert Kq.shape == (4, 1)
    with pytest.raises(ValueError, match="at least one"):
        sm.ncd_kernel([])


def test_dense_kernel_memory_is_checked_up_front_and_suggests_knn():
    X = np.random.default_rng(3).random((1000, 4), dtype=np.float32)
    assert sm.dense_kernel_bytes(1000) == 4_000_000
    with pytest.raises(ValueError, match=r"needs 0\.00 GiB.*knn=32"):
        sm.kernel(X, max_memory=1_000_000)
    huge = np.zeros((10, 4), dtype=np.float32)
    # An n far beyond this machine's memory is refused before anything is allocated.
    with pytest.raises(ValueError, match="kNN"):
        sm.kernel(np.broadcast_to(huge[:1], (4_000_000, 4)))


def test_kernel_rejects_bad_embeddings_and_parameters():
    X = np.random.default_rng(4).random((10, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="unknown metric 'manhattan'"):
        sm.kernel(X, "manhattan")
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2, column 1"):
        sm.kernel(bad)
    with pytest.raises(ValueError, match="2-d"):
        sm.kernel(X[0])
    with pytest.raises(ValueError, match="knn must be an integer in \\[1, 10\\]"):
        sm.kernel(X, knn=11)
    with pytest.raises(ValueError, match="knn"):
        sm.kernel(X, knn=0)
    with pytest.raises(ValueError, match="same dimension"):
        sm.kernel(X, Y=np.ones((2, 4)))
    with pytest.raises(ValueError, match="gamma"):
        sm.kernel(X, "rbf", gamma=-1.0)
    zero = X.copy()
    zero[4] = 0
    with pytest.raises(ValueError, match="row 4.*norm 0"):
        sm.kernel(zero, "cosine")
    with pytest.raises(ValueError, match="real numbers"):
        sm.kernel(np.array([["a", "b"]]))


def test_as_kernel_detects_symmetry_and_transposes_otherwise():
    S = np.random.default_rng(5).random((20, 20), dtype=np.float32)
    K = sm.as_kernel(S)
    assert not K.symmetric and np.array_equal(K.columns(), S.T)
    K2 = sm.as_kernel(S + S.T)
    assert K2.symmetric and K2.columns() is K2.values
    with pytest.raises(ValueError, match="2-d"):
        sm.as_kernel(np.ones(3))


@pytest.mark.parametrize("metric", sm.METRICS)
def test_statistics_gathered_while_building_equal_a_scan_of_the_values(metric):
    from zipsift import _core

    rng = np.random.default_rng(6)
    X = rng.standard_normal((77, 9)).astype(np.float32)
    for Y in (None, rng.standard_normal((13, 9)).astype(np.float32)):
        K = sm.kernel(X, metric, Y=Y)
        assert K.scan() == tuple(_core.scan_values(K.values, 0))


def test_dot_kernel_overflowing_to_inf_is_reported_by_the_objectives():
    X = np.full((20, 4), 1e20, dtype=np.float32)
    K = sm.kernel(X, "dot")
    assert K.scan()[0] == 400 and K.scan()[1] == 0
    with pytest.raises(ValueError, match=r"400 NaN or inf entries \(first at \(0, 0\)\)"):
        sm.facility_location(K, 2)


def test_dense_selection_memory_model_counts_block_bounds_and_points_to_knn():
    # kernel 4 n^2 + block bounds n * (n // 16) float32 (from n = 1024 on) + transpose if not symmetric
    assert sm.block_bounds_bytes(1000) == 0
    assert sm.block_bounds_bytes(50_000) == 4 * 50_000 * 3125
    assert sm.dense_selection_bytes(50_000) == 10_000_000_000 + 625_000_000
    assert sm.dense_selection_bytes(2048, symmetric=False) == 2 * 4 * 2048**2 + 4 * 2048 * 128
    X = np.random.default_rng(3).random((2048, 4), dtype=np.float32)
    # The kernel alone (16.8 MB) fits in 17 MB; with its bounds (+1.05 MB) it does not.
    with pytest.raises(ValueError, match=r"block bounds.*knn=32.*--knn 32"):
        sm.kernel(X, max_memory=17_000_000)
    assert sm.kernel(X, max_memory=18_000_000).shape == (2048, 2048)


def test_facility_location_refuses_bounds_that_do_not_fit_and_points_to_knn(monkeypatch):
    from zipsift.submodular import objectives

    K = sm.kernel(np.random.default_rng(5).random((2048, 4), dtype=np.float32))
    monkeypatch.setattr(objectives, "available_memory", lambda: 1_000_000)  # less than the 1.05 MB of bounds
    with pytest.raises(ValueError, match=r"block bounds.*knn=32"):
        sm.facility_location(K, 10)
    monkeypatch.setattr(objectives, "available_memory", lambda: 2_000_000)
    assert len(sm.facility_location(K, 10)) == 10
