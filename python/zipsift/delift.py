"""DELIFT (Agarwal et al., ICLR 2025): data selection across the three fine-tuning stages by
submodular maximisation over a pairwise utility kernel.

====================  ==========================================  ============================
stage                 objective (s = the scaled kernel)           side input
====================  ==========================================  ============================
``"instruction"``     FL   Σ_i max_{j∈A} s_ij                     —
``"task"``            FLMI Σ_i min(max_{j∈A} s_ij, η max_q s_iq)  ``query``: the target task
``"continual"``       FLCG Σ_i max(max_{j∈A} s_ij − ν max_p s_ip, 0)  ``private``: what the model knows
====================  ==========================================  ============================

The kernel is either precomputed (DELIFT's model-based utility kernel, U[i, j] = how much example j
helps the model answer i; not symmetric) and min–max scaled to [0, 1] as in the paper, or built
from embeddings (cosine similarity, negatives clipped to 0). Optimizer: lazy greedy, budget 30% of
the pool by default, as in the paper.

The utility kernel itself needs a language model. ``utility_kernel`` computes it from any object
implementing ``TokenProbabilityModel`` (teacher-forced probabilities of the response tokens);
zipsift ships no model.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Protocol, Sequence, Tuple, Union, runtime_checkable

import numpy as np

from .submodular import DenseKernel, Selection, SparseKernel, facility_location, flcg, flmi, kernel
from .submodular.kernels import as_kernel

__all__ = ["STAGES", "select", "min_max_scale", "TokenProbabilityModel", "utility_kernel", "distance_from_ones",
           "compression_utility_kernel"]

STAGES = {"instruction": "facility_location", "task": "flmi", "continual": "flcg"}

Sample = Tuple[str, str]  # (instruction x, response y)


@runtime_checkable
class TokenProbabilityModel(Protocol):
    """A language model as DELIFT's utility kernel needs it.

    ``token_probabilities(prompt, response)`` returns float array (T,): the probability the model
    gives to each of the T ground-truth tokens of ``response`` after ``prompt`` (teacher forcing).
    Implement it over any inference stack (transformers, vLLM, an API with logprobs).
    """

    def token_probabilities(self, prompt: str, response: str) -> np.ndarray: ...


def distance_from_ones(p: np.ndarray) -> float:
    """d = ‖p − 1‖₂ / √T for token probabilities p of shape (T,): 0 when the model is certain of every
    token, up to 1 when it gives them probability 0."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"token probabilities must be a non-empty 1-d array, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("token probabilities must be finite and in [0, 1]")
    return float(np.linalg.norm(p - 1.0) / math.sqrt(p.size))


def default_icl_prompt(example: Sample, x: str) -> str:
    """The prompt of sample i with example j prepended as an in-context example."""
    return f"{example[0]}\n{example[1]}\n\n{x}"


def utility_kernel(model: TokenProbabilityModel, samples: Sequence[Sample],
                   icl_prompt: Callable[[Sample, str], str] = default_icl_prompt,
                   progress: Optional[Callable[[int], None]] = None) -> np.ndarray:
    """DELIFT's utility kernel: float64 (n, n), not symmetric, not scaled (``select`` scales it).

    U[i, j] = d(y_i | x_i) − d(y_i | icl_prompt((x_j, y_j), x_i)), with d = ``distance_from_ones``:
    positive when example j, shown in context, helps the model answer i. Costs n + n² model calls
    (n² − n when the diagonal, which is 0 by definition, is skipped); ``progress`` receives the
    number of calls made.
    """
    if not isinstance(model, TokenProbabilityModel):
        raise ValueError("model must have a token_probabilities(prompt, response) method (see "
                         "zipsift.delift.TokenProbabilityModel)")
    samples = [(str(x), str(y)) for x, y in samples]
    n = len(samples)
    if n == 0:
        raise ValueError("utility_kernel needs at least one (instruction, response) sample")
    base = np.array([distance_from_ones(model.token_probabilities(x, y)) for x, y in samples])
    calls = n
    U = np.zeros((n, n))
    for i, (x, y) in enumerate(samples):
        for j in range(n):
            if j != i:
                U[i, j] = base[i] - distance_from_ones(model.token_probabilities(icl_prompt(samples[j], x), y))
                calls += 1
        if progress is not None:
            progress(calls)
    return U


