"""Submodular subset selection (DELIFT's FL / FLMI / FLCG and more) on a native, multithreaded core.

>>> import numpy as np
>>> from zipsift import submodular as sm
>>> X = np.random.default_rng(0).random((1000, 64), dtype=np.float32)
>>> K = sm.kernel(X, metric="cosine")                 # dense (1000, 1000) float32
>>> sel = sm.facility_location(K, budget=0.1)         # lazy greedy, 100 picks
>>> sel.indices[:3], round(sel.objective, 3)          # doctest: +SKIP
"""
from .kernels import (METRICS, DenseKernel, SparseKernel, as_kernel, available_memory, block_bounds_bytes,
                      dense_kernel_bytes, dense_selection_bytes,
                      kernel, ncd_kernel, sparse_kernel)
from .objectives import (disparity_min, disparity_sum, facility_location, flcg, flmi, graph_cut,
                         log_determinant)
from .selection import OPTIMIZERS, Selection, resolve_budget
from .embed import SentenceEmbedder, embed

__all__ = [
    "METRICS",
    "OPTIMIZERS",
    "DenseKernel",
    "SparseKernel",
    "Selection",
    "kernel",
    "sparse_kernel",
    "ncd_kernel",
    "as_kernel",
    "dense_kernel_bytes",
    "dense_selection_bytes",
    "block_bounds_bytes",
    "available_memory",
    "resolve_budget",
    "facility_location",
    "flmi",
    "flcg",
    "graph_cut",
    "log_determinant",
    "disparity_sum",
    "disparity_min",
    "embed",
    "SentenceEmbedder",
]
