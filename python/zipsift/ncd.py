"""Normalized compression distance, batched in the native core (ZIP-FIT, Obbad et al. 2024).

C(s) is the size in bytes of the whole compressed container, exactly as the reference computes it:

========  =========================================================================
codec     C(s) equals
========  =========================================================================
"gzip"    ``len(gzip.compress(s, compresslevel=level))`` from CPython with stock zlib
          (the core compiles in zlib 1.2.13, unmodified; see ``build_info``)
"zlib"    ``len(zlib.compress(s, level))``
"zstd"    libzstd's one-shot ``ZSTD_compress(s, level)``; equal to
          ``len(zstandard.ZstdCompressor(level=level).compress(s))`` when the
          ``zstandard`` package carries the same libzstd version
"lz4"     ``len(lz4.frame.compress(s, compression_level=level))`` (default level 0,
          the reference's default codec); measured through the lz4 package
"brotli"  ``len(brotli.compress(s, quality=level))`` (default 11: ``brotli.compress(s)``)
"lzma"    ``len(lzma.compress(s, preset=level))`` (default 6: ``lzma.compress(s)``)
========  =========================================================================

``level=None`` takes the codec's default: 9 for gzip, zlib and zstd, and the reference's plain
call for lz4, brotli and lzma (see ``zipsift.pycodecs`` for why those three go through Python).

Texts are ``str`` (encoded as UTF-8) or ``bytes``. Every function takes ``threads`` (0 = every core
in this process's affinity mask), releases the GIL, and stops within ~50 ms on Ctrl-C.
"""
from __future__ import annotations

import warnings
import zlib
from typing import Iterable, Optional, Union

import numpy as np

from . import _core, pycodecs
from .params import DEFAULT_CODEC, DEFAULT_LEVEL

Text = Union[str, bytes]

__all__ = ["codecs", "build_info", "compressed_sizes", "ncd_matrix", "alignment", "TargetSet",
           "ZlibMismatchWarning"]


class ZlibMismatchWarning(UserWarning):
    """This Python's zlib module is not the deflate zipsift scores with, so ``gzip.compress`` here
    can give other sizes than the core (which follows its bundled stock zlib on every machine)."""


_zlib_checked = False


def _warn_once_if_cpython_zlib_differs(codec: str) -> None:
    """Warn (once per process) when CPython's zlib is another version or implementation (e.g.
    zlib-ng-compat, as on recent Fedora) than the zlib compiled into the core."""
    global _zlib_checked
    if _zlib_checked or codec not in ("gzip", "zlib"):
        return
    _zlib_checked = True
    ours = _core.codec_library_versions()["zlib"]["runtime"]
    theirs = zlib.ZLIB_RUNTIME_VERSION
    if theirs != ours or "ng" in theirs.lower():
        warnings.warn(
            f"zipsift scores gzip/zlib with its bundled stock zlib {ours}, but this Python's zlib module runs "
            f"{theirs}: gzip.compress/zlib.compress here may give other sizes than zipsift's (the scores are "
            f"the same on every machine; they equal CPython's only where CPython links stock zlib {ours}). "
            f"zipsift.build_info() records the zlib the scores follow.", ZlibMismatchWarning, stacklevel=3)


def codecs() -> list[str]:
    """Names of the codecs available: compiled into this build (e.g. ``["gzip", "zlib", "zstd"]``),
    then those measured through an installed Python package (``"lz4"``, ``"brotli"``, ``"lzma"``)."""
    return list(_core.codecs()) + pycodecs.available()


def _level(codec: str, level: Optional[int]) -> int:
    """The level to use; ValueError naming what exists for an unknown codec."""
    if not isinstance(codec, str) or (codec not in ("gzip", "zlib", "zstd") and codec not in pycodecs.PYTHON_CODECS):
        raise ValueError(f"unknown codec {codec!r}; available here: {', '.join(codecs())} "
                         f"(lz4 and brotli need their packages: pip install \"zipsift[lz4,brotli]\")")
    if level is not None:
        return level
    return pycodecs.default_level(codec) if codec in pycodecs.PYTHON_CODECS else DEFAULT_LEVEL


