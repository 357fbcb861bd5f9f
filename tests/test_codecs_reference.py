"""The ZIP-FIT reference's other codecs: lz4 (its default, level 0), brotli and lzma, each C(s)
exactly the length of the call the reference makes, on real text."""
from __future__ import annotations

import importlib
import lzma

import numpy as np
import pytest

import zipsift
from zipsift import pycodecs

lz4_frame = pytest.importorskip("lz4.frame")
brotli = pytest.importorskip("brotli")

REFERENCE = {
    "lz4": lambda s, level: len(lz4_frame.compress(s, compression_level=level)),
    "brotli": lambda s, level: len(brotli.compress(s, quality=level)),
    "lzma": lambda s, level: len(lzma.compress(s, preset=level)),
}
# The reference's plain calls: lz4.frame.compress(s, compression_level=0), brotli.compress(s), lzma.compress(s).
PLAIN = {"lz4": lambda s: len(lz4_frame.compress(s, compression_level=0)), "brotli": lambda s: len(brotli.compress(s)),
         "lzma": lambda s: len(lzma.compress(s))}


@pytest.fixture(scope="module")
def texts(stdlib_files) -> list:
    return [b"", b"a", "héllo ✓".encode()] + [f[:6000] for f in stdlib_files[:5]] + [stdlib_files[7][:70000]]


def ncd(c, x, y):
    return (c(x + y) - min(c(x), c(y))) / max(c(x), c(y))


@pytest.mark.parametrize("codec", ["lz4", "brotli", "lzma"])
def test_default_level_is_the_reference_plain_call(texts, codec):
    assert zipsift.compressed_sizes(texts, codec).tolist() == [PLAIN[codec](t) for t in texts]


@pytest.mark.parametrize("codec, level", [("lz4", 0), ("lz4", 1), ("lz4", 3), ("lz4", 9), ("lz4", 16),
                                          ("brotli", 0), ("brotli", 5), ("lzma", 0), ("lzma", 9)])
def test_sizes_match_the_python_call_at_each_level(texts, codec, level):
    expected = [REFERENCE[codec](t, level) for t in texts]
    assert zipsift.compressed_sizes(texts, codec, level, threads=2).tolist() == expected


@pytest.mark.parametrize("codec", ["lz4", "brotli", "lzma"])
def test_ncd_and_alignment_equal_the_reference_formula(stdlib_functions, codec):
    xs = [f.encode() for f in stdlib_functions[:4]]
    ys = [f.encode() for f in stdlib_functions[-3:]]
    expected = np.array([[ncd(PLAIN[codec], x, y) for y in ys] for x in xs])
    assert np.array_equal(zipsift.ncd_matrix(xs, ys, codec), expected)
    got = zipsift.alignment(xs, ys, codec, threads=2)
    assert np.max(np.abs(got - (1 - expected.mean(axis=1)))) <= 1e-12
    assert np.array_equal(got, zipsift.alignment(xs, ys, codec, threads=1))


def test_zipfit_defaults_to_each_codecs_reference_level(stdlib_functions):
    assert zipsift.ZipFit(stdlib_functions[:2], codec="lz4").level == 0
    assert zipsift.ZipFit(stdlib_functions[:2], codec="lzma").level == 6
    assert zipsift.ZipFit(stdlib_functions[:2]).level == 9


def test_codecs_and_build_info_list_the_python_codecs():
    assert {"lz4", "brotli", "lzma"} <= set(zipsift.codecs())
    libs = zipsift.build_info()["libraries"]
    assert libs["lz4"]["linkage"] == "python package" and libs["lz4"]["runtime"].count(".") == 2


@pytest.mark.parametrize("codec, level", [("lz4", 17), ("lz4", -1), ("brotli", 12), ("lzma", 10), ("lzma", 1.5)])
def test_out_of_range_levels_are_refused(codec, level):
    with pytest.raises(ValueError, match=f"{codec} level must be an integer"):
        zipsift.compressed_sizes([b"abc"], codec, level)


def test_lz4_level_0_is_allowed_and_gzip_level_0_refused_with_the_reason():
    assert zipsift.compressed_sizes([b"abc abc abc"], "lz4", 0)[0] == PLAIN["lz4"](b"abc abc abc")
    with pytest.raises(ValueError, match="stored .* blocks.*ignores their content|stored.*content"):
        zipsift.alignment(["a"], ["b"], codec="gzip", level=0)


def test_a_missing_package_says_which_extra_to_install(monkeypatch):
    real = importlib.import_module

    def no_lz4(name, *args):
        if name.startswith("lz4"):
            raise ImportError("No module named 'lz4'")
        return real(name, *args)

    monkeypatch.setattr(pycodecs.importlib, "import_module", no_lz4)
    with pytest.raises(ValueError, match=r'pip install "zipsift\[lz4\]"'):
        zipsift.alignment(["a"], ["b"], codec="lz4")
    assert "lz4" not in zipsift.codecs()


def test_bad_inputs_are_refused_as_the_native_codecs_refuse_them():
    with pytest.raises(TypeError, match="single str"):
        zipsift.compressed_sizes("abc", "lz4")
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        zipsift.compressed_sizes(["abc", 3], "lz4")
    with pytest.raises(ValueError, match="threads must be >= 0"):
        zipsift.compressed_sizes(["abc"], "lz4", threads=-1)
    with pytest.raises(ValueError, match="targets is empty"):
        zipsift.TargetSet([], "lz4")


def test_lz4_fast_levels_stay_on_one_thread_and_slower_calls_use_the_pool(stdlib_functions, monkeypatch):
    # An lz4 fast-level call takes microseconds: the GIL-held loop around it is most of the work,
    # so a thread pool only adds contention. HC levels and brotli/lzma calls are long enough to share.
    pools = []
    real_pool = pycodecs.ThreadPoolExecutor

    def counting_pool(workers):
        pools.append(workers)
        return real_pool(workers)

    monkeypatch.setattr(pycodecs, "ThreadPoolExecutor", counting_pool)
    xs, ys = stdlib_functions[:6], stdlib_functions[-3:]
    fast = zipsift.alignment(xs, ys, "lz4", 0, threads=2)
    assert pools == [] and np.array_equal(fast, zipsift.alignment(xs, ys, "lz4", 0, threads=1))
    zipsift.alignment(xs, ys, "lz4", 9, threads=2)
    assert pools and set(pools) == {2}
    with pytest.raises(ValueError, match="threads must be >= 0"):
        zipsift.alignment(xs, ys, "lz4", 0, threads=-1)
