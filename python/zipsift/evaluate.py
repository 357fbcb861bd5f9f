"""Model-free proxies for how well a selection predicts held-out target data (``zipsift eval``).

Each proxy is a cheap model trained only on the selection; the score is the held-out texts' code
length under it, in bits per byte of UTF-8 (lower is better: the selection says more about the
target). Comparing selections of the same size from the same pool ranks them before any GPU time.

``zstd``
    zstd at ``level`` (default 19) with the selection as a raw-content dictionary
    (``zstandard.ZstdCompressionDict(..., dict_type=DICT_TYPE_RAWCONTENT)``): each held-out text is
    compressed on its own as a frame without checksum, content size or dictionary id, and
    ``zstd_bpb = 8 · Σ len(frame) / Σ len(text)``. The dictionary is the selection's texts, in
    order, joined by "\\n", capped at ``max_dict_bytes`` (default 4 MiB; level 19's window is
    8 MiB, and a dictionary beyond the window could not be referenced). A selection larger than the
    cap is judged by its first ``max_dict_bytes`` bytes: compare selections below the cap.
``ngram``
    A hashed byte n-gram language model with interpolated Dirichlet smoothing (order 6 by default:
    5 bytes of context; each order's estimate is the prior of the next with weight ``beta``,
    default 32), fitted on the selection in the native core (``zipsift._core.ByteNgramLM``; the
    formula is in csrc/byte_lm.h): ``ngram_bpb = Σ −log2 p(byte | context) / Σ len(text)``. Its
    two tables have ``2^table_bits`` counters each (default 2^22, 32 MiB in all): memory does not
    grow with the selection, and the model is the same whatever the thread count.
``lm`` (opt-in; the ``lm`` extra)
    A real causal LM (SmolLM2-135M by default) fine-tuned on the selection's first ``tokens``
    tokens, then teacher-forced on each held-out text: ``lm_ce`` in nats per token and ``lm_bpb`` in
    bits per byte (``zipsift.lm.FineTuneJudge``, whose docstring gives the fixed protocol). Minutes per
    selection on CPUs, so it is not among the defaults. ``SelectionEvaluator.lm_baseline()`` gives the
    un-fine-tuned model's figures to compare against.
"""
from __future__ import annotations

import threading
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np
import zstandard

from . import _core
from .ncd import Text
from .params import check_threads, resolve_threads
from .progress import OnProgress
from .stream import batched, record_text

__all__ = ["PROXIES", "ALL_PROXIES", "SelectionEvaluator", "zstd_bpb", "ngram_bpb"]

PROXIES = ("zstd", "ngram")  # the defaults: model-free, seconds per selection
ALL_PROXIES = PROXIES + ("lm",)  # "lm" fine-tunes a real model: opt-in
DEFAULT_MAX_DICT_BYTES = 4 << 20
ZSTD_MAX_WINDOW = 1 << 23  # level 19's window: a longer dictionary is not reachable
# Held-out bytes per task of the zstd proxy: well under a second at level 19, so Ctrl-C is answered fast.
ZSTD_CHUNK_BYTES = 1 << 18


def _as_bytes(texts: Iterable[Any], text_field: str, start: int = 0) -> List[bytes]:
    out = []
    for i, item in enumerate(texts):
        text = record_text(item, text_field, start + i)
        out.append(text if isinstance(text, bytes) else text.encode("utf-8"))
    return out


