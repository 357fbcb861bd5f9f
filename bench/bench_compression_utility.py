"""The compression utility kernel (zipsift.submodular.delift.compression_utility_kernel) against the same
computation in pure Python with the `zstandard` package.

Workload: 150 instruction/response pairs made of CPython stdlib functions (the first third of a
function's source as the instruction, the rest as the response), zstd level 3: 150 + 150 * 149
frames. The baseline builds one precomputed raw-content dictionary per j and measures C(y | p ⊕ s)
with a compressobj flushed after s, as the kernel's definition says; it runs the package's own
libzstd, so its bytes can differ slightly from the core's (this is a speed comparison; exactness
is tested against the same libzstd in tests/test_compression_utility.py).
Run: pytest bench/bench_compression_utility.py
"""
from __future__ import annotations

import numpy as np
import pytest
import zstandard

import zipsift
from zipsift.submodular import delift

N_PAIRS, LEVEL, ROUNDS = 150, 3, 5
GROUP = f"compression utility kernel, n={N_PAIRS} stdlib pairs, zstd-{LEVEL}"


@pytest.fixture(scope="module")
def pairs(stdlib_functions):
    funcs = [f for f in stdlib_functions if 60 <= len(f) <= 4000][:N_PAIRS]
    return [(f[: len(f) // 3], f[len(f) // 3:]) for f in funcs]


def conditional_cost(compressor: zstandard.ZstdCompressor, s: bytes, y: bytes) -> int:
    """Bytes written for y after s was flushed (s's own output is discarded)."""
    cobj = compressor.compressobj(size=len(s) + len(y))
    cobj.compress(s)
    cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    return len(cobj.compress(y)) + len(cobj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))


def python_kernel(pairs, level=LEVEL):
    data = list(pairs)  # bytes, as the fixture gives them
    n = len(data)
    plain = zstandard.ZstdCompressor(level=level)
    base = [conditional_cost(plain, x, y) for x, y in data]
    U = np.zeros((n, n))
    for j, (xj, yj) in enumerate(data):
        dictionary = zstandard.ZstdCompressionDict(xj + yj, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        dictionary.precompute_compress(level=level)
        with_j = zstandard.ZstdCompressor(level=level, dict_data=dictionary)
        for i, (x, y) in enumerate(data):
            if i != j:
                U[i, j] = (base[i] - conditional_cost(with_j, x, y)) / len(y)
    return U


@pytest.mark.benchmark(group=GROUP)
def test_compression_utility_python_zstandard_baseline(benchmark, record_rate, pairs):
    benchmark.pedantic(python_kernel, args=(pairs,), rounds=ROUNDS, iterations=1)
    record_rate("frames/s", len(pairs) ** 2)


@pytest.mark.parametrize("threads", [1, 0], ids=["1-thread", "all-threads"])
@pytest.mark.benchmark(group=GROUP)
def test_compression_utility_native(benchmark, record_rate, pairs, threads):
    benchmark.name = f"test_compression_utility_native[{zipsift._core.usable_cores() if threads == 0 else 1} threads]"
    U = benchmark.pedantic(delift.compression_utility_kernel, args=(pairs,),
                           kwargs={"level": LEVEL, "threads": threads}, rounds=ROUNDS, iterations=1)
    record_rate("frames/s", len(pairs) ** 2)
    # The same definition: equal to the zstandard computation where both run the same libzstd.
    reference = python_kernel(pairs)
    benchmark.extra_info["entries equal to zstandard's"] = f"{np.mean(U == reference):.1%}"
