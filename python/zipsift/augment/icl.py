"""ICL-augmented fine-tuning data (Lampinen et al. 2025, "On the generalization of language models
from in-context learning and finetuning").

A model reasons in context about each training document, and its inferences become new training
examples:

* ``local_augment`` — per document (or per sentence): rephrasings, reversals and direct inferences;
* ``global_augment`` — the whole training set in context, then one document: inferences linking it
  to the rest. When the set does not fit the model's context it is cut into chunks that do, and each
  document is prompted once per chunk.

Each model output is parsed into one example per line (``parse_inferences``) and deduplicated
within its source document — exact copies, and near-duplicates by NCD at or below
``near_threshold`` — and exact copies across the whole run; an inference that is a copy or a
near-copy of its own source text is dropped too. The output records are
``{"id", "text", "source_id", "strategy"}``. Pass a ``stats`` dict to learn how many outputs were
made, parsed and dropped, and why.
"""
from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from ..dedup import duplicate_groups
from ..stream import record_text
from .client import GenerationError
from .prompts import GLOBAL_TEMPLATE, LOCAL_TEMPLATE, check_template, render
from .sentences import split_sentences

__all__ = ["parse_inferences", "local_augment", "global_augment", "sentence_examples"]

Generate = Callable[[str], str]

_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2013]+|\(?\d{1,3}[.)]|\(?[a-z][.)]|#+)\s+")
_HEADER = re.compile(r"^\s*(?:[\w ()/-]{1,40}):\s*$")

#: NCD at or below which two inferences of one source are the same. Measured with gzip-9: a case or
#: punctuation variant of a short sentence is ≈ 0.07, while a reversal and its contradiction
#: ("glon are less/more dangerous than femp.") are ≈ 0.20 apart and must both survive.
NEAR_THRESHOLD = 0.12


def parse_inferences(output: str) -> List[str]:
    """One inference per non-empty line of a model output.

    List markers ("- ", "* ", "1. ", "2) ", "(a) ") and surrounding quotes are removed; lines that
    are only a heading ("Rephrasings:", "Inferences:") are skipped. Returns the inferences in order.
    """
    if not isinstance(output, str):
        raise ValueError(f"model output must be str, got {type(output).__name__}")
    out = []
    for line in output.splitlines():
        if not line.strip() or _HEADER.match(line):
            continue
        text = _BULLET.sub("", line).strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
            text = text[1:-1].strip()
        if text:
            out.append(text)
    return out


def _records(records: Iterable[Any], id_field: str, text_field: str) -> Iterator[Tuple[str, str]]:
    for i, r in enumerate(records):
        text = record_text(r, text_field, i)
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"record {i}: text is not valid UTF-8") from None
        if not text.strip():
            raise ValueError(f"record {i}: the text is empty; remove it or fill it in")
        rid = r.get(id_field) if isinstance(r, dict) and id_field in r else i
        yield str(rid), text


class _Deduper:
    def __init__(self, near_threshold: Optional[float], stats: Dict[str, int]):
        if near_threshold is not None and (isinstance(near_threshold, bool) or not isinstance(near_threshold, (int, float))
                                           or not 0 <= near_threshold < 1):
            raise ValueError(f"near_threshold must be None (exact only) or a number in [0, 1), got {near_threshold!r}")
        self.near = near_threshold
        self.seen = set()
        self.stats = stats

    def keep(self, source_text: str, inferences: List[str]) -> List[str]:
        src = source_text.strip()
        fresh = []
        for t in inferences:
            key = t.strip()
            if key == src:
                self.stats["dropped_same_as_source"] += 1
            elif _digest(key) in self.seen or key in fresh:
                self.stats["dropped_exact_duplicate"] += 1
            else:
                fresh.append(key)
        if self.near is not None and fresh:
            # the source goes first, so an inference grouped with it is a near-copy of the source
            labels = duplicate_groups([src] + fresh, "ncd", threshold=self.near)[1:]
            first = labels == np.arange(1, len(fresh) + 1)
            self.stats["dropped_same_as_source"] += int((labels == 0).sum())
            self.stats["dropped_near_duplicate"] += int(((labels != 0) & ~first).sum())
            fresh = [t for t, k in zip(fresh, first) if k]
        self.seen.update(_digest(t) for t in fresh)
        return fresh


