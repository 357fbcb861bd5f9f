"""CompressionGain throughput against the reference ZIP-FIT algorithm in pure Python, per core.

Both score the same candidates (CPython stdlib functions) against the same 82 targets (other stdlib
functions; HumanEval's half has 82 items). The baseline is bench_zipfit's pure-Python gzip loop: |T|
concatenations compressed per candidate. CompressionGain digests the targets once into a zstd
dictionary and compresses each candidate twice (with and without it). Throughput is candidates/s;
the 1-thread rows are per core. Run: pytest bench/bench_gain.py
"""
from __future__ import annotations

import pytest

import zipsift
from zipsift import CompressionGain

from bench_zipfit import python_alignment

N_CANDIDATES = 100
N_TARGETS = 82
ROUNDS = 5
GROUP = "compression gain vs pure-Python gzip ZIP-FIT, 82 targets, stdlib functions"

pytestmark = pytest.mark.skipif("zstd" not in zipsift.codecs(), reason="built without libzstd headers")


@pytest.fixture(scope="module")
def workload(stdlib_functions):
    return stdlib_functions[:N_CANDIDATES], stdlib_functions[-N_TARGETS:]


@pytest.mark.benchmark(group=GROUP)
def test_gain_python_gzip_zipfit_baseline(benchmark, record_rate, workload):
    candidates, targets = workload
    benchmark.pedantic(python_alignment, args=(candidates, targets), rounds=ROUNDS, iterations=1)
    record_rate("candidates/s", len(candidates))


@pytest.mark.parametrize("threads", [1, 0], ids=["1-thread", "all-threads"])
@pytest.mark.parametrize("reference", [False, True], ids=["plain", "moore-lewis"])
@pytest.mark.benchmark(group=GROUP)
def test_gain_scores_native(benchmark, record_rate, workload, stdlib_functions, threads, reference):
    candidates, targets = workload
    ref = stdlib_functions[N_CANDIDATES:N_CANDIDATES + 400] if reference else None
    scorer = CompressionGain(targets, reference=ref, threads=threads)
    cores = zipsift._core.usable_cores() if threads == 0 else 1
    benchmark.name = f"test_gain_scores_native[{'moore-lewis' if reference else 'plain'}, {cores} threads]"
    # 20 iterations per round so the timer sees milliseconds; times are per iteration, i.e. per pass
    # over the same candidates as the baseline, so the summary's ratio is the throughput ratio.
    benchmark.pedantic(scorer.scores, args=(candidates,), rounds=ROUNDS * 3, iterations=20)
    record_rate("candidates/s", len(candidates))
