"""zipsift.submodular.delift: stage -> objective mapping, min-max scaling, embeddings path, utility kernel."""
import numpy as np
import pytest

from zipsift.submodular import delift
from zipsift import submodular as sm


def utility(n, seed):
    # A non-symmetric utility kernel with negative entries, as DELIFT's U is before scaling.
    return np.random.default_rng(seed).standard_normal((n, n))


def test_instruction_stage_is_facility_location_on_the_min_max_scaled_kernel():
    U = utility(40, 0)
    sel = delift.select(U, stage="instruction", budget=0.25)
    (S,) = delift.min_max_scale(U)
    assert S.min() == 0 and S.max() == 1
    assert sel.indices.tolist() == sm.facility_location(S, 10).indices.tolist()
    assert len(sel) == 10


def test_task_stage_is_flmi_with_the_query_kernel_scaled_jointly():
    U, Uq = utility(40, 1), np.random.default_rng(2).standard_normal((40, 6))
    sel = delift.select(U, stage="task", budget=8, query=Uq)
    S, Sq = delift.min_max_scale(U, Uq)
    assert min(S.min(), Sq.min()) == 0 and max(S.max(), Sq.max()) == 1
    assert sel.indices.tolist() == sm.flmi(S, Sq, 8).indices.tolist()


def test_continual_stage_is_flcg_with_the_private_kernel():
    U, Up = utility(40, 3), np.random.default_rng(4).standard_normal((40, 5))
    sel = delift.select(U, stage="continual", budget=8, private=Up, optimizer="naive")
    S, Sp = delift.min_max_scale(U, Up)
    assert sel.indices.tolist() == sm.flcg(S, Sp, 8).indices.tolist()


def test_embeddings_use_clipped_cosine_and_top1_side_kernels():
    rng = np.random.default_rng(5)
    X, Q = rng.standard_normal((60, 8)), rng.standard_normal((4, 8))
    K = sm.kernel(X, clip_negative=True)
    Kq = sm.kernel(X, Y=Q, clip_negative=True)
    assert delift.select(X, stage="task", budget=10, query=Q).indices.tolist() == \
        sm.flmi(K, Kq, 10).indices.tolist()
    assert delift.select(X, stage="instruction", budget=10, knn=12).indices.tolist() == \
        sm.facility_location(sm.kernel(X, knn=12, clip_negative=True), 10).indices.tolist()
    # A square embeddings matrix is taken for a kernel unless told otherwise.
    Xs = rng.standard_normal((8, 8))
    assert delift.select(Xs, budget=3, input_kind="embeddings").indices.tolist() == \
        sm.facility_location(sm.kernel(Xs, clip_negative=True), 3).indices.tolist()


def test_precomputed_kernel_objects_pass_through_unscaled_when_sparse():
    X = np.random.default_rng(6).random((50, 6), dtype=np.float32)
    K = sm.kernel(X, knn=5)
    assert delift.select(K, budget=5).indices.tolist() == sm.facility_location(K, 5).indices.tolist()


def test_select_rejects_bad_stage_and_missing_or_misplaced_side_sets():
    U = utility(10, 7)
    with pytest.raises(ValueError, match="unknown stage 'pretraining'"):
        delift.select(U, stage="pretraining")
    with pytest.raises(ValueError, match="needs query="):
        delift.select(U, stage="task")
    with pytest.raises(ValueError, match="needs private="):
        delift.select(U, stage="continual")
    with pytest.raises(ValueError, match="only used by stage 'task'"):
        delift.select(U, stage="instruction", query=U)
    with pytest.raises(ValueError, match="scale"):
        delift.select(U, scale="zscore")
    with pytest.raises(ValueError, match="constant"):
        delift.select(np.ones((5, 5)))
    with pytest.raises(ValueError, match="NaN"):
        delift.select(np.full((5, 5), np.nan))
    with pytest.raises(ValueError, match="input_kind"):
        delift.select(U, input_kind="matrix")