def compression_utility_kernel(samples: Sequence[Sample], codec: str = "zstd", level: int = 3, threads: int = 0,
                               dtype=np.float64) -> np.ndarray:
    """A model-free analogue of DELIFT's utility kernel, measured with zstd: float (n, n), not
    symmetric, not scaled (``select`` min–max scales it). An approximation of ``utility_kernel``
    (bytes a compressor saves, not probabilities a model gains), named as such.

    U_c[i, j] = (C(y_i | x_i) − C(y_i | x_j ⊕ y_j ⊕ x_i)) / |y_i|  for i ≠ j, U_c[i, i] = 0 (as in
    ``utility_kernel``), with |y| in UTF-8 bytes and ⊕ plain concatenation (no separator).

    C(y | p ⊕ s) is the number of bytes zstd (``level``) spends on y after the history p ⊕ s: one
    streaming zstd frame whose pledged size is |s| + |y|, with p as a raw-content dictionary
    (digested once per j, shared by every i), fed s and flushed (``ZSTD_e_flush``, which closes s's
    blocks), then fed y and ended (``ZSTD_e_end``); C counts the bytes written after the flush — y's
    blocks, block headers included. Without p the frame has no dictionary. So U_c[i, j] > 0 when
    example j in the window lets zstd encode answer i in fewer bytes (per byte of the answer).

    samples: (instruction x, response y) pairs of str or bytes; every response must be non-empty.
    Costs n + n² − n zstd frames and n dictionaries, on ``threads`` (0 = every usable core), with the
    GIL released; Ctrl-C stops it. The result is the same for any thread count. ``dtype``:
    numpy.float64 (default) or numpy.float32 (half the memory for large n).
    """
    from . import _core

    if codec != "zstd":
        raise ValueError(f"compression_utility_kernel measures with zstd's dictionaries; codec must be 'zstd', got {codec!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64, got {dtype}")
    if isinstance(samples, (str, bytes)):
        raise ValueError("samples must be a sequence of (instruction, response) pairs, not one string")
    prompts, responses = [], []
    for k, pair in enumerate(samples):
        if isinstance(pair, (str, bytes)) or len(pair) != 2:
            raise ValueError(f"samples[{k}] must be an (instruction, response) pair, got {type(pair).__name__}")
        x, y = pair
        if not isinstance(x, (str, bytes)) or not isinstance(y, (str, bytes)):
            raise ValueError(f"samples[{k}] must hold str or bytes, got ({type(x).__name__}, {type(y).__name__})")
        if len(y) == 0:
            raise ValueError(f"samples[{k}] has an empty response: the utility is per byte of the response; "
                             "drop that pair")
        prompts.append(x)
        responses.append(y)
    if not prompts:
        raise ValueError("compression_utility_kernel needs at least one (instruction, response) sample")
    return _core.compression_utility_kernel(prompts, responses, level, threads, dtype.name)


def min_max_scale(*kernels: np.ndarray) -> Tuple[np.ndarray, ...]:
    """Kernels scaled jointly to [0, 1]: (K − lo) / (hi − lo) with lo, hi over all of them, so that a
    pool kernel and its query/private kernel stay comparable. float32."""
    arrays = [np.asarray(k, dtype=np.float64) for k in kernels]
    for a in arrays:
        if a.size and not np.isfinite(a).all():
            raise ValueError("the kernel holds NaN or inf; a utility kernel must be finite")
    lo = min(float(a.min()) for a in arrays if a.size)
    hi = max(float(a.max()) for a in arrays if a.size)
    if not hi > lo:
        raise ValueError(f"the kernel is constant ({lo}); min-max scaling needs at least two distinct values")
    return tuple(((a - lo) / (hi - lo)).astype(np.float32) for a in arrays)


