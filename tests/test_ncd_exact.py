"""The native sizes and scores equal CPython's gzip/zlib (and libzstd's) byte for byte."""
from __future__ import annotations

import ctypes
import ctypes.util
import gzip
import os
import zlib

import numpy as np
import pytest

import zipsift


def py_ncd(x: bytes, y: bytes, level: int = 9) -> float:
    c = lambda s: len(gzip.compress(s, compresslevel=level))  # noqa: E731
    cx, cy = c(x), c(y)
    return (c(x + y) - min(cx, cy)) / max(cx, cy)


def test_bundled_zlib_is_the_zlib_cpython_runs_here():
    # Exactness against gzip.compress holds only for the same deflate; this pins the premise on the
    # machines the tests run on (stock zlib, the version the core vendors).
    assert zipsift.build_info()["libraries"]["zlib"]["runtime"] == zlib.ZLIB_RUNTIME_VERSION


@pytest.mark.parametrize("level", [1, 2, 6, 9])
def test_gzip_sizes_match_cpython_gzip_bytes_exactly(stdlib_files, level):
    texts = stdlib_files + [b"", b"a", bytes(range(256)) * 300, "héllo wörld ✓".encode()]
    expected = [len(gzip.compress(t, compresslevel=level)) for t in texts]
    assert zipsift.compressed_sizes(texts, "gzip", level).tolist() == expected


@pytest.mark.parametrize("level", [1, 6, 9])
def test_zlib_sizes_match_cpython_zlib_compress(stdlib_files, level):
    expected = [len(zlib.compress(t, level)) for t in stdlib_files]
    assert zipsift.compressed_sizes(stdlib_files, "zlib", level).tolist() == expected


def test_compressed_sizes_returns_int64_of_input_length(stdlib_files):
    sizes = zipsift.compressed_sizes(stdlib_files[:5])
    assert sizes.dtype == np.int64 and sizes.shape == (5,)


@pytest.mark.parametrize("level", [1, 6, 9])
def test_ncd_of_concatenations_matches_cpython_gzip_exactly(stdlib_functions, stdlib_files, level):
    # Short and long candidates both: long ones (>= 1 KB) take the deflateCopy prefix-reuse path,
    # and candidates longer than zlib's 32 KB window are included too.
    shorts = [f.encode() for f in stdlib_functions[:12]]
    longs = [f.encode() for f in stdlib_functions if len(f) > 2500][:6] + [stdlib_files[1][:40000]]
    a = shorts + longs
    b = [f.encode() for f in stdlib_functions[100:120]]
    got = zipsift.ncd_matrix(a, b, "gzip", level)
    expected = np.array([[py_ncd(x, y, level) for y in b] for x in a])
    assert got.shape == (len(a), len(b))
    assert np.array_equal(got, expected)  # the same integers through the same formula: equal, not close


def test_alignment_equals_pure_python_zipfit_to_1e12(stdlib_functions):
    candidates = [f.encode() for f in stdlib_functions[:40]]
    targets = [f.encode() for f in stdlib_functions[-35:]]
    expected = np.array([1 - sum(py_ncd(x, y) for y in targets) / len(targets) for x in candidates])
    got = zipsift.alignment(candidates, targets)
    assert np.max(np.abs(got - expected)) <= 1e-12


def test_scores_do_not_depend_on_thread_count(stdlib_functions):
    candidates, targets = stdlib_functions[:60], stdlib_functions[-40:]
    reference = zipsift.alignment(candidates, targets, threads=1)
    for threads in (2, 3, 8):
        assert np.array_equal(zipsift.alignment(candidates, targets, threads=threads), reference)
    m1 = zipsift.ncd_matrix(candidates[:10], targets, threads=1)
    assert np.array_equal(zipsift.ncd_matrix(candidates[:10], targets, threads=0), m1)


