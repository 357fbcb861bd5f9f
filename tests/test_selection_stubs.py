"""No stubs at the top: on a pool of whole files, per-byte and summed scores favour tiny documents
(`__main__.py` stubs of 40-100 bytes); zipsift's defaults (DSIR per token with at least 100 tokens,
compression gain with a length prior) do not. Real text: CPython's stdlib as the pool, numpy's own
test files (not in the pool) as targets."""
from __future__ import annotations

import glob
import os
import sysconfig

import numpy as np
import pytest

from zipsift import DSIR, CompressionGain

STUB = 100  # bytes


@pytest.fixture(scope="module")
def whole_files():
    stdlib = sysconfig.get_paths()["stdlib"]
    paths = sorted(p for p in glob.glob(f"{stdlib}/**/*.py", recursive=True)
                   if "site-packages" not in p and "/test" not in p and "/idlelib/" not in p)
    pool = [t for t in (open(p, encoding="utf-8", errors="replace").read() for p in paths) if t.strip()]
    root = os.path.dirname(np.__file__)
    tests = sorted(glob.glob(f"{root}/**/tests/test_*.py", recursive=True))[:6]
    targets = [open(p, encoding="utf-8").read() for p in tests]
    stubs = sum(len(t.encode()) < STUB for t in pool)
    assert len(targets) == 6 and stubs >= 10, "the pool should hold stub files for this test to mean anything"
    return pool, targets


def _sizes(kept):
    return [len((s.record if isinstance(s.record, str) else s.record["text"]).encode()) for s in kept]


def test_dsir_plain_sum_puts_stubs_first_and_the_default_does_not(whole_files):
    pool, targets = whole_files
    d = DSIR(targets).fit(pool)
    plain = d.select(pool, k=10, method="topk", normalize="none", min_example_length=0)
    assert sum(size < STUB for size in _sizes(plain)) >= 5
    for kept in (d.select(pool, k=20, method="topk"), d.select(pool, k=20, seed=1)):
        assert len(kept) == 20 and min(_sizes(kept)) >= 300


def test_dsir_per_token_alone_is_not_length_ordered(whole_files):
    pool, targets = whole_files
    d = DSIR(targets).fit(pool)
    kept = d.select(pool, k=len(pool), method="topk", min_example_length=0)
    sizes = np.array(_sizes(kept), dtype=float)
    plain = np.array(_sizes(d.select(pool, k=len(pool), method="topk", min_example_length=0, normalize="none")),
                     dtype=float)
    rank = np.arange(len(sizes))
    # Sum: rank and length strongly correlated (shortest first); per token: weakly.
    assert np.corrcoef(rank, np.log(plain))[0, 1] > 0.8
    assert abs(np.corrcoef(rank, np.log(sizes))[0, 1]) < 0.4


def test_gain_default_length_prior_keeps_stubs_out_of_the_top(whole_files):
    pool, targets = whole_files
    per_byte = CompressionGain(targets, length_prior=0).select(pool, k=20)
    assert sum(size < STUB for size in _sizes(per_byte)) >= 5
    kept = CompressionGain(targets).select(pool, k=20)
    assert not [size for size in _sizes(kept) if size < STUB]