def _is_kernel_input(pool, input_kind: str) -> bool:
    if input_kind == "kernel":
        return True
    if input_kind == "embeddings":
        return False
    if input_kind != "auto":
        raise ValueError(f"input_kind must be 'auto', 'kernel' or 'embeddings', got {input_kind!r}")
    if isinstance(pool, (DenseKernel, SparseKernel)) or hasattr(pool, "tocsr"):
        return True
    shape = np.shape(pool)
    return len(shape) == 2 and shape[0] == shape[1]


def select(kernel_or_embeddings, stage: str = "instruction", budget: Union[int, float] = 0.3, query=None,
           private=None, optimizer: str = "lazy", *, input_kind: str = "auto", scale: Optional[str] = "minmax",
           metric: str = "cosine", knn: Optional[int] = None, eta: float = 1.0, nu: float = 1.0,
           epsilon: float = 0.1, seed: int = 0, threads: int = 0,
           progress: Optional[Callable[[int], None]] = None) -> Selection:
    """Select a subset of the pool for a DELIFT stage; returns a ``Selection``.

    kernel_or_embeddings: either a pool kernel (n, n) — numpy array, DenseKernel, SparseKernel or
    scipy.sparse — with ``query`` / ``private`` as pool x set kernels (n, q) / (n, p); or pool
    embeddings (n, d) with ``query`` / ``private`` as embeddings (q, d) / (p, d). ``input_kind="auto"``
    takes a square array for a kernel; say ``input_kind="embeddings"`` when n == d.

    A dense precomputed kernel is min–max scaled to [0, 1] jointly with its query/private kernel
    (``scale="minmax"``, as in the paper; ``scale=None`` uses it as given, which must be ≥ 0).
    Sparse kernels are used as given. Embeddings give cosine (or ``metric``) similarities with
    negatives clipped to 0; ``knn=t`` keeps a sparse top-t pool kernel for large pools.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    side = {"instruction": None, "task": query, "continual": private}[stage]
    needs = {"task": "query", "continual": "private"}.get(stage)
    if needs and side is None:
        raise ValueError(f"stage {stage!r} needs {needs}= (the {'target task' if needs == 'query' else 'data the model already learned'})")
    if stage != "task" and query is not None:
        raise ValueError(f"query is only used by stage 'task' (FLMI), not {stage!r}")
    if stage != "continual" and private is not None:
        raise ValueError(f"private is only used by stage 'continual' (FLCG), not {stage!r}")
    if scale not in (None, "minmax"):
        raise ValueError(f"scale must be 'minmax' or None, got {scale!r}")

    if _is_kernel_input(kernel_or_embeddings, input_kind):
        pool = as_kernel(kernel_or_embeddings, "kernel", threads)
        side_k = None if side is None else as_kernel(side, needs, threads)
        if scale == "minmax" and isinstance(pool, DenseKernel):
            if side_k is not None and not isinstance(side_k, DenseKernel):
                raise ValueError(f"min-max scaling a dense pool kernel needs a dense {needs} kernel too")
            scaled = min_max_scale(pool.values, *([] if side_k is None else [side_k.values]))
            pool = DenseKernel(scaled[0], metric=pool.metric, threads=threads)
            side_k = None if side_k is None else DenseKernel(scaled[1], threads=threads)
    else:
        X = kernel_or_embeddings
        pool = kernel(X, metric, knn=knn, clip_negative=True, threads=threads)
        # Only max_q s_iq enters FLMI / FLCG, so the top-1 of each row is all the side kernel needs.
        side_k = None if side is None else kernel(X, metric, knn=1, Y=side, clip_negative=True, threads=threads)

    common = dict(optimizer=optimizer, epsilon=epsilon, seed=seed, threads=threads, progress=progress)
    if stage == "instruction":
        return facility_location(pool, budget, **common)
    if stage == "task":
        return flmi(pool, side_k, budget, eta=eta, **common)
    return flcg(pool, side_k, budget, nu=nu, **common)
