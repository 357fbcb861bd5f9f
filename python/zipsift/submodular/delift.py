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
implementing ``TokenProbabilityModel`` (teacher-forced probabilities of the response tokens):
``zipsift.lm.CausalLM`` runs a local transformers / GGUF model on CPUs (the ``lm`` extra), with the
in-context example's KV cache computed once per column and reused over batches of rows.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Protocol, Sequence, Tuple, Union, runtime_checkable

import numpy as np

from .kernels import DenseKernel, SparseKernel, as_kernel, kernel
from .objectives import facility_location, flcg, flmi
from .selection import Selection

__all__ = ["STAGES", "select", "min_max_scale", "TokenProbabilityModel", "utility_kernel", "distance_from_ones",
           "ICLTemplate", "DEFAULT_TEMPLATE", "compression_utility_kernel"]

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


class ICLTemplate:
    """How DELIFT's utility kernel shows samples to the model.

    ``query`` renders sample i's instruction x_i: the text right before its response y_i.
    ``example`` renders sample j = (x_j, y_j) as the in-context example put before that. The
    placeholders ``{prompt}`` and ``{response}`` are replaced literally (other braces are kept).
    With the defaults, the two sequences scored for U[i, j] are::

        d(y_i | x_i):               "{x_i}\n" + "{y_i}"
        d(y_i | (x_j, y_j), x_i):   "{x_j}\n{y_j}\n\n" + "{x_i}\n" + "{y_i}"

    A ``zipsift.lm.CausalLM`` tokenises the three segments (example, query, response) separately and
    concatenates their ids, so the example's KV cache can be reused exactly; any other
    ``TokenProbabilityModel`` receives ``example + query`` joined as one prompt string.
    """

    def __init__(self, query: str = "{prompt}\n", example: str = "{prompt}\n{response}\n\n"):
        if not isinstance(query, str) or "{prompt}" not in query:
            raise ValueError(f"query template must be a str containing {{prompt}}, got {query!r}")
        if not isinstance(example, str) or "{prompt}" not in example or "{response}" not in example:
            raise ValueError(f"example template must be a str containing {{prompt}} and {{response}}, got {example!r}")
        self.query = query
        self.example = example

    def render_query(self, prompt: str) -> str:
        return self.query.replace("{prompt}", prompt)

    def render_example(self, prompt: str, response: str) -> str:
        # Split on {response} first, so a prompt that contains the text "{response}" stays as it is.
        return response.join(part.replace("{prompt}", prompt) for part in self.example.split("{response}"))

    def __repr__(self) -> str:
        return f"ICLTemplate(query={self.query!r}, example={self.example!r})"


DEFAULT_TEMPLATE = ICLTemplate()


def _samples(samples, what: str) -> list:
    out = []
    for k, s in enumerate(samples):
        if not (isinstance(s, (tuple, list)) and len(s) == 2 and all(isinstance(t, str) for t in s)):
            raise ValueError(f"{what} {k} must be an (instruction, response) pair of str, got {s!r:.80}")
        if not s[1].strip():
            raise ValueError(f"{what} {k}: the response is empty; the kernel scores the response's tokens")
        out.append((s[0], s[1]))
    return out