def test_str_is_encoded_as_utf8(stdlib_functions):
    texts = stdlib_functions[:5] + ["naïve café — ✓ 漢字"]
    as_bytes = [t.encode("utf-8") for t in texts]
    assert zipsift.compressed_sizes(texts).tolist() == zipsift.compressed_sizes(as_bytes).tolist()
    assert np.array_equal(zipsift.ncd_matrix(texts, texts[:2]), zipsift.ncd_matrix(as_bytes, as_bytes[:2]))


def test_bytearray_and_memoryview_are_accepted():
    data = b"def f(x):\n    return x + 1\n"
    sizes = zipsift.compressed_sizes([data, bytearray(data), memoryview(data)])
    assert len(set(sizes.tolist())) == 1


def test_ncd_of_identical_texts_is_small_and_of_unrelated_is_near_one(stdlib_functions):
    x = stdlib_functions[0] * 3
    unrelated = bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8))
    m = zipsift.ncd_matrix([x], [x, unrelated])
    assert m[0, 0] < 0.1 and m[0, 1] > 0.9


def test_empty_batches_give_empty_results():
    assert zipsift.compressed_sizes([]).shape == (0,)
    assert zipsift.ncd_matrix([], ["abc"]).shape == (0, 1)
    assert zipsift.ncd_matrix(["abc"], []).shape == (1, 0)
    assert zipsift.alignment([], ["abc"]).shape == (0,)


def _system_zstd():
    name = ctypes.util.find_library("zstd")
    if not name:
        return None
    lib = ctypes.CDLL(name)
    lib.ZSTD_versionString.restype = ctypes.c_char_p
    lib.ZSTD_compressBound.restype = ctypes.c_size_t
    lib.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
    lib.ZSTD_compress.restype = ctypes.c_size_t
    lib.ZSTD_compress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
    return lib


needs_zstd = pytest.mark.skipif("zstd" not in zipsift.codecs(), reason="built without libzstd headers")

# zstd frames depend on the zstd version, so a size is compared only with a reference that runs the
# same version as the core: the `zstandard` package (a wheel, or the source build's bundled zstd,
# carries its own copy) or, through ctypes, the system's libzstd (a source build links that one).
ZSTD_REFERENCES = ["zstandard", "system libzstd"]


def zstd_reference(name: str):
    """C(s) at a level from the named reference, as f(data, level) -> int; skips on a version mismatch."""
    ours = zipsift.build_info()["libraries"]["zstd"]["runtime"]
    if name == "zstandard":
        import zstandard

        theirs = ".".join(map(str, zstandard.ZSTD_VERSION))
        if theirs != ours:
            pytest.skip(f"zstandard {zstandard.__version__} carries zstd {theirs}, the core runs {ours}")
        return lambda data, level: len(zstandard.ZstdCompressor(level=level).compress(data))
    lib = _system_zstd()
    if lib is None or lib.ZSTD_versionString().decode() != ours:
        found = lib.ZSTD_versionString().decode() if lib is not None else "none"
        pytest.skip(f"the system libzstd ({found}) is not the zstd version the core runs ({ours})")

    def one_shot(data: bytes, level: int) -> int:
        cap = lib.ZSTD_compressBound(len(data))
        buf = ctypes.create_string_buffer(cap)
        return lib.ZSTD_compress(buf, cap, data, len(data), level)
    return one_shot


@needs_zstd
@pytest.mark.parametrize("reference", ZSTD_REFERENCES)
@pytest.mark.parametrize("level", [-3, 1, 3, 19])
def test_zstd_sizes_match_the_same_zstd_version_byte_for_byte(stdlib_files, reference, level):
    size = zstd_reference(reference)
    texts = stdlib_files[:25] + [b"", b"x"]
    assert zipsift.compressed_sizes(texts, "zstd", level).tolist() == [size(t, level) for t in texts]


