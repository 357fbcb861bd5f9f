"""Sentence splitting for fine-tuning examples (Lampinen et al. 2025): each document becomes n
examples, one per sentence ("independent") or each sentence with all the ones before it
("cumulative")."""
from __future__ import annotations

import re
from typing import List, Tuple

__all__ = ["split_sentences", "sentence_spans"]

# a sentence ends at . ! ? (then closing quotes/brackets) followed by whitespace, or at a blank line
_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)|\n\s*\n")
_ABBREVIATIONS = frozenset("mr mrs ms dr prof sr jr st vs etc e.g i.e cf fig no vol approx dept est inc ltd co "
                           "jan feb mar apr jun jul aug sep sept oct nov dec".split())


def sentence_spans(doc: str) -> List[Tuple[int, int]]:
    """(start, end) character offsets of each sentence of ``doc``, whitespace excluded."""
    if not isinstance(doc, str):
        raise ValueError(f"doc must be str, got {type(doc).__name__}")
    spans, start = [], 0
    for m in _END.finditer(doc):
        end = m.end()
        if not m.group(0).startswith("\n"):
            word = re.search(r"(\S+)$", doc[start:m.start() + 1])
            token = word.group(1).lower().rstrip(".") if word else ""
            # "Dr. Smith", "e.g. this", "J. Smith": an abbreviation or an initial does not end a sentence
            if token.lstrip("(\"'") in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue
        else:
            end = m.start()
        if doc[start:end].strip():
            spans.append(_strip(doc, start, end))
        start = m.end()
    if doc[start:].strip():
        spans.append(_strip(doc, start, len(doc)))
    return spans


def _strip(doc: str, start: int, end: int) -> Tuple[int, int]:
    while start < end and doc[start].isspace():
        start += 1
    while end > start and doc[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(doc: str, mode: str = "independent") -> List[str]:
    """The examples a document becomes.

    * "independent" — each sentence alone: ``[s1, s2, s3]``;
    * "cumulative" — each sentence with all preceding ones as context: ``[s1, s1 s2, s1 s2 s3]``,
      taken verbatim from the document (its own spacing and line breaks are kept).

    Sentences end at ., ! or ? followed by whitespace (not after common abbreviations such as "Dr."
    or "e.g." or single-letter initials), and at blank lines. Returns a list of str; an empty or
    all-whitespace document gives [].
    """
    if mode not in ("independent", "cumulative"):
        raise ValueError(f"mode must be 'independent' or 'cumulative', got {mode!r}")
    spans = sentence_spans(doc)
    if mode == "independent":
        return [doc[s:e] for s, e in spans]
    return [doc[spans[0][0]:e] for _, e in spans]