class SelectionEvaluator:
    """Scores selections against one held-out target set.

    Parameters
    ----------
    heldout : iterable of str/bytes (or records with ``text_field``)
        Held-out target examples, not used to make the selections. Kept in memory.
    proxies : subset of ("zstd", "ngram", "lm"); default ("zstd", "ngram")
    zstd_level : 1..22 (default 19)
    max_dict_bytes : cap of the zstd dictionary (default 4 MiB, at most 8 MiB)
    ngram_order : bytes of context + 1 (default 6), 1..16
    ngram_beta : prior weight of the shorter context (default 32), > 0
    table_bits : log2 of the n-gram model's table size (default 22), 10..30
    threads : 0 = every core in the process's affinity mask
    lm : for the "lm" proxy, a ``zipsift.lm.FineTuneJudge`` or a dict of its keyword arguments
        (model, tokens, seed, lr, ...; ``threads`` defaults to this evaluator's)
    """

    def __init__(self, heldout: Iterable[Any], proxies: Sequence[str] = PROXIES, zstd_level: int = 19,
                 max_dict_bytes: int = DEFAULT_MAX_DICT_BYTES, ngram_order: int = 6, ngram_beta: float = 32.0,
                 table_bits: int = 22, threads: int = 0, text_field: str = "text", lm: Any = None):
        proxies = tuple(proxies)
        unknown = [p for p in proxies if p not in ALL_PROXIES]
        if not proxies or unknown:
            raise ValueError(f"proxies must be a non-empty subset of {ALL_PROXIES}, got {list(proxies)}")
        if isinstance(zstd_level, bool) or not isinstance(zstd_level, (int, np.integer)) or not 1 <= zstd_level <= 22:
            raise ValueError(f"zstd_level must be an integer in [1, 22], got {zstd_level!r}")
        if (isinstance(max_dict_bytes, bool) or not isinstance(max_dict_bytes, (int, np.integer))
                or not 1 <= max_dict_bytes <= ZSTD_MAX_WINDOW):
            raise ValueError(f"max_dict_bytes must be in [1, {ZSTD_MAX_WINDOW}] (zstd's level-19 window), "
                             f"got {max_dict_bytes!r}")
        self.threads = check_threads(threads)
        self.heldout = _as_bytes(heldout, text_field)
        if not self.heldout:
            raise ValueError("heldout is empty: give the held-out target examples to measure bits per byte on")
        self.heldout_bytes = sum(len(t) for t in self.heldout)
        if self.heldout_bytes == 0:
            raise ValueError("the held-out texts are all empty; bits per byte needs at least one byte")
        self.proxies = proxies
        self.zstd_level = int(zstd_level)
        self.max_dict_bytes = int(max_dict_bytes)
        _core.ByteNgramLM(ngram_order, 10, ngram_beta)  # validates the order and beta now
        if isinstance(table_bits, bool) or not isinstance(table_bits, (int, np.integer)) or not 10 <= table_bits <= 30:
            raise ValueError(f"table_bits must be between 10 and 30 (2^bits counters per table), got {table_bits!r}")
        self.ngram_order = int(ngram_order)
        self.ngram_beta = float(ngram_beta)
        self.table_bits = int(table_bits)
        self.lm_judge = None
        if "lm" in proxies:
            from .lm import FineTuneJudge

            self.lm_judge = lm if isinstance(lm, FineTuneJudge) else FineTuneJudge(**{"threads": threads, **(lm or {})})
            self.lm_heldout = self.lm_judge.prepare_heldout(self.heldout)

    def lm_baseline(self) -> Dict[str, Any]:
        """The "lm" proxy's reference point: held-out figures of the model before any fine-tuning
        (``ce_nats_per_token``, ``bits_per_byte``, ``tokens``, ``bytes``, ...)."""
        if self.lm_judge is None:
            raise ValueError('lm_baseline needs the "lm" proxy: SelectionEvaluator(heldout, proxies=[..., "lm"])')
        return self.lm_judge.baseline(self.lm_heldout)

    def evaluate(self, selection: Iterable[Any], text_field: str = "text", batch_size: int = 4096,
                 label: str = "", on_progress: Optional[OnProgress] = None) -> Dict[str, Any]:
        """Stream one selection and score the held-out texts under each proxy fitted on it.

        Returns ``{"docs": n, "bytes": UTF-8 bytes of the selection, "<proxy>_bpb": float, ...}``;
        with "lm" also ``lm_ce`` (nats/token), ``lm_bpb`` and ``lm`` (the judge's full result).
        Memory: the zstd dictionary (capped), the n-gram tables (fixed) and the lm's token budget,
        not the selection. ``on_progress`` follows the "lm" proxy's fine-tuning (tokens trained of
        tokens to train; zipsift.progress), the only long step."""
        lm = _core.ByteNgramLM(self.ngram_order, self.table_bits, self.ngram_beta) if "ngram" in self.proxies else None
        budget = self.lm_judge.budget() if self.lm_judge is not None else None
        dictionary = bytearray()
        docs = size = 0
        for batch in batched(selection, batch_size):
            texts = _as_bytes(batch, text_field, docs)
            docs += len(texts)
            size += sum(len(t) for t in texts)
            if "zstd" in self.proxies:
                for t in texts:
                    room = self.max_dict_bytes - len(dictionary)
                    if room <= 0:
                        break
                    dictionary += t[:room]
                    if len(dictionary) < self.max_dict_bytes:
                        dictionary += b"\n"
            if lm is not None:
                lm.fit(texts, self.threads)
            if budget is not None and not budget.full:
                budget.add(texts)
        if docs == 0:
            raise ValueError("the selection is empty: there is nothing to fit a proxy on")
        row: Dict[str, Any] = {"docs": docs, "bytes": size}
        if "zstd" in self.proxies:
            row["zstd_bpb"] = self._zstd_bpb(bytes(dictionary))
        if lm is not None:
            row["ngram_bpb"] = float(lm.bits(self.heldout, self.threads).sum() / self.heldout_bytes * 1.0)
        if budget is not None:
            result = self.lm_judge.evaluate(budget, self.lm_heldout, label=label, on_progress=on_progress)
            row["lm_ce"] = result["ce_nats_per_token"]
            row["lm_bpb"] = result["bits_per_byte"]
            row["lm"] = result
        return row

    def _zstd_bpb(self, dictionary: bytes) -> float:
        d = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        chunks = list(_byte_chunks(self.heldout, ZSTD_CHUNK_BYTES))
        sizes: List[int] = [0] * len(chunks)
        next_chunk = iter(range(len(chunks)))
        lock = threading.Lock()
        stop = threading.Event()
        failure: List[BaseException] = []

        def work() -> None:
            # One compressor per worker, reused; it digests the dictionary in its first compress,
            # which releases the GIL (precompute_compress would hold it for seconds, deaf to Ctrl-C).
            c = zstandard.ZstdCompressor(level=self.zstd_level, dict_data=d, write_checksum=False,
                                         write_content_size=False, write_dict_id=False)
            try:
                while not stop.is_set():
                    with lock:
                        i = next(next_chunk, None)
                    if i is None:
                        return
                    sizes[i] = sum(len(c.compress(t)) for t in chunks[i])
            except BaseException as e:  # re-raised on the caller's thread
                failure.append(e)
                stop.set()

        # Daemon workers over chunks bounded in bytes; the caller waits in short steps, so Ctrl-C
        # returns at once: the workers stop after their current chunk, in the background.
        workers = [threading.Thread(target=work, name="zipsift-zstd-proxy", daemon=True)
                   for _ in range(min(resolve_threads(self.threads), len(chunks)))]
        for w in workers:
            w.start()
        try:
            for w in workers:
                while w.is_alive():
                    w.join(0.05)
        finally:
            stop.set()
        if failure:
            raise failure[0]
        return 8.0 * sum(sizes) / self.heldout_bytes


