"""The similarity kernels of a pool, from whichever source a selection starts from.

=====================  ==========================================================  ==================
source                 pool kernel (n, n); side kernel toward a query/private set  peak memory
=====================  ==========================================================  ==================
``from_embeddings``    ``kernel(X, metric)``, dense or kNN; side: top-1 per row      4·n² (+ bounds)
``from_texts``         the same on sentence embeddings of the texts (``embed``)      4·n² (+ bounds)
``from_utility_model`` DELIFT's utility kernel on a causal LM, min–max scaled         12·n² + 12·n·s
``from_compression``   its zstd approximation (``compression_utility_kernel``)       8·n²
=====================  ==========================================================  ==================

Each returns ``PoolKernels``: the kernels, the embedding dimension (None without embeddings) and
what a report says about how they were made. The memory a source needs is checked against what is
available *before* any of its work — a model load, an embedding pass, n + n² scored passes or zstd
frames — the rule ``kernel`` already applies to dense embedding kernels. Facility location's
block bounds (``block_bounds_bytes``) are counted too: the kernel is made for a selection.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from ..progress import Meter, OnProgress
from . import kernels as _kernels
from .kernels import DenseKernel, Kernel, block_bounds_bytes, dense_selection_bytes, kernel

__all__ = ["PoolKernels", "from_embeddings", "from_texts", "from_utility_model", "from_compression",
           "utility_kernel_bytes", "compression_kernel_bytes"]


@dataclass
class PoolKernels:
    """A pool kernel (n, n), its side kernel (n, s) or None, and how they were made."""

    pool: Kernel
    side: Optional[Kernel] = None
    dimensions: Optional[int] = None
    info: Dict[str, Any] = field(default_factory=dict)


def utility_kernel_bytes(n: int, s: int = 0) -> int:
    """Peak bytes of the utility-model path for a pool of n and a side set of s: the raw kernels in
    float64 (8·n² + 8·n·s), their min–max scaled float32 copies (4·n² + 4·n·s) and the block bounds."""
    return 12 * n * n + 12 * n * s + block_bounds_bytes(n)


def compression_kernel_bytes(n: int) -> int:
    """Peak bytes of the compression-utility path for a pool of n: the raw float32 kernel, its
    scaled float32 copy and the block bounds."""
    return 8 * n * n + block_bounds_bytes(n)


def from_embeddings(X: np.ndarray, side: Optional[np.ndarray] = None, *, metric: str = "cosine",
                    knn: Optional[int] = None, gamma: Optional[float] = None, clip_negative: bool = True,
                    threads: int = 0) -> PoolKernels:
    """Kernels of embeddings X (n, d) and, for FLMI / FLCG, a side set (s, d): only max_q s_iq enters
    those objectives, so the side kernel keeps the top-1 of each row (negatives clipped to 0)."""
    pool = kernel(X, metric, knn=knn, gamma=gamma, clip_negative=clip_negative, threads=threads)
    side_k = None if side is None else kernel(X, metric, knn=1, Y=side, gamma=gamma, clip_negative=True,
                                              threads=threads)
    return PoolKernels(pool, side_k, int(np.shape(X)[1]))


def from_texts(texts: Sequence[str], side_texts: Optional[Sequence[str]] = None, *,
               model: Union[None, str, Any] = None, batch_size: int = 64, metric: str = "cosine",
               knn: Optional[int] = None, gamma: Optional[float] = None, clip_negative: bool = True,
               threads: int = 0, on_progress: Optional[OnProgress] = None) -> PoolKernels:
    """Kernels of sentence embeddings of ``texts`` (and ``side_texts``): ``from_embeddings`` after
    ``embed``. A dense kernel that would not fit is refused before the model is loaded.
    on_progress: (texts embedded, texts) over both sets."""
    from ..params import check_threads
    from .embed import SentenceEmbedder

    check_threads(threads)
    n = len(texts)
    if knn is None:
        _kernels.check_memory(dense_selection_bytes(n), f"a dense {n:,} x {n:,} kernel of the embedded texts",
                              "use a sparse kNN kernel instead (knn=32; --knn 32 on the command line)")
    start = time.perf_counter()
    embedder = model if isinstance(model, SentenceEmbedder) else SentenceEmbedder(model)
    stats: Dict[str, int] = {}
    meter = Meter(on_progress, n + len(side_texts or ()))
    X = embedder(texts, batch_size=batch_size, threads=threads, on_progress=meter.part(), stats=stats)
    side = None
    if side_texts is not None:
        side = embedder(side_texts, batch_size=batch_size, threads=threads, on_progress=meter.part(), stats=stats)
    embedded = time.perf_counter() - start
    out = from_embeddings(X, side, metric=metric, knn=knn, gamma=gamma, clip_negative=clip_negative,
                          threads=threads)
    out.info = {"model": str(embedder.path), "dimensions": embedder.dimension,
                "max_seq_length": embedder.max_seq_length, "texts": stats["texts"],
                "texts_truncated": stats["truncated"], "batch_size": batch_size, "seconds": round(embedded, 3)}
    return out


def from_utility_model(pairs: Sequence[tuple], side_pairs: Optional[Sequence[tuple]] = None, *,
                       model: Union[None, str, Any] = None, template=None, diagonal: str = "compute",
                       threads: int = 0, batch_size: int = 16,
                       on_progress: Optional[OnProgress] = None) -> PoolKernels:
    """DELIFT's utility kernel of (prompt, response) ``pairs`` on a causal LM (a ``CausalLM``, a
    path, or None for SmolLM2), and the side kernel toward ``side_pairs`` (n, s): s_iq = how much
    pool example i, in context, helps the model answer q. Both are min–max scaled jointly.

    The memory (``utility_kernel_bytes``) is checked before the model is loaded.
    on_progress: (passes done, passes) over both kernels."""
    from ..lm.scoring import CausalLM
    from ..params import check_threads
    from . import delift

    check_threads(threads)
    template = delift.DEFAULT_TEMPLATE if template is None else template
    n, s = len(pairs), len(side_pairs or ())
    _kernels.check_memory(utility_kernel_bytes(n, s),
                          f"DELIFT's utility kernel of {n:,} pairs" + (f" and its {n:,} x {s:,} side kernel" if s else ""),
                          "select from a smaller pool or in parts (the utility kernel is dense)")
    start = time.perf_counter()
    lm = model if isinstance(model, CausalLM) else CausalLM.load(model, threads=threads, batch_size=batch_size)
    load_seconds = time.perf_counter() - start
    passes = n + n * n - (n if diagonal == "zero" else 0) + s + s * n
    meter = Meter(on_progress, passes)
    pool_stats: Dict[str, Any] = {}
    side_stats: Dict[str, Any] = {}
    U = delift.utility_kernel(lm, pairs, template=template, diagonal=diagonal, on_progress=meter.part(),
                              stats=pool_stats)
    # Side kernel (n, s): rows q, columns i, transposed.
    Us = None if side_pairs is None else delift.utility_kernel(lm, side_pairs, contexts=pairs, template=template,
                                                               stats=side_stats, on_progress=meter.part()).T
    scaled = delift.min_max_scale(U, *([] if Us is None else [Us]))
    info = {"kind": "utility", "model": str(lm.name), "template": {"query": template.query, "example": template.example},
            "diagonal": diagonal, "scaled": "minmax (pool and side kernels jointly)",
            "passes": pool_stats["passes"] + side_stats.get("passes", 0),
            "prefix_passes": pool_stats["prefix_passes"] + side_stats.get("prefix_passes", 0),
            "pool_passes": pool_stats["passes"], "side_passes": side_stats.get("passes", 0),
            "path": pool_stats["path"], "batch_size": lm.batch_size, "model_load_seconds": round(load_seconds, 3),
            "seconds_scoring": round(pool_stats["seconds"] + side_stats.get("seconds", 0.0), 3),
            "raw_min": float(min(U.min(), U.min() if Us is None else Us.min())),
            "raw_max": float(max(U.max(), U.max() if Us is None else Us.max()))}
    pool = DenseKernel(scaled[0], metric="delift-utility", threads=threads)
    side = None if Us is None else DenseKernel(scaled[1], threads=threads)
    return PoolKernels(pool, side, None, info)


def from_compression(pairs: Sequence[tuple], *, level: int = 3, diagonal: str = "compute",
                     threads: int = 0) -> PoolKernels:
    """The zstd approximation of DELIFT's utility kernel of (prompt, response) ``pairs``
    (``compression_utility_kernel``, float32), min–max scaled. The memory
    (``compression_kernel_bytes``) is checked before the n + n² frames are compressed."""
    from . import delift

    n = len(pairs)
    _kernels.check_memory(compression_kernel_bytes(n), f"the compression utility kernel of {n:,} pairs",
                          "select from a smaller pool or in parts (the utility kernel is dense)")
    start = time.perf_counter()
    U = delift.compression_utility_kernel(pairs, level=level, diagonal=diagonal, threads=threads, dtype=np.float32)
    (S,) = delift.min_max_scale(U)
    info = {"kind": "compression-utility", "codec": "zstd", "level": level, "diagonal": diagonal,
            "scaled": "minmax", "frames": n * n + (n if diagonal == "compute" else 0),
            "seconds": round(time.perf_counter() - start, 3), "raw_min": float(U.min()), "raw_max": float(U.max())}
    return PoolKernels(DenseKernel(S, metric="delift-utility", threads=threads), None, None, info)
