"""DSIR fit + log-importance throughput against the `data-selection` package, side by side on the
same files, both using every core; and `zipsift eval` throughput.

The corpus is bench/corpus.py's mix of CPython stdlib code, C headers, /usr/share/doc text and
licenses (12.5 MB by default; ZIPSIFT_BENCH_POOL_MB to change; 0.5 MB in a --benchmark-disable smoke
run). Both sides read the same JSONL files: the package with its own loader and joblib processes
(num_proc = usable cores), zipsift with zipsift.io and its threads.
Run: pip install ".[bench]" && pytest bench/bench_dsir.py
"""
from __future__ import annotations

import os
import random

import pytest

import zipsift
from zipsift import DSIR, SelectionEvaluator
from zipsift.io import iter_batches, iter_records, read_texts, write_jsonl

import corpus

ROUNDS = 2


@pytest.fixture(scope="module")
def files(tmp_path_factory, request):
    smoke = request.config.getoption("benchmark_disable", False)
    mb = 0.5 if smoke else float(os.environ.get("ZIPSIFT_BENCH_POOL_MB", "12.5"))
    out = tmp_path_factory.mktemp("dsir_corpus")
    info = corpus.build(str(out), pool_mb=mb, functions=400 if smoke else 1600)
    return {"pool": out / "pool.jsonl", "target": out / "target.jsonl", "heldout": out / "heldout.jsonl",
            "mb": sum(info["pool_bytes"].values()) / 1e6}


def data_selection_fit_and_weights(files, cache_dir):
    from data_selection import HashedNgramDSIR

    dsir = HashedNgramDSIR([str(files["pool"])], [str(files["target"])], cache_dir=str(cache_dir),
                           num_proc=zipsift._core.usable_cores(), ngrams=2, num_buckets=10000)
    dsir.fit_importance_estimator(num_tokens_to_fit="all")
    dsir.compute_importance_weights()


def zipsift_fit_and_weights(files, scheme):
    dsir = DSIR(read_texts(files["target"]), ngrams=2, buckets=10000, scheme=scheme)
    dsir.fit(iter_records(files["pool"]))
    for batch in iter_batches(files["pool"], batch_size=4096):
        dsir.log_importance([r["text"] for r in batch])


GROUP = "dsir fit + log-importance, mixed code and prose, all cores"


@pytest.mark.benchmark(group=GROUP)
def test_dsir_data_selection_baseline(benchmark, record_rate, files, tmp_path):
    pytest.importorskip("data_selection", reason='the baseline needs data-selection: pip install "zipsift[bench]"')
    benchmark.pedantic(data_selection_fit_and_weights, args=(files, tmp_path / "cache"), rounds=ROUNDS,
                       iterations=1)
    record_rate("MB/s", files["mb"])


@pytest.mark.parametrize("scheme", ["fast", "compat"])
@pytest.mark.benchmark(group=GROUP)
def test_dsir_zipsift(benchmark, record_rate, files, scheme):
    benchmark.pedantic(zipsift_fit_and_weights, args=(files, scheme), rounds=ROUNDS + 1, iterations=1)
    record_rate("MB/s", files["mb"])


@pytest.fixture(scope="module")
def selection(files, tmp_path_factory):
    # A random selection of a fifth of the pool: what `zipsift eval` compares.
    pool = list(iter_records(files["pool"]))
    rows = random.Random(0).sample(pool, len(pool) // 5)
    path = tmp_path_factory.mktemp("eval") / "random.jsonl"
    write_jsonl(path, rows)
    return path, sum(len(r["text"].encode()) for r in rows) / 1e6


@pytest.mark.parametrize("proxy", ["zstd", "ngram"])
@pytest.mark.benchmark(group="eval: one selection against the held-out set, all cores")
def test_eval(benchmark, record_rate, files, selection, proxy):
    path, mb = selection
    evaluator = SelectionEvaluator(read_texts(files["heldout"]), proxies=[proxy])
    benchmark.pedantic(lambda: evaluator.evaluate(iter_records(path)), rounds=ROUNDS + 1, iterations=1)
    record_rate("selection MB/s", mb)