def _byte_chunks(texts: List[bytes], max_bytes: int) -> Iterator[List[bytes]]:
    """Consecutive runs of texts of at most max_bytes together (a longer text is a run of its own)."""
    chunk: List[bytes] = []
    size = 0
    for t in texts:
        if chunk and size + len(t) > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(t)
        size += len(t)
    if chunk:
        yield chunk


def zstd_bpb(selection: Iterable[Text], heldout: Iterable[Text], level: int = 19,
             max_dict_bytes: int = DEFAULT_MAX_DICT_BYTES, threads: int = 0) -> float:
    """Bits per byte of ``heldout`` compressed by zstd with ``selection`` as a raw-content dictionary."""
    return SelectionEvaluator(heldout, ("zstd",), zstd_level=level, max_dict_bytes=max_dict_bytes,
                              threads=threads).evaluate(selection)["zstd_bpb"]


def ngram_bpb(selection: Iterable[Text], heldout: Iterable[Text], order: int = 6, beta: float = 32.0,
              table_bits: int = 22, threads: int = 0) -> float:
    """Bits per byte of ``heldout`` under a hashed byte n-gram model fitted on ``selection``."""
    return SelectionEvaluator(heldout, ("ngram",), ngram_order=order, ngram_beta=beta, table_bits=table_bits,
                              threads=threads).evaluate(selection)["ngram_bpb"]
