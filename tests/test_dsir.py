"""DSIR: p_T / p_R and log importance as the data-selection package defines them (exactly, with the
compat scheme), Gumbel top-k that depends only on (seed, record index), streaming selection limits,
and bad input."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from zipsift import DSIR
from zipsift.dsir import gumbel_noise
from zipsift.ngram import HashedNgrams


@pytest.fixture(scope="module")
def data(stdlib_functions):
    # Pool: Python functions mixed with prose-like text; targets: other Python functions.
    prose = [("The licensee may copy and distribute verbatim copies of the program's source code "
              f"as received, in any medium, number {i}, provided that notices are kept intact. ") * 3
             for i in range(150)]
    pool = [t for pair in zip(stdlib_functions[:150], prose) for t in pair]
    return {"pool": pool, "targets": stdlib_functions[-60:]}


@pytest.fixture(scope="module")
def fitted(data):
    return DSIR(data["targets"]).fit(data["pool"])


def test_log_importance_is_counts_dot_log_ratio_with_1e8_smoothing(data, fitted):
    h = HashedNgrams(2, 10000, "fast")
    c_t, c_r = h.counts(data["targets"]), h.counts(data["pool"])
    log_diff = np.log(c_t / c_t.sum() + 1e-8) - np.log(c_r / c_r.sum() + 1e-8)
    np.testing.assert_array_equal(fitted.log_diff, log_diff)
    np.testing.assert_allclose(fitted.log_importance(data["pool"]), h.csr(data["pool"]) @ log_diff,
                               rtol=1e-12, atol=1e-9)


def test_in_domain_texts_weigh_more(data, fitted):
    # log w sums over n-grams, so compare per n-gram: functions weigh more than prose paragraphs.
    lw, totals = fitted.featurizer.dot(data["pool"], fitted.log_diff)
    per_ngram = lw / totals
    assert np.median(per_ngram[0::2]) > np.percentile(per_ngram[1::2], 95)


def test_compat_log_importance_matches_data_selection_to_1e9(data, tmp_path):
    ds = pytest.importorskip("data_selection",
                             reason="data-selection is not installed (pip install \"zipsift[test]\" installs it)")
    from data_selection import HashedNgramDSIR

    raw, target = tmp_path / "raw.jsonl", tmp_path / "target.jsonl"
    for path, texts in ((raw, data["pool"]), (target, data["targets"])):
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    ref = HashedNgramDSIR([str(raw)], [str(target)], cache_dir=str(tmp_path / "cache"), num_proc=1,
                          ngrams=2, num_buckets=10000)
    ref.fit_importance_estimator(num_tokens_to_fit="all")
    ours = DSIR(data["targets"], scheme="compat").fit(data["pool"])
    np.testing.assert_allclose(ours.log_diff, ref.log_diff, rtol=1e-12, atol=0)
    expected = np.array([ref.importance_estimator(ref.featurizer(t)) for t in data["pool"]])
    np.testing.assert_allclose(ours.log_importance(data["pool"]), expected, rtol=1e-9, atol=1e-9)
    # The package's short-example filter (min_example_length=100 by default) keeps the same records.
    metadata = np.array([ref.get_perexample_metadata({}, ref.featurizer(t)) for t in data["pool"]])
    eligible = np.flatnonzero(ref.perexample_metadata_filter(metadata)).tolist()
    assert 0 < len(eligible) < len(data["pool"])
    kept = ours.select(data["pool"], k=len(data["pool"]), method="topk", min_example_length=ref.min_example_length)
    assert sorted(s.index for s in kept) == eligible
    # The package that was compared against is the one the test asked for, with its n-gram settings.
    assert ds.HashedNgramDSIR is HashedNgramDSIR and ref.ngrams == ours.ngrams == 2


def test_topk_keeps_the_largest_log_importance_in_order(data, fitted):
    lw = fitted.log_importance(data["pool"])
    kept = fitted.select(data["pool"], k=25, method="topk", batch_size=17, min_example_length=0, normalize="none")
    assert [s.index for s in kept] == sorted(range(len(lw)), key=lambda i: (-lw[i], i))[:25]
    assert [s.score for s in kept] == [lw[s.index] for s in kept]
    assert all(s.record is data["pool"][s.index] for s in kept)


def test_gumbel_selection_is_top_k_of_log_w_plus_per_index_noise(data, fitted):
    lw = fitted.log_importance(data["pool"])
    keys = lw + gumbel_noise(7, 0, len(lw))
    kept = fitted.select(data["pool"], k=40, method="gumbel", seed=7, batch_size=64, min_example_length=0,
                         normalize="none")
    assert [s.index for s in kept] == sorted(range(len(lw)), key=lambda i: (-keys[i], i))[:40]
    np.testing.assert_array_equal([s.score for s in kept], lw[[s.index for s in kept]])


def test_gumbel_selection_does_not_depend_on_batch_size_but_on_seed(data, fitted):
    runs = [[s.index for s in fitted.select(data["pool"], k=30, seed=3, batch_size=b, min_example_length=0,
                                            normalize="none")]
            for b in (1, 7, 4096)]
    assert runs[0] == runs[1] == runs[2]
    other = [s.index for s in fitted.select(data["pool"], k=30, seed=4, min_example_length=0, normalize="none")]
    assert other != runs[0]


def test_gumbel_noise_is_standard_gumbel_and_positional():
    g = gumbel_noise(0, 0, 200_000)
    assert abs(g.mean() - np.euler_gamma) < 0.01 and abs(g.var() - np.pi ** 2 / 6) < 0.03
    np.testing.assert_array_equal(gumbel_noise(0, 1000, 50), g[1000:1050])
    assert np.isfinite(g).all()


def test_gumbel_sampling_follows_the_importance_weights():
    # Two kinds of texts with log w differing by log 3: one draw picks the heavier kind ~3/4 of the time.
    targets = ["alpha"] * 3 + ["beta"]
    d = DSIR(targets, ngrams=1, buckets=1 << 20).fit(["alpha", "beta"])
    lw = d.log_importance(["alpha", "beta"])
    assert lw[0] - lw[1] == pytest.approx(np.log(3), rel=1e-6)
    wins = sum(d.select(["alpha", "beta"], k=1, seed=s, min_example_length=0, normalize="none")[0].index == 0
               for s in range(4000))
    assert 0.72 < wins / 4000 < 0.78


def test_min_example_length_counts_tokens_like_data_selection(data, fitted):
    import re

    tokens = [len(re.findall(r"\w+|[^\w\s]+", t.lower())) for t in data["pool"]]
    lw = fitted.log_importance(data["pool"])
    eligible = [i for i in range(len(lw)) if tokens[i] >= 60]
    assert 0 < len(eligible) < len(lw)
    kept = fitted.select(data["pool"], k=len(lw), method="topk", min_example_length=60, batch_size=50,
                          normalize="none")
    assert [s.index for s in kept] == sorted(eligible, key=lambda i: (-lw[i], i))
    budget = fitted.select(data["pool"], budget_bytes=10**9, method="gumbel", min_example_length=60)
    assert sorted(s.index for s in budget) == eligible
    assert fitted.select(data["pool"], k=5, min_example_length=10**6) == []


def test_per_token_score_is_chunk_tokens_times_log_w_per_token(data, fitted):
    lw = fitted.log_importance(data["pool"])
    tokens = np.array([len(re.findall(r"\w+|[^\w\s]+", t.lower())) for t in data["pool"]])
    kept = fitted.select(data["pool"], k=len(lw), method="topk", min_example_length=0, chunk_tokens=64)
    np.testing.assert_allclose([s.score for s in kept], [64 * lw[s.index] / tokens[s.index] for s in kept],
                               rtol=1e-12)
    assert [s.index for s in kept] == sorted(range(len(lw)), key=lambda i: (-lw[i] / tokens[i], i))


def test_budget_bytes_walks_the_ranking(data, fitted):
    kept = fitted.select(data["pool"], budget_bytes=5000, method="topk")
    ranking = fitted.select(data["pool"], k=len(data["pool"]), method="topk")
    assert len(ranking) < len(data["pool"])  # the short ones are not eligible by default
    total, expected = 0, []
    for s in ranking:
        size = len(s.record.encode("utf-8"))
        if total + size > 5000:
            break
        total += size
        expected.append(s.index)
    assert [s.index for s in kept] == expected


def test_fit_reads_records_and_stops_at_max_records(data):
    records = [{"body": t} for t in data["pool"]]
    d = DSIR(data["targets"]).fit(iter(records), text_field="body", max_records=10)
    assert np.array_equal(d.raw_counts, HashedNgrams().counts(data["pool"][:10]))
    seen = []
    DSIR(data["targets"]).fit(data["pool"], batch_size=100, on_progress=lambda d, total: seen.append(d - sum(seen)))
    assert seen == [100, 100, 100]


def test_bad_input_is_refused(data, fitted):
    with pytest.raises(ValueError, match="targets is empty"):
        DSIR([])
    with pytest.raises(ValueError, match="targets hold no tokens"):
        DSIR(["   ", "\n"])
    with pytest.raises(RuntimeError, match="call fit"):
        DSIR(["x"]).log_importance(["x"])
    with pytest.raises(RuntimeError, match="call fit"):
        DSIR(["x"]).select(["x"], k=1)
    with pytest.raises(ValueError, match="raw sample is empty"):
        DSIR(["x"]).fit([])
    with pytest.raises(ValueError, match="max_records must be a positive integer"):
        DSIR(["x"]).fit(["x"], max_records=0)
    with pytest.raises(ValueError, match="method must be 'gumbel'"):
        fitted.select(data["pool"], k=1, method="sample")
    with pytest.raises(ValueError, match="give k"):
        fitted.select(data["pool"])
    with pytest.raises(ValueError, match="min_example_length must be an integer >= 0"):
        fitted.select(data["pool"], k=1, min_example_length=-1)
    with pytest.raises(ValueError, match="normalize must be 'none'"):
        fitted.select(data["pool"], k=1, normalize="per_byte")
    with pytest.raises(ValueError, match="chunk_tokens must be an integer >= 1"):
        fitted.select(data["pool"], k=1, chunk_tokens=0)
    with pytest.raises(ValueError, match="seed must be an integer"):
        fitted.select(data["pool"], k=1, seed=1.5)
    with pytest.raises(ValueError, match="record 1 has no field 'text'"):
        fitted.select([{"text": "a"}, {"body": "b"}], k=1)
    with pytest.raises(ValueError, match="scheme must be"):
        DSIR(["x"], scheme="sha256")


@pytest.mark.memory_bound
def test_select_memory_is_bounded_by_buckets_and_k_not_by_the_pool(tmp_path):
    # 600,000 records (~200 MB as Python dicts) streamed from a generator through fit and select
    # (compat: its memo tables are the largest per-thread state); peak RSS stays far below the pool.
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "rss.py"
    script.write_text(textwrap.dedent("""
        import zipsift
        def records():
            return ({"id": i, "text": "def f%d(x): return x * %d  # w%x" % (i, i % 97, i * 7919)}
                    for i in range(600_000))
        d = zipsift.DSIR(["def add(a, b): return a + b"], scheme="compat").fit(records())
        kept = d.select(records(), k=1000, min_example_length=0, normalize="none")
        assert len(kept) == 1000
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest).
        print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    peak_mb = int(out.stdout.strip())
    assert peak_mb < 150, f"peak RSS {peak_mb} MB"