def utility_kernel(model: TokenProbabilityModel, samples: Sequence[Sample], contexts: Optional[Sequence[Sample]] = None,
                   *, template: ICLTemplate = DEFAULT_TEMPLATE, diagonal: str = "compute",
                   progress: Optional[Callable[[int], None]] = None, stats: Optional[dict] = None) -> np.ndarray:
    """DELIFT's utility kernel (docs/methods.md, "DELIFT on a real model"): float64 (n, m), not symmetric, not scaled (``select``
    min–max scales it).

        U[i, j] = d(y_i | x_i) − d(y_i | (x_j, y_j) in context, x_i),   d(p) = ‖p − 1‖₂ / √T

    with p the teacher-forced probabilities of y_i's T tokens: positive when example j, shown in
    context (``template``), helps the model answer i. Rows are ``samples`` (i), columns are
    ``contexts`` (j; the samples themselves when not given, n x n).

    Cost: n + n·m scored sequences ("passes"; n + n² for the square kernel). ``diagonal``:
    "compute" (default) scores U[i, i] as defined — sample i's own answer in context, usually the
    largest utility of its row, as a self-similarity is; "zero" skips those n passes and sets
    U[i, i] = 0 (square kernel only).

    A ``zipsift.lm.CausalLM`` takes the fast path: each context's prefix is run once and its KV
    cache reused over batches of rows (m prefix passes more, each a fraction of a pass). Any other
    ``TokenProbabilityModel`` is called once per pass. ``progress`` receives the number of passes
    done so far. ``stats`` (a dict) is filled with passes, prefix_passes, path and seconds.
    """
    import time

    if not isinstance(model, TokenProbabilityModel):
        raise ValueError("model must have a token_probabilities(prompt, response) method (see "
                         "zipsift.submodular.delift.TokenProbabilityModel), e.g. zipsift.lm.CausalLM.load()")
    if not isinstance(template, ICLTemplate):
        raise ValueError(f"template must be a zipsift.submodular.delift.ICLTemplate, got {type(template).__name__}")
    if diagonal not in ("compute", "zero"):
        raise ValueError(f"diagonal must be 'compute' or 'zero', got {diagonal!r}")
    rows = _samples(samples, "sample")
    if not rows:
        raise ValueError("utility_kernel needs at least one (instruction, response) sample")
    square = contexts is None
    cols = rows if square else _samples(contexts, "context")
    if not cols:
        raise ValueError("contexts is empty; give at least one (instruction, response) example, or None")
    if diagonal == "zero" and not square:
        raise ValueError("diagonal='zero' is only for the square kernel (contexts=None)")
    skip_diagonal = square and diagonal == "zero"
    n, m = len(rows), len(cols)
    start = time.perf_counter()
    done = [0]

    def advance(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(done[0])

    from ..lm.scoring import CausalLM

    U = np.zeros((n, m))
    if isinstance(model, CausalLM):
        path = "causal-lm: batched, KV cache of each context reused"
        encoded = [(model.encode(template.render_query(x)), model.encode(y)) for x, y in rows]
        longest = max(len(q) + len(y) for q, y in encoded)
        for j, (xj, yj) in enumerate(cols):  # refuse before hours of work, not at column j
            total = len(model.special) + len(model.encode(template.render_example(xj, yj))) + longest
            if total > model.max_length:
                raise ValueError(f"context {j} with the longest sample makes {total} tokens, more than the "
                                 f"model's {model.max_length}; shorten the texts or drop the longest ones")
        base = np.array([distance_from_ones(p) for p in model.score_ids(encoded, "", advance)])
        for j, (xj, yj) in enumerate(cols):
            prefix = model.prefix(template.render_example(xj, yj))
            which = [i for i in range(n) if not (skip_diagonal and i == j)]
            probs = model.score_ids([encoded[i] for i in which], prefix, advance)
            U[which, j] = base[which] - np.array([distance_from_ones(p) for p in probs])
        prefix_passes = m
    else:
        path = "generic: one token_probabilities call per pass"
        queries = [template.render_query(x) for x, _ in rows]
        base = np.array([distance_from_ones(model.token_probabilities(q, y)) for q, (_, y) in zip(queries, rows)])
        advance(n)
        for i, (q, (_, y)) in enumerate(zip(queries, rows)):
            for j, (xj, yj) in enumerate(cols):
                if skip_diagonal and i == j:
                    continue
                U[i, j] = base[i] - distance_from_ones(model.token_probabilities(template.render_example(xj, yj) + q, y))
            advance(m - (1 if skip_diagonal else 0))
        prefix_passes = 0
    if stats is not None:
        stats.update(passes=done[0], prefix_passes=prefix_passes, rows=n, columns=m, diagonal=diagonal if square else None,
                     path=path, seconds=round(time.perf_counter() - start, 3))
    return U


def compression_utility_kernel(samples: Sequence[Sample], codec: str = "zstd", level: int = 3, *,
                               diagonal: str = "compute", threads: int = 0, dtype=np.float64) -> np.ndarray:
    """A model-free analogue of DELIFT's utility kernel, measured with zstd: float (n, n), not
    symmetric, not scaled (``select`` min–max scales it). An approximation of ``utility_kernel``
    (bytes a compressor saves, not probabilities a model gains), named as such.

    U_c[i, j] = (C(y_i | x_i) − C(y_i | x_j ⊕ y_j ⊕ x_i)) / |y_i|

    with |y| in UTF-8 bytes and ⊕ plain concatenation (no separator). ``diagonal``: "compute"
    (default, as ``utility_kernel`` does: i's own pair in the window, usually the row's largest) or
    "zero" (U_c[i, i] = 0, n frames fewer).

    C(y | p ⊕ s) is the number of bytes zstd (``level``) spends on y after the history p ⊕ s: one
    streaming zstd frame whose pledged size is |s| + |y|, with p as a raw-content dictionary
    (digested once per j, shared by every i), fed s and flushed (``ZSTD_e_flush``, which closes s's
    blocks), then fed y and ended (``ZSTD_e_end``); C counts the bytes written after the flush — y's
    blocks, block headers included. Without p the frame has no dictionary. So U_c[i, j] > 0 when
    example j in the window lets zstd encode answer i in fewer bytes (per byte of the answer).

    samples: (instruction x, response y) pairs of str or bytes; every response must be non-empty.
    Costs n + n² zstd frames and n dictionaries, on ``threads`` (0 = every usable core), with the
    GIL released; Ctrl-C stops it. The result is the same for any thread count. ``dtype``:
    numpy.float64 (default) or numpy.float32 (half the memory for large n).
    """
    from .. import _core

    if codec != "zstd":
        raise ValueError(f"compression_utility_kernel measures with zstd's dictionaries; codec must be 'zstd', got {codec!r}")
    if diagonal not in ("compute", "zero"):
        raise ValueError(f"diagonal must be 'compute' or 'zero', got {diagonal!r}")
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
    return _core.compression_utility_kernel(prompts, responses, level, diagonal == "compute", threads, dtype.name)


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
