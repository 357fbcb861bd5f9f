"""zipsift.mixture: run planning, law fitting and recovery of a known optimum, optimisation, errors."""
import math

import numpy as np
import pytest

pytest.importorskip("scipy")

from zipsift.mixture import DataMixingLaw, MixtureLaw, grid_search, plan_runs
from zipsift.mixture.optimize import minimize_on_simplex

DOMAINS = ["code", "math", "chat"]
# Known parameters of L_i = C (N_i + min(k M_i^α, M_i))^-β + E, raw token units.
TRUE = {"code": dict(C=60.0, k=400.0, alpha=0.5, beta=0.25, E=1.2),
        "math": dict(C=150.0, k=40.0, alpha=0.6, beta=0.35, E=0.9),
        "chat": dict(C=30.0, k=2000.0, alpha=0.45, beta=0.2, E=1.6)}
BASE, N0 = 1e7, 3e7


def true_losses(tokens):
    total = sum(tokens.values())
    out = {}
    for d, p in TRUE.items():
        n, m = tokens[d], total - tokens[d]
        out[d] = p["C"] * (n + min(p["k"] * m ** p["alpha"], m)) ** -p["beta"] + p["E"]
    return out


def true_optimum(losses_fn, n0):
    f = lambda w: sum(losses_fn({d: x * n0 for d, x in zip(DOMAINS, np.clip(w, 0, None))}).values())
    w = minimize_on_simplex(f, len(DOMAINS))
    return w, f(w)


def noisy_runs(losses_fn, plan, seed, noise):
    rng = np.random.default_rng(seed)
    runs = []
    for r in plan:
        clean = losses_fn(r["tokens"])
        runs.append({"tokens": r["tokens"], "loss": {d: v * (1 + noise * rng.standard_normal()) for d, v in clean.items()}})
    return runs


def test_plan_runs_is_base_then_each_domain_at_four_scales():
    runs = plan_runs(["a", "b"], 300)
    assert len(runs) == 4 * 2 + 1
    assert runs[0] == {"name": "base", "tokens": {"a": 300, "b": 300}}
    assert [r["tokens"]["a"] for r in runs[1:5]] == [100, 150, 600, 900]
    assert all(r["tokens"]["b"] == 300 for r in runs[1:5])
    assert [r["tokens"]["b"] for r in runs[5:9]] == [100, 150, 600, 900]
    assert [r["name"] for r in runs[5:9]] == ["bx1/3", "bx1/2", "bx2", "bx3"]


def test_plan_runs_accepts_per_domain_base_tokens():
    runs = plan_runs(["a", "b"], {"a": 600, "b": 30})
    assert runs[0]["tokens"] == {"a": 600, "b": 30}
    assert runs[8]["tokens"] == {"a": 600, "b": 90}


@pytest.mark.parametrize("domains, base, match", [
    (["a"], 100, "at least 2 domains"),
    (["a", "a"], 100, "distinct"),
    (["a", "b"], -5, ">= 3"),
    (["a", "b"], float("nan"), ">= 3"),
    (["a", "b"], {"a": 100}, "missing"),
])
def test_plan_runs_rejects_bad_input(domains, base, match):
    with pytest.raises(ValueError, match=match):
        plan_runs(domains, base)


@pytest.mark.parametrize("seed", range(5))
def test_mixture_law_recovers_known_optimum_from_noisy_runs(seed):
    # 0.1% multiplicative Gaussian noise on every validation loss of the 13 planned runs.
    w_true, f_true = true_optimum(true_losses, N0)
    assert np.all(w_true > 0.2), "the planted optimum must be interior for this test to mean something"
    law = MixtureLaw().fit(noisy_runs(true_losses, plan_runs(DOMAINS, BASE), seed, 0.001))
    res = law.optimize(N0)
    w = np.array([res.weights[d] for d in DOMAINS])
    assert np.max(np.abs(w - w_true)) <= 0.02
    assert abs(res.total_loss / f_true - 1) <= 0.005
    truth_at_fit = true_losses({d: x * N0 for d, x in zip(DOMAINS, w)})
    for d in DOMAINS:
        assert abs(res.losses[d] / truth_at_fit[d] - 1) <= 0.005
    assert all(q["max_rel_error"] < 0.01 for q in law.fit_quality.values())


def test_mixture_law_fits_noise_free_runs_almost_exactly():
    law = MixtureLaw().fit(noisy_runs(true_losses, plan_runs(DOMAINS, BASE), 0, 0.0))
    for d in DOMAINS:
        assert law.fit_quality[d]["max_rel_error"] < 1e-4
        assert law.fit_quality[d]["r2"] > 0.9999
    probe = {"code": 5e6, "math": 2.2e7, "chat": 8e6}
    for d, v in law.predict_tokens(probe).items():
        assert v == pytest.approx(true_losses(probe)[d], rel=1e-3)