def _digest(text: str) -> bytes:
    # 16-byte keys: the run-wide set of seen inferences stays small however much is generated
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _new_stats(stats: Optional[dict]) -> dict:
    if stats is None:
        stats = {}
    elif not isinstance(stats, dict):
        raise ValueError(f"stats must be None or a dict to fill in, got {type(stats).__name__}")
    for key in ("sources", "prompts", "inferences_parsed", "dropped_same_as_source", "dropped_exact_duplicate",
                "dropped_near_duplicate", "records"):
        stats[key] = 0
    return stats


def _ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int) -> Iterator[Tuple[Any, Any]]:
    """(item, fn(item)) in input order, with up to ``workers`` calls in flight and a bounded backlog."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers == 1:
        for item in items:
            yield item, fn(item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = []
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= 2 * workers:
                head, fut = pending.pop(0)
                yield head, fut.result()
        for head, fut in pending:
            yield head, fut.result()


def _call(generate: Generate, prompt: str, source_id: str) -> str:
    try:
        out = generate(prompt)
    except GenerationError as e:
        raise GenerationError(f"generation failed for source {source_id!r}: {e}") from e
    except Exception as e:
        raise GenerationError(f"generation failed for source {source_id!r}: {type(e).__name__}: {e}") from e
    if not isinstance(out, str):
        raise ValueError(f"generate returned {type(out).__name__} for source {source_id!r}; it must return str")
    return out


def _emit(source_id: str, strategy: str, inferences: List[str], counter: Dict[str, int]) -> Iterator[dict]:
    for text in inferences:
        j = counter.get(source_id, 0)
        counter[source_id] = j + 1
        yield {"id": f"{source_id}:{strategy}:{j}", "text": text, "source_id": source_id, "strategy": strategy}


def local_augment(records: Iterable[Any], generate: Generate, template: str = LOCAL_TEMPLATE, unit: str = "document",
                  near_threshold: Optional[float] = NEAR_THRESHOLD, workers: int = 1, id_field: str = "id",
                  text_field: str = "text", stats: Optional[dict] = None) -> Iterator[dict]:
    """Local augmentation: rephrasings, reversals and direct inferences of each document.

    Parameters
    ----------
    records : iterable of str, or of dicts with ``text_field`` (and ``id_field``; the 0-based position
        is the id when there is none). Streamed, never held whole.
    generate : any callable ``prompt -> str`` (e.g. ``OpenAIChat``, or a local model's wrapper).
    template : prompt with the placeholder ``{text}``.
    unit : "document" (one prompt per record, strategy "local") or "sentence" (one prompt per
        sentence of ``split_sentences``, strategy "local-sentence").
    near_threshold : NCD threshold for near-duplicate inferences of one source; None for exact only.
    workers : prompts in flight at once (threads); output order is input order whatever the value.
    stats : optional dict, filled with counts (sources, prompts, inferences_parsed, dropped_*,
        records).

    Yields ``{"id": "<source_id>:<strategy>:<j>", "text", "source_id", "strategy"}``.
    """
    if unit not in ("document", "sentence"):
        raise ValueError(f"unit must be 'document' or 'sentence', got {unit!r}")
    if not callable(generate):
        raise ValueError(f"generate must be a callable prompt -> str, got {type(generate).__name__}")
    check_template(template, ["text"])
    stats = _new_stats(stats)
    dedup = _Deduper(near_threshold, stats)
    strategy = "local" if unit == "document" else "local-sentence"
    counter: Dict[str, int] = {}

    def units():
        for source_id, text in _records(records, id_field, text_field):
            stats["sources"] += 1
            pieces = [text] if unit == "document" else split_sentences(text)
            for piece in pieces:
                yield source_id, piece

    def ask(item):
        source_id, piece = item
        return _call(generate, render(template, text=piece), source_id)

    for (source_id, piece), output in _ordered_map(ask, units(), workers):
        stats["prompts"] += 1
        parsed = parse_inferences(output)
        stats["inferences_parsed"] += len(parsed)
        for rec in _emit(source_id, strategy, dedup.keep(piece, parsed), counter):
            stats["records"] += 1
            yield rec


def _chunks(entries: List[str], budget: int) -> List[str]:
    chunks, current, size = [], [], 0
    for e in entries:
        if current and size + len(e) + 2 > budget:
            chunks.append("\n\n".join(current))
            current, size = [], 0
        current.append(e)
        size += len(e) + 2
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def global_augment(records: Iterable[Any], generate: Generate, template: str = GLOBAL_TEMPLATE,
                   max_context_chars: int = 100_000, near_threshold: Optional[float] = NEAR_THRESHOLD,
                   workers: int = 1, id_field: str = "id", text_field: str = "text",
                   stats: Optional[dict] = None) -> Iterator[dict]:
    """Global augmentation: the training set in context, then one document; inferences linking them.

    The corpus is the documents as "[<id>] <text>" separated by blank lines. A prompt must fit in
    ``max_context_chars`` characters (the model's context, in characters: about 4 per token for
    English). When the whole corpus does not fit beside the template and the longest document, it is
    cut, in order, into chunks that do, and each document is prompted once per chunk — so n
    documents and c chunks cost n·c calls. A single document too long to fit is an error.

    Other parameters and the output are as in ``local_augment``; strategy is "global". All records
    are read first (the corpus is needed in every prompt).
    """
    if not callable(generate):
        raise ValueError(f"generate must be a callable prompt -> str, got {type(generate).__name__}")
    check_template(template, ["text", "corpus"])
    if isinstance(max_context_chars, bool) or not isinstance(max_context_chars, int) or max_context_chars < 1:
        raise ValueError(f"max_context_chars must be an integer >= 1, got {max_context_chars!r}")
    stats = _new_stats(stats)
    dedup = _Deduper(near_threshold, stats)
    docs = list(_records(records, id_field, text_field))
    stats["sources"] = len(docs)
    if not docs:
        return
    entries = [f"[{i}] {t}" for i, t in docs]
    fixed = len(template) - len("{text}") - len("{corpus}") + max(len(t) for _, t in docs)
    budget = max_context_chars - fixed
    longest = max(len(e) for e in entries)
    if budget < longest:
        raise ValueError(f"max_context_chars={max_context_chars} cannot hold the template, the longest document and "
                         f"one more document ({fixed + longest} characters are needed); raise max_context_chars")
    chunks = _chunks(entries, budget)
    stats["chunks"] = len(chunks)
    counter: Dict[str, int] = {}

    def ask(item):
        (source_id, text), chunk = item
        return _call(generate, render(template, text=text, corpus=chunk), source_id)

    items = ((doc, chunk) for doc in docs for chunk in chunks)
    current, gathered = None, []
    for ((source_id, text), _), output in _ordered_map(ask, items, workers):
        stats["prompts"] += 1
        parsed = parse_inferences(output)
        stats["inferences_parsed"] += len(parsed)
        if current is not None and current[0] != source_id:
            yield from _flush(current, gathered, dedup, counter, stats)
            gathered = []
        current = (source_id, text)
        gathered.extend(parsed)
    if current is not None:
        yield from _flush(current, gathered, dedup, counter, stats)


def _flush(current, gathered, dedup, counter, stats):
    source_id, text = current
    for rec in _emit(source_id, "global", dedup.keep(text, gathered), counter):
        stats["records"] += 1
        yield rec


def sentence_examples(records: Iterable[Any], mode: str = "independent", id_field: str = "id",
                      text_field: str = "text") -> Iterator[dict]:
    """Each document as n fine-tuning examples (``split_sentences``), with provenance.

    Yields ``{"id": "<source_id>:split-<mode>:<j>", "text", "source_id", "strategy": "split-<mode>"}``.
    """
    if mode not in ("independent", "cumulative"):
        raise ValueError(f"mode must be 'independent' or 'cumulative', got {mode!r}")
    strategy = f"split-{mode}"
    for source_id, text in _records(records, id_field, text_field):
        for j, piece in enumerate(split_sentences(text, mode)):
            yield {"id": f"{source_id}:{strategy}:{j}", "text": piece, "source_id": source_id, "strategy": strategy}
