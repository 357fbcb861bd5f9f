"""ZIP-FIT throughput: the native core against the reference algorithm in pure Python.

The baseline is the reference algorithm: a Python loop over (candidate, target) pairs calling
gzip.compress on the concatenation, with C(x) and C(y) computed once and cached. Candidates are
CPython stdlib functions and targets are a few dozen other stdlib functions, the real code ZIP-FIT
ranks. Run: pytest bench/bench_zipfit.py
"""
from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap

import pytest

import zipsift

N_CANDIDATES = 200
N_TARGETS = 40
ROUNDS = 7


def python_alignment(candidates, targets, level=9):
    c_y = [len(gzip.compress(y, level)) for y in targets]
    scores = []
    for x in candidates:
        c_x = len(gzip.compress(x, level))
        total = 0.0
        for y, cy in zip(targets, c_y):
            c_xy = len(gzip.compress(x + y, level))
            total += (c_xy - min(c_x, cy)) / max(c_x, cy)
        scores.append(1 - total / len(targets))
    return scores


@pytest.fixture(scope="module")
def workload(stdlib_functions):
    candidates = stdlib_functions[:N_CANDIDATES]
    targets = stdlib_functions[-N_TARGETS:]
    return candidates, targets


@pytest.mark.benchmark(group="zipfit alignment, gzip-9, stdlib functions")
def test_alignment_python_gzip_baseline(benchmark, record_rate, workload):
    candidates, targets = workload
    benchmark.pedantic(python_alignment, args=(candidates, targets), rounds=ROUNDS, iterations=1)
    record_rate("pairs/s", len(candidates) * len(targets))


@pytest.mark.parametrize("threads", [1, 0], ids=["1-thread", "all-threads"])
@pytest.mark.benchmark(group="zipfit alignment, gzip-9, stdlib functions")
def test_alignment_native(benchmark, record_rate, workload, threads):
    candidates, targets = workload
    benchmark.name = f"test_alignment_native[{zipsift._core.usable_cores() if threads == 0 else 1} threads]"
    benchmark.pedantic(zipsift.alignment, args=(candidates, targets), kwargs={"threads": threads},
                       rounds=ROUNDS, iterations=1)
    record_rate("pairs/s", len(candidates) * len(targets))


@pytest.mark.parametrize("codec, level", [("gzip", 1), ("zlib", 9), ("zstd", 3)])
@pytest.mark.benchmark(group="zipfit alignment, other codecs, all threads")
def test_alignment_other_codecs(benchmark, record_rate, workload, codec, level):
    if codec not in zipsift.codecs():
        pytest.skip(f"{codec} not compiled in")
    candidates, targets = workload
    benchmark.pedantic(zipsift.alignment, args=(candidates, targets), kwargs={"codec": codec, "level": level},
                       rounds=ROUNDS, iterations=1)
    record_rate("pairs/s", len(candidates) * len(targets))


def _bucket(stdlib_functions, size, count):
    # Real text cut to the bucket's size: consecutive functions joined, then sliced.
    blob = b"\n".join(stdlib_functions)
    return [blob[i * size:(i + 1) * size] for i in range(count)]


BUCKETS = [(100, 4000), (1000, 2000), (10000, 300)]


@pytest.mark.parametrize("size, count", BUCKETS, ids=["100B", "1KB", "10KB"])
@pytest.mark.parametrize("how", ["python-baseline", "native-1-thread", "native-all-threads"])
def test_compressed_sizes(benchmark, record_rate, stdlib_functions, size, count, how):
    texts = _bucket(stdlib_functions, size, count)
    benchmark.group = f"compressed_sizes, gzip-9, {size} B texts"
    if how == "python-baseline":
        benchmark.name = "test_compressed_sizes[python gzip.compress baseline]"
        benchmark.pedantic(lambda: [len(gzip.compress(t, 9)) for t in texts], rounds=ROUNDS, iterations=1)
    else:
        threads = 1 if how == "native-1-thread" else 0
        benchmark.name = f"test_compressed_sizes[native {zipsift._core.usable_cores() if threads == 0 else 1} threads]"
        benchmark.pedantic(zipsift.compressed_sizes, args=(texts,), kwargs={"threads": threads},
                           rounds=ROUNDS, iterations=1)
    record_rate("docs/s", count)


@pytest.mark.benchmark(group="ZipFit.select k=1000 over 1,000,000 short records")
def test_select_one_million_records_peak_rss(benchmark, record_rate, tmp_path):
    # In a fresh process, so the peak RSS is this run's alone.
    script = tmp_path / "select.py"
    script.write_text(textwrap.dedent("""
        import zipsift
        fit = zipsift.ZipFit(["def add(a, b):\\n    return a + b\\n", "def mul(a, b):\\n    return a * b\\n"])
        records = ({"id": i, "text": "def f%d(x):\\n    return x * %d\\n" % (i, i % 97)} for i in range(1_000_000))
        kept = fit.select(records, k=1000)
        # VmHWM is this process image's peak; ru_maxrss would include the parent's at fork.
        print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)
    """))
    result = {}

    def run():
        result["rss"] = int(subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                           check=True).stdout)

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["peak RSS MB"] = result["rss"]
    record_rate("docs/s", 1_000_000)
