"""Final answers: extract them from a solution, normalise them, compare them with the gold answer.

Formats recognised, in this order of precedence (the last occurrence of a format wins):

1. ``\\boxed{...}`` / ``\\fbox{...}`` with nested braces (MATH style), or ``\\boxed 7``;
2. ``#### 42`` (GSM8K style), the rest of that line;
3. ``The answer is ...`` / ``Final answer: ...`` (case-insensitive), to the end of the line, without
   a closing period.

Normalisation (``normalize_answer``) strips math delimiters ($, \\( \\), \\[ \\]), spacing commands
(\\!, \\,, \\;, \\left, \\right, \\displaystyle), text wrappers (\\text{..}, \\mathrm{..}, \\mbox{..}),
degree marks, percent signs, a leading "x =", a trailing period, thousands separators and all
spaces; \\dfrac and \\tfrac become \\frac. Answers that are rational numbers (integers, decimals,
a/b, \\frac{a}{b}, \\frac ab, with a sign) are compared as exact fractions, so "0.5", "1/2" and
"\\frac{1}{2}" match; anything else is compared as the normalised string.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Iterable, List, Mapping, Optional, Union

__all__ = ["extract_answer", "normalize_answer", "answers_match", "is_correct", "filter_correct"]

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])(\s*)")
_HASHES = re.compile(r"####\s*([^\n]*)")
_ANSWER_IS = re.compile(r"(?:final answer|the answer)\s*(?:is\s*:?|:)\s*([^\n]+)", re.IGNORECASE)


def _braced(text: str, start: int) -> Optional[str]:
    """Content of the brace group opening at text[start] == '{', or None if it never closes.

    A backslash escapes the next character, so \\{ and \\} are literal braces while \\\\}
    (a LaTeX line break, then a brace) closes the group."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
        i += 1
    return None


def extract_answer(text: str) -> Optional[str]:
    """The final answer stated in a solution, as written (not normalised), or None if there is none."""
    if not isinstance(text, str):
        raise ValueError(f"solution must be str, got {type(text).__name__}")
    boxes = list(_BOX.finditer(text))
    for m in reversed(boxes):
        end = m.end()
        if end < len(text) and text[end] == "{":
            inner = _braced(text, end)
            if inner is not None:
                return inner.strip()
        elif m.group(1):  # "\\boxed 7": the next token
            token = re.match(r"[^\s$]+", text[end:])
            if token:
                return token.group(0).rstrip(".")
    hashes = _HASHES.findall(text)
    if hashes and hashes[-1].strip():
        return hashes[-1].strip()
    stated = _ANSWER_IS.findall(text)
    if stated:
        ans = stated[-1].strip()
        ans = re.sub(r"\.\s*$", "", ans).strip()  # the sentence's period, not a decimal point
        return ans or None
    return None


_REMOVE = [r"\left", r"\right", r"\!", r"\,", r"\;", r"\:", r"\displaystyle", "^\\circ", "^{\\circ}", "\\%", "%",
           r"\$", "°"]
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mbox|textrm|mathbf)\s*\{([^{}]*)\}")
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d])")
_FRAC = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}$")
_FRAC_SHORT = re.compile(r"^(-?)\\frac(\d)(\d)$")
_RATIONAL = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(/[-+]?\d+)?$")


def normalize_answer(answer: Union[str, int, float]) -> str:
    """Canonical form of an answer: see the module docstring. Rational numbers become "p" or "p/q"."""
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
        raise ValueError(f"answer must be str or a number, got {type(answer).__name__}")
    s = str(answer).strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left):len(s) - len(right)].strip()
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    prev = None
    while prev != s:
        prev, s = s, _TEXT_WRAP.sub(r"\1", s)
    for token in _REMOVE:
        s = s.replace(token, "")
    s = s.replace("\\ ", "").replace("$", "")
    s = re.sub(r"\.\s*$", "", s.strip())
    s = re.sub(r"^[a-zA-Z]\s*=\s*(?=\S)", "", s)
    s = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), s)
    s = re.sub(r"\s+", "", s)
    value = _as_fraction(s)
    if value is not None:
        return str(value)
    return s


def _as_fraction(s: str) -> Optional[Fraction]:
    m = _FRAC.match(s) or _FRAC_SHORT.match(s)
    try:
        if m:
            sign, num, den = m.groups()
            value = Fraction(int(num), int(den))
            return -value if sign else value
        if _RATIONAL.match(s):
            return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None
    return None


def answers_match(predicted: Optional[Union[str, int, float]], gold: Union[str, int, float]) -> bool:
    """True when the two answers are equal after ``normalize_answer`` (None never matches)."""
    if predicted is None:
        return False
    return normalize_answer(predicted) == normalize_answer(gold)


def is_correct(solution: str, gold: Union[str, int, float]) -> bool:
    """True when the final answer extracted from ``solution`` matches ``gold``."""
    return answers_match(extract_answer(solution), gold)


def filter_correct(samples: Iterable[Mapping[str, Any]], gold: Mapping[Any, Union[str, int, float]],
                   id_field: str = "question_id", text_field: str = "solution") -> List[Mapping[str, Any]]:
    """The samples whose final answer equals the gold answer of their question, in input order.

    ``samples``: records with ``id_field`` (the question) and ``text_field`` (the solution text).
    ``gold``: question id -> gold answer. A sample whose question has no gold answer, or that lacks a
    field, raises ValueError naming the sample: nothing is dropped for a reason other than a wrong
    or missing final answer.
    """
    if not isinstance(gold, Mapping):
        raise ValueError(f"gold must be a dict question id -> answer, got {type(gold).__name__}")
    kept = []
    for i, s in enumerate(samples):
        if not isinstance(s, Mapping) or id_field not in s or text_field not in s:
            raise ValueError(f"sample {i}: expected a dict with fields {id_field!r} and {text_field!r}, "
                             f"got {s!r:.200}")
        if s[id_field] not in gold:
            raise ValueError(f"sample {i}: question {s[id_field]!r} has no gold answer")
        if is_correct(s[text_field], gold[s[id_field]]):
            kept.append(s)
    return kept