def test_mixture_law_huber_fit_resists_one_corrupted_run():
    runs = noisy_runs(true_losses, plan_runs(DOMAINS, BASE), 3, 0.001)
    runs[6]["loss"]["code"] *= 1.05  # one run's evaluation went wrong by 5%
    w_true, _ = true_optimum(true_losses, N0)
    res = MixtureLaw().fit(runs).optimize(N0)
    assert np.max(np.abs(np.array([res.weights[d] for d in DOMAINS]) - w_true)) <= 0.02


def test_mixture_law_keeps_transfer_below_other_domain_data():
    law = MixtureLaw().fit(noisy_runs(true_losses, plan_runs(DOMAINS, BASE), 1, 0.001))
    runs = plan_runs(DOMAINS, BASE)
    for d, p in law.params.items():
        assert set(p) == {"C", "k", "alpha", "beta", "E"}
        assert 0 <= p["alpha"] <= 1 and p["k"] >= 0 and p["C"] >= 0 and p["E"] >= 0
        for r in runs:
            m = sum(r["tokens"].values()) - r["tokens"][d]
            assert p["k"] * m ** p["alpha"] <= m * (1 + 1e-9)


def test_optimized_weights_are_on_the_simplex_and_beat_every_grid_point():
    law = MixtureLaw().fit(noisy_runs(true_losses, plan_runs(DOMAINS, BASE), 2, 0.001))
    res = law.optimize(N0)
    w = np.array(list(res.weights.values()))
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0, abs=1e-12)
    assert res.total_loss == pytest.approx(sum(res.losses.values()))
    assert res.losses == pytest.approx(law.predict(res.weights, N0))
    assert sum(res.tokens.values()) == pytest.approx(N0)
    grid = grid_search(law, DOMAINS, resolution=5, total_tokens=N0)
    assert len(grid.evaluated) == 21
    assert res.total_loss <= grid.total_loss + 1e-12


def test_optimal_weights_depend_on_the_budget():
    law = MixtureLaw().fit(noisy_runs(true_losses, plan_runs(DOMAINS, BASE), 0, 0.0))
    small, large = law.optimize(3e6).weights, law.optimize(3e8).weights
    assert max(abs(small[d] - large[d]) for d in DOMAINS) > 0.01


def test_grid_search_enumerates_the_simplex_grid_and_picks_the_minimum():
    seen = []

    def evaluate(w):
        seen.append(w)
        return {"a": (w["a"] - 0.25) ** 2, "b": (w["b"] - 0.75) ** 2}

    res = grid_search(evaluate, ["a", "b"], resolution=4)
    assert [s["a"] for s in seen] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert res.weights == {"a": 0.25, "b": 0.75} and res.total_loss == 0.0


def test_grid_search_rejects_bad_input():
    with pytest.raises(ValueError, match="resolution"):
        grid_search(lambda w: w, ["a", "b"], resolution=0)
    with pytest.raises(ValueError, match="a loss for each"):
        grid_search(lambda w: {"a": 1.0}, ["a", "b"])
    with pytest.raises(ValueError, match="total_tokens"):
        grid_search(MixtureLaw(), ["a", "b"])


def test_data_mixing_law_recovers_known_optimum():
    planted = {"code": (1.5, [-1.0, 0.2, 0.2]), "math": (0.9, [0.3, -1.5, 0.2]), "chat": (1.8, [0.1, 0.1, -0.8])}

    def losses(tokens):
        t = np.array([tokens[d] for d in DOMAINS])
        r = t / t.sum()
        return {d: c + math.exp(r @ np.array(u)) for d, (c, u) in planted.items()}

    w_true, f_true = true_optimum(losses, N0)
    rng = np.random.default_rng(7)  # Ye et al. fit on mixtures spread over the simplex
    plan = [{"tokens": {d: float(x) * N0 for d, x in zip(DOMAINS, rng.dirichlet([1, 1, 1]))}} for _ in range(20)]
    law = DataMixingLaw().fit(noisy_runs(losses, plan, 0, 0.001))
    res = law.optimize(N0)
    w = np.array([res.weights[d] for d in DOMAINS])
    assert np.max(np.abs(w - w_true)) <= 0.02
    assert abs(res.total_loss / f_true - 1) <= 0.005
    assert sum(law.params["code"]["t"].values()) == pytest.approx(0.0, abs=1e-9)
    assert law.params["code"]["c"] == pytest.approx(1.5, abs=0.15)