def build_info() -> dict:
    """The codec libraries the core was built against and runs with.

    Compressed sizes, and so every score, depend on these versions: record them next to a selection.
    Returns ``{"zipsift": version, "codecs": [...], "libraries": {"zlib": {"compiled": ..,
    "runtime": .., "linkage": .., "path": ..}, "zstd": {...}}, "cpython_zlib": version,
    "usable_cores": n}``.

    ``linkage`` is ``"bundled"`` for a library compiled into the module from source (``path`` is
    the module) or ``"system"`` for a shared library of this machine (``path`` is the file the
    process loaded). zlib is always bundled: stock zlib, unmodified, so gzip/zlib scores are the
    same on every machine and equal CPython's ``gzip.compress`` sizes wherever CPython links the
    same stock zlib (``cpython_zlib``, this Python's ``zlib.ZLIB_RUNTIME_VERSION``, says which it
    links; a ``ZlibMismatchWarning`` is given once when they differ, e.g. zlib-ng-compat). zstd
    is bundled in the wheels and the system's libzstd in source builds; zstd sizes equal the
    ``zstandard`` package's when its ``ZSTD_VERSION`` equals ``runtime``. There is no ``"zstd"``
    entry when zstd is not compiled in.
    """
    from . import __version__

    return {
        "zipsift": __version__,
        "codecs": codecs(),
        "libraries": {**dict(_core.codec_library_versions()), **pycodecs.package_versions()},
        "cpython_zlib": zlib.ZLIB_RUNTIME_VERSION,
        "usable_cores": _core.usable_cores(),
    }


def compressed_sizes(texts: Iterable[Text], codec: str = DEFAULT_CODEC, level: Optional[int] = None,
                     threads: int = 0) -> np.ndarray:
    """C(s) for every text: int64 array of shape (n,)."""
    level = _level(codec, level)
    if codec in pycodecs.PYTHON_CODECS:
        return pycodecs.compressed_sizes(texts, codec, level, threads)
    _warn_once_if_cpython_zlib_differs(codec)
    return _core.compressed_sizes(texts, codec, level, threads)


def ncd_matrix(a: Iterable[Text], b: Iterable[Text], codec: str = DEFAULT_CODEC, level: Optional[int] = None,
               threads: int = 0) -> np.ndarray:
    """float64 array of shape (len(a), len(b)); entry (i, j) is NCD(a_i, b_j).

    NCD(x, y) = (C(x ⊕ y) − min(C(x), C(y))) / max(C(x), C(y)), with x first, y second and no
    separator between them, as in the ZIP-FIT reference code.
    """
    level = _level(codec, level)
    if codec in pycodecs.PYTHON_CODECS:
        return pycodecs.ncd_matrix(a, b, codec, level, threads)
    _warn_once_if_cpython_zlib_differs(codec)
    return _core.ncd_matrix(a, b, codec, level, threads)


class TargetSet:
    """Targets prepared once for repeated alignment calls: their bytes and C(y) are kept native.

    ``TargetSet(targets).alignment(batch)`` equals ``alignment(batch, targets)`` and skips
    re-encoding and re-compressing the targets on every batch. For gzip and zlib at levels 4-9 it
    also indexes each target's own deflate matches, once, on the first batch of 8 candidates or
    more (about 13 bytes per byte of target, up to 256 MB in all), which every pair then reuses:
    keep one TargetSet for a whole run.
    """

    def __init__(self, targets: Iterable[Text], codec: str = DEFAULT_CODEC, level: Optional[int] = None, threads: int = 0):
        level = _level(codec, level)
        if codec in pycodecs.PYTHON_CODECS:
            self._native = pycodecs.PythonTargetSet(targets, codec, level, threads)
        else:
            _warn_once_if_cpython_zlib_differs(codec)
            self._native = _core.TargetSet(targets, codec, level, threads)
        self.threads = threads

    def __len__(self) -> int:
        return len(self._native)

    @property
    def codec(self) -> str:
        return self._native.codec

    @property
    def level(self) -> int:
        return self._native.level

    def alignment(self, candidates: Iterable[Text], threads: int | None = None) -> np.ndarray:
        """float64 array of shape (len(candidates),): 1 − mean over the targets of NCD(candidate, target)."""
        return self._native.alignment(candidates, self.threads if threads is None else threads)


def alignment(candidates: Iterable[Text], targets: Iterable[Text], codec: str = DEFAULT_CODEC,
              level: Optional[int] = None, threads: int = 0) -> np.ndarray:
    """ZIP-FIT alignment: float64 array of shape (len(candidates),).

    alignment(x, T) = 1 − (1/|T|) Σ_{y∈T} NCD(x, y). Higher means more aligned with the targets.
    The result does not depend on ``threads``.
    """
    return TargetSet(targets, codec, level, threads).alignment(candidates)