class FakeModel:
    """Token probabilities that rise with the number of words the prompt shares with the response."""

    def __init__(self):
        self.calls = 0

    def token_probabilities(self, prompt, response):
        self.calls += 1
        words = set(prompt.split())
        return np.array([0.9 if w in words else 0.2 for w in response.split()])


def test_utility_kernel_follows_the_delift_formula_with_n_plus_n_squared_passes():
    samples = [("q a", "alpha beta"), ("q b", "beta gamma"), ("q c", "delta alpha beta")]
    model = FakeModel()
    stats = {}
    U = delift.utility_kernel(model, samples, stats=stats)
    assert model.calls == 3 + 3 * 3 == stats["passes"] and stats["prefix_passes"] == 0
    d = delift.distance_from_ones
    for i, (x, y) in enumerate(samples):
        for j, ex in enumerate(samples):
            expect = d(model.token_probabilities(f"{x}\n", y)) - \
                d(model.token_probabilities(f"{ex[0]}\n{ex[1]}\n\n{x}\n", y))
            assert U[i, j] == pytest.approx(expect)
    # Example 2 holds "alpha beta": it helps sample 0 more than sample 1 does; its own answer most.
    assert U[0, 0] >= U[0, 2] > U[0, 1] > 0
    assert d(np.ones(4)) == 0 and d(np.zeros(4)) == 1


def test_utility_kernel_zero_diagonal_skips_n_passes_and_templates_are_overridable():
    samples = [("q a", "alpha beta"), ("q b", "beta gamma"), ("q c", "delta alpha beta")]
    model = FakeModel()
    calls = []
    U = delift.utility_kernel(model, samples, diagonal="zero", on_progress=lambda d, total: calls.append(d),
                              template=delift.ICLTemplate(query="Q: {prompt} A:", example="Q: {prompt} A: {response} | "))
    assert model.calls == 3 + 3 * 2 and calls[-1] == 9 and np.all(np.diag(U) == 0)
    d = delift.distance_from_ones
    assert U[0, 2] == pytest.approx(d(model.token_probabilities("Q: q a A:", "alpha beta")) -
                                    d(model.token_probabilities("Q: q c A: delta alpha beta | Q: q a A:", "alpha beta")))
    # A rectangular kernel: rows are samples, columns the given contexts.
    R = delift.utility_kernel(FakeModel(), samples, contexts=samples[:2])
    np.testing.assert_allclose(R, delift.utility_kernel(FakeModel(), samples)[:, :2])


def test_utility_kernel_rejects_bad_models_and_probabilities():
    with pytest.raises(ValueError, match="token_probabilities"):
        delift.utility_kernel(object(), [("a", "b")])
    with pytest.raises(ValueError, match="at least one"):
        delift.utility_kernel(FakeModel(), [])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        delift.distance_from_ones(np.array([1.5]))
    with pytest.raises(ValueError, match="non-empty"):
        delift.distance_from_ones(np.array([]))
    with pytest.raises(ValueError, match="sample 1 must be an"):
        delift.utility_kernel(FakeModel(), [("a", "b"), ("only one",)])
    with pytest.raises(ValueError, match="sample 0: the response is empty"):
        delift.utility_kernel(FakeModel(), [("a", "  ")])
    with pytest.raises(ValueError, match="diagonal"):
        delift.utility_kernel(FakeModel(), [("a", "b")], diagonal="skip")
    with pytest.raises(ValueError, match="only for the square kernel"):
        delift.utility_kernel(FakeModel(), [("a", "b")], contexts=[("c", "d")], diagonal="zero")
    with pytest.raises(ValueError, match=r"containing \{prompt\} and \{response\}"):
        delift.ICLTemplate(example="{prompt} only")
    with pytest.raises(ValueError, match="template must be"):
        delift.utility_kernel(FakeModel(), [("a", "b")], template="{prompt}")