@needs_zstd
@pytest.mark.parametrize("reference", ZSTD_REFERENCES)
def test_zstd_ncd_uses_concatenation_candidate_first(reference):
    size = zstd_reference(reference)
    x, y = b"alpha beta gamma " * 40, b"delta epsilon " * 30
    c = lambda s: size(s, 3)  # noqa: E731
    expected = (c(x + y) - min(c(x), c(y))) / max(c(x), c(y))
    assert zipsift.ncd_matrix([x], [y], "zstd", 3)[0, 0] == expected


def test_build_info_says_zlib_is_bundled_in_the_module():
    # The core's deflate is compiled in; whatever libz this process also maps is CPython's own.
    zlib_info = zipsift.build_info()["libraries"]["zlib"]
    assert zlib_info["linkage"] == "bundled"
    assert zlib_info["compiled"] == zlib_info["runtime"]
    assert os.path.samefile(zlib_info["path"], zipsift._core.__file__)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_core_exports_no_zlib_symbols_that_could_interpose():
    # The vendored zlib is renamed (Z_PREFIX) and hidden: CPython's zlib module keeps its own libz.
    core = ctypes.CDLL(zipsift._core.__file__)
    for name in ("deflate", "z_deflate", "deflateInit2_", "z_deflateInit2_", "zlibVersion", "z_zlibVersion"):
        assert not hasattr(core, name), name


@needs_zstd
def test_build_info_says_whether_zstd_is_bundled_or_the_system_library():
    zstd_info = zipsift.build_info()["libraries"]["zstd"]
    if zstd_info["linkage"] == "bundled":
        # Compiled into the module itself: the version compiled is the version that runs.
        assert zstd_info["compiled"] == zstd_info["runtime"]
        assert os.path.samefile(zstd_info["path"], zipsift._core.__file__)
    else:
        assert zstd_info["linkage"] == "system"
        assert os.path.basename(zstd_info["path"]).startswith("libzstd.so")


def test_reused_streams_equal_fresh_ones_after_longer_inputs():
    # Stale bytes from a longer previous input sit past the end of a shorter one in a reused
    # stream. Here they would extend an older match ("abcQ") past the end, had zlib let them count.
    rng = np.random.default_rng(3)
    letters = np.frombuffer(b"klmnopstuvwxyz", dtype=np.uint8)
    for _ in range(200):
        f1 = bytes(rng.choice(letters, int(rng.integers(5, 400))))
        f2 = bytes(rng.choice(letters, int(rng.integers(1, 300))))
        short = b"abcQ" + f1 + b"abcR" + f2 + b"abc"
        longer = bytes(rng.choice(letters, len(short))) + b"Q" * 300 + b"z" * 100
        zipsift.compressed_sizes([longer], threads=1)  # leaves its bytes in the pooled stream
        assert zipsift.compressed_sizes([short], threads=1)[0] == len(gzip.compress(short, 9))
        assert zipsift.ncd_matrix([short], [longer], threads=1)[0, 0] == py_ncd(short, longer)


def test_a_different_cpython_zlib_is_warned_about_once(monkeypatch):
    import warnings

    from zipsift import ncd

    monkeypatch.setattr(ncd, "_zlib_checked", False)
    monkeypatch.setattr(ncd.zlib, "ZLIB_RUNTIME_VERSION", "1.3.0.zlib-ng")
    with pytest.warns(ncd.ZlibMismatchWarning, match="1.3.0.zlib-ng.*gzip.compress"):
        zipsift.compressed_sizes([b"abc"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zipsift.alignment([b"abc"], [b"abd"])  # once per process: no second warning
    assert zipsift.build_info()["cpython_zlib"] == "1.3.0.zlib-ng"


def test_the_same_cpython_zlib_gives_no_warning(monkeypatch):
    import warnings

    from zipsift import ncd

    monkeypatch.setattr(ncd, "_zlib_checked", False)
    monkeypatch.setattr(ncd.zlib, "ZLIB_RUNTIME_VERSION", zipsift.build_info()["libraries"]["zlib"]["runtime"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zipsift.compressed_sizes([b"abc"], "zlib", 6)
