"""zipsift.engine.ray's exact merge, without a cluster: the ranked prefix of per-block prefixes equals the
single-machine TopK (ties by input order, the budget walk's cutoff), and the lazy import's message."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from zipsift.engine.ray import ranked_prefix
from zipsift.engine.ray.ranking import better_stop
from zipsift.stream import TopK


def _blocks(n, rng, n_blocks):
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(n_blocks, n) - 1, replace=False))
    return np.split(np.arange(n), cuts)


@pytest.mark.parametrize("seed", range(40))
def test_merged_block_prefixes_equal_single_machine_topk_with_ties_and_budget(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    keys = rng.integers(0, 6, n).astype(np.float64)  # few distinct values: many ties
    sizes = rng.integers(1, 50, n)
    files = np.repeat(np.arange(4), -(-n // 4))[:n]  # records spread over 4 files, in order
    ordinals = np.concatenate([np.arange(np.count_nonzero(files == f)) for f in range(4)])
    k = [None, int(rng.integers(0, n + 3))][seed % 2]
    budget = [None, int(rng.integers(0, sizes.sum() + 10))][(seed // 2) % 2] if k is not None else int(rng.integers(0, sizes.sum()))
    local = TopK(k=k, budget_bytes=budget)
    for block in _blocks(n, rng, 5):
        local.offer(keys[block], block.tolist(), sizes[block].tolist())
    expected = [item.record for item in local.result()]
    # per block in any order, then the merge
    candidates, stop = [], None
    for block in reversed(_blocks(n, rng, 7)):
        keep, block_stop = ranked_prefix(keys[block], files[block], ordinals[block], sizes[block], k, budget)
        candidates.extend(block[keep].tolist())
        stop = better_stop(stop, block_stop)
    candidates = np.array(candidates, dtype=np.int64)
    keep, _ = ranked_prefix(keys[candidates], files[candidates], ordinals[candidates], sizes[candidates], k, budget,
                            stop)
    assert candidates[keep].tolist() == expected


def test_budget_walk_stops_at_the_first_record_that_overspends():
    # ranked: a(8 B), b(5 B), c(1 B); budget 10: a fits, b would overspend, c is out too
    keep, stop = ranked_prefix(np.array([3.0, 2.0, 1.0]), np.zeros(3, np.int64), np.arange(3), np.array([8, 5, 1]),
                               None, 10)
    assert keep.tolist() == [0] and stop == (-2.0, 0, 1)


def test_merge_without_the_stopping_record_still_stops_there():
    # Block 1 keeps a, b (5 + 5 of 12 bytes) and stops at c (4 B). Block 2 offers d (1 B), ranked
    # below c: without block 1's stop a merge would wrongly let d in behind the missing c.
    keys, files, ordinals, sizes = np.array([9.0, 8.0, 7.0]), np.array([0, 0, 0]), np.arange(3), np.array([5, 5, 4])
    keep, stop = ranked_prefix(keys, files, ordinals, sizes, None, 12)
    assert keep.tolist() == [0, 1] and stop == (-7.0, 0, 2)
    merged_keys, merged_files, merged_ord = np.array([9.0, 8.0, 6.0]), np.array([0, 0, 1]), np.array([0, 1, 0])
    keep, _ = ranked_prefix(merged_keys, merged_files, merged_ord, np.array([5, 5, 1]), None, 12, stop)
    assert keep.tolist() == [0, 1]


def test_ranked_prefix_refuses_nan_scores_and_a_budget_without_sizes():
    with pytest.raises(ValueError, match="NaN"):
        ranked_prefix(np.array([np.nan]), np.zeros(1, np.int64), np.zeros(1, np.int64), None, 1, None)
    with pytest.raises(ValueError, match="sizes are needed"):
        ranked_prefix(np.array([1.0]), np.zeros(1, np.int64), np.zeros(1, np.int64), None, None, 5)


def test_missing_ray_says_what_to_install(monkeypatch):
    from zipsift.engine.ray import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r'pip install "zipsift\[ray\]"'):
        require_ray()


def test_bad_engine_parameters_raise_before_any_cluster_is_touched(tmp_path):
    from zipsift import ZipFit
    from zipsift.engine.ray import select

    (tmp_path / "p.jsonl").write_text('{"text": "a"}\n')
    with pytest.raises(ValueError, match="actors must be an integer >= 0"):
        select(str(tmp_path / "p.jsonl"), lambda: ZipFit(["x"], threads=1), k=1, actors=-1)
    with pytest.raises(ValueError, match="give k"):
        select(str(tmp_path / "p.jsonl"), lambda: ZipFit(["x"], threads=1))
    with pytest.raises(ValueError, match="appears twice"):
        select([str(tmp_path / "p.jsonl")] * 2, lambda: ZipFit(["x"], threads=1), k=1)


def test_greedi_refuses_a_bad_number_of_parts_before_touching_a_cluster():
    from zipsift.engine.ray import greedi_facility_location

    X = np.random.default_rng(0).random((10, 4), dtype=np.float32)
    for parts in (0, 11, 2.5):
        with pytest.raises(ValueError, match="parts must be an integer"):
            greedi_facility_location(X, 3, parts)


@pytest.mark.parametrize("limits", [{"k": 25}, {"budget_bytes": 9000}, {"k": 0}])
def test_split_workers_fed_splits_in_any_order_merge_to_the_single_machine_selection(quickstart, tmp_path, limits):
    # The actors' code without Ray: real ZipFit, real split reader, splits dealt to two workers out of order.
    from zipsift import ZipFit
    from zipsift.engine.ray.worker import SplitWorker, rank_scores, rank_sizes
    from zipsift.io import iter_records, plan_splits, read_texts, records_at

    lines = (quickstart / "pool.jsonl").read_text().splitlines(keepends=True)
    files = [tmp_path / f"{i}.jsonl" for i in range(3)]
    for i, path in enumerate(files):
        path.write_text("".join(lines[i::3]) + "".join(lines[:5]))  # the first 5 again: ties across files
    targets = read_texts(quickstart / "targets.jsonl")
    expected = ZipFit(targets, threads=1).select(iter_records(files), **limits)

    plan = plan_splits(files, 4000)
    job = {"id": 1, "selector": [lambda: ZipFit(targets, threads=1)], "text_field": "text", "reserved": (),
           "on_error": "raise", "batch_size": 7, "options": {}, "k": limits.get("k"),
           "budget_bytes": limits.get("budget_bytes"), "raw_counts": None}
    order = list(range(len(plan)))
    np.random.default_rng(0).shuffle(order)
    workers = [SplitWorker(), SplitWorker()]
    results = [workers[n % 2].score(job, plan[i], i, None) for n, i in enumerate(order)]
    rows = np.concatenate([r["rows"] for r in results])
    # packed rows: key, split, ordinal, offset (24 bytes), and the text's size under a byte budget (28)
    assert rows.dtype.itemsize == (28 if limits.get("budget_bytes") else 24)
    stop = None
    for r in results:
        stop = better_stop(stop, r["stop"])
    keep, _ = ranked_prefix(rows["key"], rows["split"], rows["ordinal"], rank_sizes(rows), limits.get("k"),
                            limits.get("budget_bytes"), stop)
    scores = rank_scores(rows)
    got = [(records_at(plan[int(rows["split"][i])], [int(rows["offset"][i])])[int(rows["offset"][i])], scores[i])
           for i in keep]
    assert got == [(r.record, r.score) for r in expected]
    assert len(rows) < sum(r["records"] for r in results)  # the running prefixes filtered what was sent
    assert len(plan) > 6


def test_ray_engine_refuses_a_first_pass_it_does_not_distribute_before_touching_a_cluster():
    # Silently skipping a pass would change the scores.
    from zipsift.engine import NotDistributed, SelectJob, ray_engine

    job = SelectJob(method="x", sources=["tests/data/quickstart/pool.jsonl"], targets=["t"],
                    make_selector=lambda targets: None, k=3, fit=lambda *a: None, fit_name="something_new",
                    fit_records=5)
    with pytest.raises(NotDistributed, match="--engine ray does not run the something_new pass"):
        ray_engine().select(job)


@pytest.mark.parametrize("change, message", [
    ({"objective": "flmi"}, "runs --objective fl .* run --objective flmi with --engine local"),
    ({"embeddings": None}, "runs GreeDi on embeddings"),
    ({"knn": 8}, "drop --knn, or run --knn with --engine local")])
def test_ray_engine_refuses_submodular_work_greedi_does_not_do_before_touching_a_cluster(change, message):
    from zipsift.engine import NotDistributed, SubmodularJob, ray_engine

    def never(*args):
        raise AssertionError("the engine started work it then refused")

    job = SubmodularJob(**{"objective": "fl", "picks": never, "make_kernels": never, "maximize": never,
                           "embeddings": np.ones((4, 2), np.float32), **change})
    with pytest.raises(NotDistributed, match=message):
        ray_engine().maximize(job)


def test_local_engine_maximize_runs_the_objective_on_the_whole_pool_kernel():
    from zipsift.engine import LocalEngine, SubmodularJob
    from zipsift.submodular import facility_location, sources

    X = np.random.default_rng(1).normal(size=(50, 6)).astype(np.float32)
    job = SubmodularJob(objective="fl", picks=lambda n: n // 10,
                        make_kernels=lambda: sources.from_embeddings(X),
                        maximize=lambda built, picks, progress: facility_location(built.pool, picks),
                        embeddings=X)
    result = LocalEngine().maximize(job)
    expected = facility_location(sources.from_embeddings(X).pool, 5)
    assert result.selection.indices.tolist() == expected.indices.tolist()
    assert result.kernel == {"kind": "dense", "shape": [50, 50], "bytes": 50 * 50 * 4} and result.info is None


def test_facility_location_gains_over_the_whole_pool_are_the_local_greedy_s_gains():
    # Row blocks of 4,096: a pool of 9,000 crosses two block edges.
    from zipsift.engine.ray.greedi import facility_location_gains, facility_location_objective
    from zipsift.submodular import facility_location, kernel

    X = np.random.default_rng(0).normal(size=(9000, 16)).astype(np.float32)
    sel = facility_location(kernel(X, "cosine", clip_negative=True), 40)
    gains = facility_location_gains(X, sel.indices)
    np.testing.assert_allclose(gains, sel.gains, rtol=1e-6)
    assert facility_location_objective(X, sel.indices) == pytest.approx(sel.objective, rel=1e-9)
    assert facility_location_gains(X, np.array([], np.int64)).shape == (0,)
    with pytest.raises(IndexError):
        facility_location_gains(X, np.array([9000]))


def test_packed_rank_rows_are_24_to_36_bytes():
    from zipsift.engine.ray.worker import rank_dtype, rank_scores, rank_sizes

    assert [rank_dtype(score, size).itemsize for score in (False, True) for size in (False, True)] == [24, 28, 32, 36]
    rows = np.zeros(2, rank_dtype(False, False))
    rows["key"] = [2.5, 1.0]
    assert rank_scores(rows).tolist() == [2.5, 1.0] and rank_sizes(rows) is None
