"""The codecs of the ZIP-FIT reference that zipsift measures through their Python packages: lz4,
brotli and lzma, each C(s) exactly the length of the call the reference makes.

========  =================================================================  =============
codec     C(s) equals                                                          default level
========  =================================================================  =============
"lz4"     ``len(lz4.frame.compress(s, compression_level=level))`` (the frame    0 (the
          format with lz4.frame's defaults: 64 KB linked blocks, content size   reference's
          stored, no checksums); levels 0-16, 0 is lz4's fast mode              default)
"brotli"  ``len(brotli.compress(s, quality=level))``; quality 11 is              11
          ``brotli.compress(s)``
"lzma"    ``len(lzma.compress(s, preset=level))`` (.xz, CRC-64); preset 6 is     6
          ``lzma.compress(s)``
========  =================================================================  =============

Why through Python and not the native core: the sizes must equal those calls, and a frame depends
on the library version (the lz4 and brotli wheels bundle their own copies, which need not be the
system's); calling the very functions makes them equal on every machine. The cost is in the
libraries, not in Python: brotli's and lzma's encoders cost milliseconds per call to set up (brotli
at quality 11, lzma's 8 MB dictionary at preset 6) whatever the input, and one lz4 frame call is a
few microseconds. The calls release the GIL, so ``threads`` runs candidates on a thread pool,
except for lz4's fast levels (0-2): a call there is so short that the loop around it, which holds
the GIL, is most of the work, and threads only contend for it (2 threads ran at 0.4x of one on
bench_zipfit's workload), so those run on one thread whatever ``threads`` says.
lz4 and brotli are optional extras (``pip install "zipsift[lz4,brotli]"``); lzma is CPython's.
"""
from __future__ import annotations

import importlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, List, Optional, Tuple

import numpy as np

__all__ = ["PYTHON_CODECS", "available", "size_function", "default_level", "package_versions", "PythonTargetSet",
           "compressed_sizes", "ncd_matrix"]

# name -> (module, levels allowed, default level, pip extra)
PYTHON_CODECS = {
    "lz4": ("lz4.frame", range(0, 17), 0, "lz4"),
    "brotli": ("brotli", range(0, 12), 11, "brotli"),
    "lzma": ("lzma", range(0, 10), 6, None),
}


def _module(codec: str):
    module_name, _, _, extra = PYTHON_CODECS[codec]
    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        how = (f'pip install "zipsift[{extra}]" (or pip install {extra})' if extra
               else "use a CPython built with lzma (liblzma's headers present when it was built)")
        raise ValueError(f"codec '{codec}' needs the Python module {module_name}, which is not installed: {how}") from e


def available() -> List[str]:
    """The Python-measured codecs whose package is importable here, in a stable order."""
    out = []
    for codec in PYTHON_CODECS:
        try:
            _module(codec)
        except ValueError:
            continue
        out.append(codec)
    return out


def default_level(codec: str) -> int:
    """The level the reference's plain call uses (lz4 0, brotli 11, lzma 6)."""
    return PYTHON_CODECS[codec][2]


def size_function(codec: str, level: int) -> Callable[[bytes], int]:
    """f(data) -> C(data) for a Python-measured codec; ValueError for a bad level or a missing package."""
    levels = PYTHON_CODECS[codec][1]
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or int(level) not in levels:
        raise ValueError(f"{codec} level must be an integer from {levels.start} to {levels.stop - 1}, got {level!r}")
    level = int(level)
    module = _module(codec)
    if codec == "lz4":
        return lambda data: len(module.compress(data, compression_level=level))
    if codec == "brotli":
        return lambda data: len(module.compress(data, quality=level))
    return lambda data: len(module.compress(data, preset=level))