def test_data_mixing_law_warns_outside_fitted_budget():
    law = DataMixingLaw().fit(noisy_runs(true_losses, plan_runs(DOMAINS, BASE), 0, 0.0))
    with pytest.warns(UserWarning, match="no term for the training budget"):
        law.predict({"code": 0.3, "math": 0.3, "chat": 0.4}, 1e12)


def _good_runs():
    return noisy_runs(true_losses, plan_runs(DOMAINS, BASE), 0, 0.0)


@pytest.mark.parametrize("mutate, match", [
    (lambda runs: runs[:4], "needs at least"),
    (lambda runs: runs[:1] + [{"tokens": runs[1]["tokens"], "loss": {**runs[1]["loss"], "math": float("nan")}}]
     + runs[2:], r"run 1: loss\['math'\] = nan"),
    (lambda runs: runs[:3] + [{"tokens": {**runs[3]["tokens"], "chat": -10}, "loss": runs[3]["loss"]}] + runs[4:],
     r"run 3: tokens\['chat'\] = -10"),
    (lambda runs: runs[:2] + [{"tokens": runs[2]["tokens"]}] + runs[3:], "run 2: expected a dict with keys"),
    (lambda runs: runs[:5] + [{"tokens": {"code": 1, "math": 2}, "loss": {"code": 1, "math": 2}}] + runs[6:],
     "run 5: tokens has domains"),
    (lambda runs: [], "empty"),
    (lambda runs: [{"tokens": r["tokens"], "loss": {**r["loss"], "code": 0.0}} for r in runs], "> 0"),
])
@pytest.mark.parametrize("law_cls", [MixtureLaw, DataMixingLaw])
def test_fit_rejects_bad_runs_with_the_run_and_domain(law_cls, mutate, match):
    with pytest.raises(ValueError, match=match):
        law_cls().fit(mutate(_good_runs()))


def test_mixture_law_rejects_runs_that_never_scale_a_domain():
    plan = [r for r in plan_runs(DOMAINS, BASE) if not r["name"].startswith("mathx")]
    runs = noisy_runs(true_losses, plan, 0, 0.0)
    with pytest.raises(ValueError, match="domain 'math': its own token count"):
        MixtureLaw().fit(runs)


def test_predict_and_optimize_reject_bad_arguments():
    with pytest.raises(ValueError, match="not fitted"):
        MixtureLaw().optimize(N0)
    law = MixtureLaw().fit(_good_runs())
    with pytest.raises(ValueError, match="sum to 1"):
        law.predict({"code": 0.5, "math": 0.5, "chat": 0.5}, N0)
    with pytest.raises(ValueError, match="expected exactly"):
        law.predict({"code": 0.5, "math": 0.5}, N0)
    with pytest.raises(ValueError, match="total_tokens"):
        law.optimize(-1)
    with pytest.raises(ValueError, match="huber_delta"):
        MixtureLaw(huber_delta=0)


def test_missing_scipy_gives_install_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r'pip install "zipsift\[mixture\]"'):
        MixtureLaw().fit(_good_runs())


def test_failed_fit_leaves_the_law_unfitted():
    law = MixtureLaw()
    plan = [r for r in plan_runs(DOMAINS, BASE) if not r["name"].startswith("chatx")]
    with pytest.raises(ValueError, match="domain 'chat'"):
        law.fit(noisy_runs(true_losses, plan, 0, 0.0))
    with pytest.raises(ValueError, match="not fitted"):
        law.predict({"code": 0.3, "math": 0.3, "chat": 0.4}, N0)


@pytest.mark.parametrize("domains", [["code", "math"], ["code", "math", "chat", "law"]])
def test_mixture_law_recovers_the_optimum_for_two_and_four_domains(domains):
    planted = {**TRUE, "law": dict(C=80.0, k=100.0, alpha=0.55, beta=0.3, E=1.0)}

    def losses(tokens):
        total = sum(tokens.values())
        return {d: planted[d]["C"] * (tokens[d] + min(planted[d]["k"] * (total - tokens[d]) ** planted[d]["alpha"],
                                                      total - tokens[d])) ** -planted[d]["beta"] + planted[d]["E"]
                for d in domains}

    n0 = 1e7 * len(domains)
    f = lambda w: sum(losses({d: x * n0 for d, x in zip(domains, np.clip(w, 0, None))}).values())
    w_true = minimize_on_simplex(f, len(domains))
    res = MixtureLaw().fit(noisy_runs(losses, plan_runs(domains, BASE), 1, 0.001)).optimize(n0)
    w = np.array([res.weights[d] for d in domains])
    assert np.max(np.abs(w - w_true)) <= 0.02
    assert abs(res.total_loss / f(w_true) - 1) <= 0.005
