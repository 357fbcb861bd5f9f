"""Normalized compression distance, batched in the native core (ZIP-FIT, Obbad et al. 2024).

C(s) is the size in bytes of the whole compressed container, exactly as the reference computes it:

========  =========================================================================
codec     C(s) equals
========  =========================================================================
"gzip"    ``len(gzip.compress(s, compresslevel=level))`` from CPython (same zlib)
"zlib"    ``len(zlib.compress(s, level))``
"zstd"    libzstd's one-shot ``ZSTD_compress(s, level)``; equal to
          ``len(zstandard.ZstdCompressor(level=level).compress(s))`` when the
          ``zstandard`` package carries the same libzstd version
========  =========================================================================

Texts are ``str`` (encoded as UTF-8) or ``bytes``. Every function takes ``threads`` (0 = every core
in this process's affinity mask), releases the GIL, and stops within ~50 ms on Ctrl-C.
"""
from __future__ import annotations

from typing import Iterable, Union

import numpy as np

from . import _core
from .params import DEFAULT_CODEC, DEFAULT_LEVEL

Text = Union[str, bytes]

__all__ = ["codecs", "build_info", "compressed_sizes", "ncd_matrix", "alignment", "TargetSet"]


def codecs() -> list[str]:
    """Names of the codecs compiled into this build, e.g. ``["gzip", "zlib", "zstd"]``."""
    return list(_core.codecs())


def build_info() -> dict:
    """The codec libraries the core was built against and runs with.

    Compressed sizes, and so every score, depend on these versions: record them next to a selection.
    Returns ``{"zipsift": version, "codecs": [...], "libraries": {"zlib": {"compiled": ..,
    "runtime": .., "linkage": .., "path": ..}, "zstd": {...}}, "usable_cores": n}``.

    ``linkage`` is ``"system"`` for a shared library of this machine (``path`` is the file the
    process loaded; zlib is always the system's, the same libz CPython's ``zlib``/``gzip`` use, so
    gzip/zlib sizes equal theirs) or ``"bundled"`` for zstd compiled into the module from source
    (the wheels; ``path`` is the module). zstd sizes equal the ``zstandard`` package's when its
    ``ZSTD_VERSION`` equals ``runtime``. There is no ``"zstd"`` entry when zstd is not compiled in.
    """
    from . import __version__

    return {
        "zipsift": __version__,
        "codecs": codecs(),
        "libraries": dict(_core.codec_library_versions()),
        "usable_cores": _core.usable_cores(),
    }


def compressed_sizes(texts: Iterable[Text], codec: str = DEFAULT_CODEC, level: int = DEFAULT_LEVEL, threads: int = 0) -> np.ndarray:
    """C(s) for every text: int64 array of shape (n,)."""
    return _core.compressed_sizes(texts, codec, level, threads)


def ncd_matrix(a: Iterable[Text], b: Iterable[Text], codec: str = DEFAULT_CODEC, level: int = DEFAULT_LEVEL,
               threads: int = 0) -> np.ndarray:
    """float64 array of shape (len(a), len(b)); entry (i, j) is NCD(a_i, b_j).

    NCD(x, y) = (C(x ⊕ y) − min(C(x), C(y))) / max(C(x), C(y)), with x first, y second and no
    separator between them, as in the ZIP-FIT reference code.
    """
    return _core.ncd_matrix(a, b, codec, level, threads)


class TargetSet:
    """Targets prepared once for repeated alignment calls: their bytes and C(y) are kept native.

    ``TargetSet(targets).alignment(batch)`` equals ``alignment(batch, targets)`` and skips
    re-encoding and re-compressing the targets on every batch.
    """

    def __init__(self, targets: Iterable[Text], codec: str = DEFAULT_CODEC, level: int = DEFAULT_LEVEL, threads: int = 0):
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


def alignment(candidates: Iterable[Text], targets: Iterable[Text], codec: str = DEFAULT_CODEC, level: int = DEFAULT_LEVEL,
              threads: int = 0) -> np.ndarray:
    """ZIP-FIT alignment: float64 array of shape (len(candidates),).

    alignment(x, T) = 1 − (1/|T|) Σ_{y∈T} NCD(x, y). Higher means more aligned with the targets.
    The result does not depend on ``threads``.
    """
    return TargetSet(targets, codec, level, threads).alignment(candidates)
