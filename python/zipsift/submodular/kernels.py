"""Similarity kernels for submodular selection: dense n x m float32, or sparse top-t per row (kNN).

Built natively from embeddings with a blocked, multithreaded product (AVX-512 / AVX2 / baseline,
chosen at run time). Metrics, for rows x_i of X and y_j of Y (Y = X when not given):

=============  ===========================================  ============
metric         s_ij                                         range
=============  ===========================================  ============
``cosine``     <x_i, y_j> / (|x_i| |y_j|)                   [-1, 1]
``dot``        <x_i, y_j>                                   any
``rbf``        exp(-gamma |x_i - y_j|^2), gamma = 1/d       (0, 1]
``euclidean``  1 / (1 + |x_i - y_j|)                        (0, 1]
=============  ===========================================  ============

Memory is stated up front: a dense kernel takes 4·n·m bytes (``dense_kernel_bytes``) and is refused
with a ValueError suggesting ``knn`` when it does not fit; a kNN kernel takes 8·n·t bytes plus its
transpose.

Memory model of a dense selection (``dense_selection_bytes``), n items, float32:
  kernel                     4·n² bytes
  candidate-major transpose  4·n² more, only for a kernel that is not exactly symmetric (made once)
  block bounds               n·⌊n/16⌋ floats ≈ n²/4 bytes (facility location, FLMI, FLCG, n ≥ 1024:
                             the max of each candidate over each block of 16 rows)
  per-item state             O(n) (current coverage, heap, the first gains)
n = 50,000: 10.0 GB + 0.63 GB = 10.6 GB (9.9 GiB), the 10.2 GB peak measured. A square kernel
built here is checked against that total before anything is allocated; past it, the error points
to the kNN kernel (``knn=t``: 8·n·t bytes plus its transpose, e.g. 25.6 MB at n = 50,000, t = 32).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from ..params import DEFAULT_CODEC

__all__ = [
    "METRICS",
    "DenseKernel",
    "SparseKernel",
    "kernel",
    "sparse_kernel",
    "ncd_kernel",
    "as_kernel",
    "dense_kernel_bytes",
    "dense_selection_bytes",
    "block_bounds_bytes",
    "available_memory",
    "check_memory",
    "gib",
]

METRICS = ("cosine", "dot", "rbf", "euclidean")


def dense_kernel_bytes(n: int, m: Optional[int] = None) -> int:
    """Bytes of a dense n x m float32 kernel (m = n when not given)."""
    return 4 * int(n) * int(n if m is None else m)


BOUNDED_ROWS = 1024  # from this n on, facility location keeps block bounds (csrc/submodular/objectives.cpp)


def block_bounds_bytes(n: int) -> int:
    """Bytes of facility location's block bounds for a dense n x n kernel: n·⌊n/16⌋ float32 (0 below
    n = 1024, where the kernel fits in cache and no bounds are kept)."""
    n = int(n)
    return 4 * n * (n // 16) if n >= BOUNDED_ROWS else 0


def dense_selection_bytes(n: int, symmetric: bool = True) -> int:
    """Bytes a dense facility-location selection over n items holds at its peak: the float32 kernel,
    its transpose when it is not symmetric, and the block bounds (see the module docstring)."""
    return dense_kernel_bytes(n) * (1 if symmetric else 2) + block_bounds_bytes(n)


def available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable), or 0 when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def gib(nbytes: float) -> str:
    """Bytes as every memory message says them: ``"37.25 GiB"``."""
    return f"{nbytes / 2**30:.2f} GiB"


def check_memory(need: int, what: str, advice: str, limit: Optional[int] = None) -> None:
    """Refuse, before the work, ``what`` needing ``need`` bytes when that exceeds ``limit`` (default:
    90% of the memory available now; unknown availability lets it pass): ValueError saying both
    sizes and ``advice`` (what to do instead)."""
    limit = limit if limit is not None else int(0.9 * available_memory())
    if limit and need > limit:
        raise ValueError(f"{what} needs {gib(need)} but only {gib(limit)} is available; {advice}")


class DenseKernel:
    """Dense similarities: ``values`` is a C-contiguous float32 array of shape (n, m) with
    ``values[i, j] = s_ij`` (ground element i, candidate j).

    ``symmetric`` is True when s_ij = s_ji exactly; then one buffer serves both orientations.
    Otherwise the candidate-major copy (the transpose) the objectives need is made once, on first use.
    """

    def __init__(self, values: np.ndarray, symmetric: Optional[bool] = None, metric: Optional[str] = None,
                 threads: int = 0):
        values = np.ascontiguousarray(values, dtype=np.float32)
        if values.ndim != 2:
            raise ValueError(f"a kernel must be 2-d (n x m), got shape {values.shape}")
        self.values = values
        self.metric = metric
        self.threads = threads
        self._scan: Optional[Tuple[int, int, float, float]] = None
        self._cols: Optional[np.ndarray] = None
        if symmetric is None:
            symmetric = values.shape[0] == values.shape[1] and _exactly_symmetric(values)
        self.symmetric = bool(symmetric)

    @property
    def shape(self) -> Tuple[int, int]:
        return self.values.shape  # type: ignore[return-value]

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + (self._cols.nbytes if self._cols is not None else 0)

    def toarray(self) -> np.ndarray:
        """The (n, m) float32 array itself (not a copy)."""
        return self.values

    def scan(self) -> Tuple[int, int, float, float]:
        """(non-finite count, flat index of the first one, min, max), computed once, natively."""
        if self._scan is None:
            self._scan = tuple(_core.scan_values(self.values, self.threads))  # type: ignore[assignment]
        return self._scan  # type: ignore[return-value]

    def columns(self) -> np.ndarray:
        """Candidate-major view: ``columns()[j, i] = s_ij``."""
        if self.symmetric:
            return self.values
        if self._cols is None:
            self._cols = _core.transpose(self.values, self.threads)
        return self._cols

    def row_max(self) -> np.ndarray:
        """max_j s_ij for every row i: float32 array of shape (n,)."""
        return self.values.max(axis=1)

    def __repr__(self) -> str:
        return (f"DenseKernel(shape={self.shape}, metric={self.metric!r}, symmetric={self.symmetric}, "
                f"{gib(self.values.nbytes)})")


def _exactly_symmetric(values: np.ndarray, block: int = 1024) -> bool:
    n = values.shape[0]
    for b in range(0, n, block):
        if not np.array_equal(values[b:b + block], values[:, b:b + block].T):
            return False
    return True


class SparseKernel:
    """Sparse similarities in CSR form: row i holds its stored neighbours ``indices[indptr[i]:indptr[i+1]]``
    (int32) with similarities ``data[...]`` (float32). Entries not stored are 0.

    The candidate-major copy (CSC) the objectives need is made once, natively, on first use.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, shape: Tuple[int, int],
                 metric: Optional[str] = None):
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices, dtype=np.int32)
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.shape = (int(shape[0]), int(shape[1]))
        self.metric = metric
        if self.indptr.shape != (self.shape[0] + 1,) or self.indptr[0] != 0 or np.any(np.diff(self.indptr) < 0):
            raise ValueError("indptr must be non-decreasing, start at 0 and have n + 1 entries")
        nnz = int(self.indptr[-1])
        if self.indices.shape != (nnz,) or self.data.shape != (nnz,):
            raise ValueError(f"indices and data must have indptr[-1] = {nnz} entries, got "
                             f"{self.indices.shape[0]} and {self.data.shape[0]}")
        if nnz and (self.indices.min() < 0 or self.indices.max() >= self.shape[1]):
            raise ValueError(f"a neighbour index is outside [0, {self.shape[1]})")
        self._csc: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
        self._scan: Optional[Tuple[int, int, float, float]] = None

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    @property
    def nbytes(self) -> int:
        extra = sum(a.nbytes for a in self._csc) if self._csc is not None else 0
        return self.indptr.nbytes + self.indices.nbytes + self.data.nbytes + extra

    @property
    def symmetric(self) -> bool:
        return False

    def csr(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.indptr, self.indices, self.data

    def csc(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(col_ptr int64, row int32, value float32): the stored entries grouped by candidate j."""
        if self._csc is None:
            self._csc = tuple(_core.csr_transpose(self.shape[0], self.shape[1], self.indptr, self.indices,
                                                  self.data))  # type: ignore[assignment]
        return self._csc  # type: ignore[return-value]

    def scan(self) -> Tuple[int, int, float, float]:
        """(non-finite count, index of the first one in ``data``, min, max) over the stored entries."""
        if self._scan is None:
            if self.nnz == 0:
                self._scan = (0, 0, 0.0, 0.0)
            else:
                self._scan = tuple(_core.scan_values(self.data, 0))  # type: ignore[assignment]
        return self._scan  # type: ignore[return-value]

    def row_max(self) -> np.ndarray:
        """max(0, max over stored s_ij) for every row i (entries not stored are 0)."""
        out = np.zeros(self.shape[0], dtype=np.float32)
        counts = np.diff(self.indptr)
        rows = np.flatnonzero(counts)
        if rows.size:
            out[rows] = np.maximum(np.maximum.reduceat(self.data, self.indptr[rows]), 0)
        return out

    def toarray(self) -> np.ndarray:
        """Dense (n, m) float32 copy; entries not stored are 0 (for small kernels and tests)."""
        out = np.zeros(self.shape, dtype=np.float32)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out

    def to_scipy(self):
        """A ``scipy.sparse.csr_matrix`` sharing nothing with this kernel."""
        try:
            import scipy.sparse as sp
        except ImportError as e:  # pragma: no cover - scipy is optional
            raise ImportError('to_scipy needs scipy: pip install "zipsift[sparse]"') from e
        return sp.csr_matrix((self.data.copy(), self.indices.copy(), self.indptr.copy()), shape=self.shape)

    def __repr__(self) -> str:
        return f"SparseKernel(shape={self.shape}, nnz={self.nnz}, metric={self.metric!r})"


Kernel = Union[DenseKernel, SparseKernel]


def _embeddings(X, what: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what} must be a 2-d array (rows x dimensions), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{what} is empty (shape {X.shape}); give at least one row of at least one dimension")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise ValueError(f"{what} must hold real numbers, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{what} holds NaN or inf (first at row {bad[0]}, column {bad[1]}); "
                         "clean or drop those rows first")
    return X


def kernel(X, metric: str = "cosine", knn: Optional[int] = None, Y=None, *, gamma: Optional[float] = None,
           clip_negative: bool = False, threads: int = 0, max_memory: Optional[int] = None) -> Kernel:
    """Similarity kernel of the rows of X (n, d) against the rows of Y (m, d); Y = X when not given.

    Returns a ``DenseKernel`` of shape (n, m) float32, or with ``knn=t`` a ``SparseKernel`` keeping
    the t most similar columns of every row (ties: lower column first; with Y = X a row's own entry
    is usually among them). ``clip_negative`` replaces negative similarities by 0, which is what
    facility location's objectives need of a cosine or dot kernel. ``gamma`` is for ``rbf``
    (default 1/d). ``max_memory`` caps a dense kernel's bytes (default: 90% of available memory);
    a square kernel (Y not given) counts facility location's block bounds too
    (``dense_selection_bytes``), and past the cap the ValueError points to ``knn``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)} "
                         "(for texts use ncd_kernel; for a precomputed matrix pass it directly)")
    X = _embeddings(X, "X")
    Yc = None if Y is None else _embeddings(Y, "Y")
    if Yc is not None and Yc.shape[1] != X.shape[1]:
        raise ValueError(f"X and Y must have the same dimension, got {X.shape[1]} and {Yc.shape[1]}")
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    if metric == "rbf" and not (np.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be a positive number, got {gamma!r}")
    n, m = X.shape[0], (X if Yc is None else Yc).shape[0]
    if knn is not None:
        if isinstance(knn, bool) or not isinstance(knn, (int, np.integer)) or not 1 <= knn <= m:
            raise ValueError(f"knn must be an integer in [1, {m}] (neighbours kept per row), got {knn!r}")
        index, value = _core.knn_kernel(X, Yc, int(knn), metric, float(gamma), threads)
        if clip_negative:
            np.maximum(value, 0, out=value)
        indptr = np.arange(0, n * int(knn) + 1, int(knn), dtype=np.int64)
        return SparseKernel(indptr, index.ravel(), value.ravel(), (n, m), metric=metric)
    # A square pool kernel is made for a selection: count the block bounds facility location adds.
    need = dense_kernel_bytes(n, m) if Yc is not None else dense_selection_bytes(n)
    t = min(m, 32)
    check_memory(need, f"a dense {n} x {m} kernel" + ("" if Yc is not None else " with facility location's block bounds "
                                                      f"({gib(dense_kernel_bytes(n))} + {gib(block_bounds_bytes(n))})"),
                 f"use a sparse kNN kernel instead, e.g. kernel(X, knn={t}) "
                 f"({gib(8 * n * t * 2)} with its transpose; --knn {t} on the command line)", max_memory)
    values, scan = _core.dense_kernel(X, Yc, metric, float(gamma), threads)
    if clip_negative and scan[2] < 0:
        np.maximum(values, 0, out=values)
        scan = (scan[0], scan[1], max(scan[2], 0.0), max(scan[3], 0.0))
    K = DenseKernel(values, symmetric=Yc is None, metric=metric, threads=threads)
    K._scan = tuple(scan)  # computed while the kernel was written
    return K


def sparse_kernel(indices, similarities, n_columns: Optional[int] = None) -> SparseKernel:
    """A kNN kernel from neighbour lists the caller already has (e.g. from a vector index).

    ``indices`` and ``similarities``: arrays of shape (n, t), row i listing its neighbours and their
    similarities; a negative index marks an empty slot (fewer than t neighbours). ``n_columns``
    defaults to n (a square pool kernel).
    """
    idx = np.asarray(indices)
    sim = np.asarray(similarities)
    if idx.ndim != 2 or idx.shape != sim.shape:
        raise ValueError(f"indices and similarities must be 2-d arrays of the same shape (n, t), got "
                         f"{idx.shape} and {sim.shape}")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be integers, got dtype {idx.dtype}")
    n = idx.shape[0]
    m = n if n_columns is None else int(n_columns)
    if idx.size and idx.max() >= m:
        raise ValueError(f"a neighbour index ({idx.max()}) is outside [0, {m}); pass n_columns for a "
                         "rectangular kernel")
    keep = idx >= 0
    sim32 = sim.astype(np.float32)
    if not np.isfinite(sim32[keep]).all():
        raise ValueError("similarities hold NaN or inf; clean them before building a kernel")
    # Within a row, order stored entries by column so every row is canonical.
    order = np.argsort(np.where(keep, idx, np.iinfo(np.int64).max), axis=1, kind="stable")
    flat_idx = np.take_along_axis(idx, order, 1).ravel()
    flat_sim = np.take_along_axis(sim32, order, 1).ravel()
    flat_keep = np.take_along_axis(keep, order, 1).ravel()
    counts = keep.sum(axis=1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    ind = flat_idx[flat_keep]
    rows = np.repeat(np.arange(n), counts)
    if ind.size and np.any((np.diff(ind) == 0) & (np.diff(rows) == 0)):
        raise ValueError("a row lists the same neighbour twice; give each neighbour once")
    return SparseKernel(indptr, ind, flat_sim[flat_keep], (n, m), metric="precomputed")


def ncd_kernel(texts: Sequence, queries: Optional[Sequence] = None, codec: str = DEFAULT_CODEC, level: Optional[int] = None,
               threads: int = 0) -> DenseKernel:
    """s_ij = max(0, 1 − NCD(texts_i, queries_j)) with ``zipsift.ncd_matrix``; queries = texts when not
    given. NCD is not symmetric (x ⊕ y vs y ⊕ x) and can exceed 1 by a few bytes of container
    overhead, hence the clip. Shape (len(texts), len(queries)), float32.
    """
    from ..ncd import ncd_matrix

    texts = list(texts)
    other = texts if queries is None else list(queries)
    if not texts or not other:
        raise ValueError("ncd_kernel needs at least one text (and one query when queries are given)")
    need = dense_kernel_bytes(len(texts), len(other)) * 3  # float64 NCD + float32 kernel
    check_memory(need, f"an NCD kernel of {len(texts)} x {len(other)}", "select from a smaller pool or in parts")
    values = 1.0 - ncd_matrix(texts, other, codec=codec, level=level, threads=threads)
    np.maximum(values, 0.0, out=values)
    return DenseKernel(values.astype(np.float32), metric="ncd", threads=threads)


def as_kernel(K, what: str = "K", threads: int = 0) -> Kernel:
    """A DenseKernel or SparseKernel from a kernel object, a 2-d numpy array, or a scipy.sparse matrix."""
    if isinstance(K, (DenseKernel, SparseKernel)):
        return K
    if hasattr(K, "tocsr") and hasattr(K, "nnz"):  # scipy.sparse, without importing scipy
        csr = K.tocsr()
        csr.sort_indices()
        csr.sum_duplicates()
        return SparseKernel(csr.indptr, csr.indices, csr.data, csr.shape, metric="precomputed")
    arr = np.asarray(K)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-d similarity matrix, a kernel from zipsift.submodular.kernel, "
                         f"or a scipy.sparse matrix; got an array of shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise ValueError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    return DenseKernel(arr, metric="precomputed", threads=threads)