def package_versions() -> dict:
    """{codec: {"runtime": version, "linkage": "python package", "path": module file}} for the
    importable ones: what the sizes of these codecs follow."""
    out = {}
    for codec in available():
        module = _module(codec)
        if codec == "lz4":
            version = importlib.import_module("lz4").library_version_string()
        elif codec == "brotli":
            version = getattr(module, "__version__", "unknown")
        else:
            version = "CPython " + ".".join(map(str, __import__("sys").version_info[:3]))
        out[codec] = {"compiled": version, "runtime": version, "linkage": "python package",
                      "path": getattr(module, "__file__", "") or ""}
    return out


def _as_bytes(texts: Iterable, name: str) -> List[bytes]:
    if isinstance(texts, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"{name} is a single str/bytes; wrap it in a list ([text]) to score one text")
    out = []
    for i, t in enumerate(texts):
        if isinstance(t, str):
            out.append(t.encode("utf-8"))
        elif isinstance(t, (bytes, bytearray, memoryview)):
            out.append(bytes(t))
        else:
            raise TypeError(f"{name}[{i}] is {type(t).__name__}; texts must be str or bytes")
    return out


def _workers(threads: int) -> int:
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
        raise ValueError(f"threads must be >= 0 (0 = every usable core), got {threads!r}")
    if threads == 0:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return int(threads)


# Below this level an lz4 call takes a few microseconds: threads cannot beat the GIL-held loop.
_LZ4_FAST_LEVELS = 3


def _threads_for(codec: str, level: int, threads: int) -> int:
    """threads, checked; 1 for the codecs whose calls are too short to share out."""
    _workers(threads)
    return 1 if codec == "lz4" and level < _LZ4_FAST_LEVELS else threads


def _map(fn, items: list, threads: int) -> list:
    workers = min(_workers(threads), max(1, len(items)))
    if workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def compressed_sizes(texts: Iterable, codec: str, level: int, threads: int = 0) -> np.ndarray:
    """C(s) for every text: int64 array of shape (n,)."""
    size = size_function(codec, level)
    return np.array(_map(size, _as_bytes(texts, "texts"), _threads_for(codec, level, threads)), dtype=np.int64)


def _ncd_row(size, x: bytes, cx: int, ys: List[bytes], cys: List[int]) -> List[float]:
    row = []
    for y, cy in zip(ys, cys):
        lo, hi = (cx, cy) if cx < cy else (cy, cx)
        row.append((size(x + y) - lo) / hi)
    return row


def ncd_matrix(a: Iterable, b: Iterable, codec: str, level: int, threads: int = 0) -> np.ndarray:
    """float64 array of shape (len(a), len(b)): NCD(a_i, b_j), candidate first, no separator."""
    size = size_function(codec, level)
    xs, ys = _as_bytes(a, "a"), _as_bytes(b, "b")
    threads = _threads_for(codec, level, threads)
    cys = _map(size, ys, threads)
    rows = _map(lambda x: _ncd_row(size, x, size(x), ys, cys), xs, threads)
    return np.array(rows, dtype=np.float64).reshape(len(xs), len(ys))


class PythonTargetSet:
    """Targets prepared once (bytes and C(y)) for a Python-measured codec; the interface of the
    native TargetSet."""

    def __init__(self, targets: Iterable, codec: str, level: int, threads: int = 0):
        self._size = size_function(codec, level)
        self._targets = _as_bytes(targets, "targets")
        if not self._targets:
            raise ValueError("targets is empty: alignment is a mean over the targets, so give at least one")
        self._sizes = _map(self._size, self._targets, _threads_for(codec, level, threads))
        self.codec, self.level = codec, int(level)

    def __len__(self) -> int:
        return len(self._targets)

    def alignment(self, candidates: Iterable, threads: int = 0) -> np.ndarray:
        """1 − mean over the targets of NCD(candidate, target); float64 of shape (n,). The sum runs
        over the targets in order, in one thread per candidate: scores do not depend on threads."""
        xs = _as_bytes(candidates, "candidates")

        def score(x: bytes) -> float:
            return 1.0 - sum(_ncd_row(self._size, x, self._size(x), self._targets, self._sizes)) / len(self._targets)

        return np.array(_map(score, xs, _threads_for(self.codec, self.level, threads)), dtype=np.float64)
