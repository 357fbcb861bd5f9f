"""Controlled test sets made of nonsense words (Lampinen et al. 2025; docs/methods.md, "ICL-augmented fine-tuning").

Nonsense words keep pre-training knowledge out: a model can only answer the test items from what
it learned from the training documents. Each word is one pronounceable syllable, onset + vowel +
coda ("femp", "glon", "troff"), 4–5 letters, never a word of ``ENGLISH_WORDS`` (the real English words these
patterns can spell, from a US-English word list).

* ``reversal_dataset`` — "femp are more dangerous than glon." is trained; the test asks to choose
  between its converse "glon are less dangerous than femp." (correct) and the contradiction
  "glon are more dangerous than femp.".
* ``syllogism_dataset`` — "All glon are yomp. All troff are glon." is trained; the test scores the
  6 candidates {All, Some, No} × {troff → yomp, yomp → troff}. Three valid moods are used:
  Barbara (All B are C; All A are B ⊢ All A are C), Celarent (No B are C; All A are B ⊢ No A are C)
  and Darii (All B are C; Some A are B ⊢ Some A are C). Under modern (Boolean) semantics the
  converse of a No or Some conclusion follows as well, so each item lists every candidate that
  follows in ``correct`` and the canonical conclusion in ``answer``.

Both return ``{"train": [{"id", "text"}], "test": [{"id", "source_id", "choices", "answer",
"correct", ...}]}``; ``answer`` indexes ``choices``. Evaluate multiple-choice by likelihood: the
model is right when its most likely choice is in ``correct``. Same seed, same dataset.
"""
from __future__ import annotations

import random
from typing import Dict, List, Sequence, Tuple

from ._english_words import ENGLISH_WORDS

__all__ = ["nonsense_words", "reversal_dataset", "syllogism_dataset", "COMPARATIVES", "ENGLISH_WORDS"]

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "y", "bl", "br", "dr", "fl",
           "fr", "gl", "gr", "kl", "kr", "pl", "pr", "sk", "sl", "sn", "sp", "st", "tr", "tw", "zr", "vl")
_VOWELS = ("a", "e", "i", "o", "u", "oo", "ee", "ai", "ou")
_CODAS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "t", "x", "mp", "nt", "nd", "sk", "st", "lf", "rk",
          "ff", "rp", "lk", "mf", "nk", "rb", "sp", "ft", "lt", "rm", "rn", "zz")

#: Asymmetric comparatives and their converses: "A are <r> than B" ⇔ "B are <converse> than A".
COMPARATIVES: Tuple[Tuple[str, str], ...] = (
    ("more dangerous", "less dangerous"), ("bigger", "smaller"), ("older", "younger"), ("faster", "slower"),
    ("heavier", "lighter"), ("more expensive", "less expensive"), ("taller", "shorter"),
    ("stronger", "weaker"), ("louder", "quieter"), ("warmer", "colder"),
)


def nonsense_words(n: int, seed=0) -> List[str]:
    """``n`` distinct pronounceable nonsense words (onset + vowel + coda, 4–5 letters), reproducible
    from ``seed`` (an int or a str), none of them in ``ENGLISH_WORDS``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    pool = sorted({o + v + c for o in _ONSETS for v in _VOWELS for c in _CODAS
                   if 4 <= len(o + v + c) <= 5 and o + v + c not in ENGLISH_WORDS})
    if n > len(pool):
        raise ValueError(f"only {len(pool)} distinct nonsense words can be made; asked for {n}")
    return random.Random(seed).sample(pool, n)


def _check_count(name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    return n


def reversal_dataset(n_facts: int, seed: int = 0) -> Dict[str, List[dict]]:
    """Simple reversals: one training document per fact, one two-way multiple-choice test item each.

    train: ``{"id": "reversal-<i>", "text": "<a> are <r> than <b>."}``
    test: ``{"id": "reversal-<i>-test", "source_id": "reversal-<i>", "choices": [2 sentences],
    "answer": index of "<b> are <converse r> than <a>.", "correct": [answer], "kind": "reversal"}``
    (the other choice is the contradiction "<b> are <r> than <a>."). Every word appears in one fact.
    """
    n_facts = _check_count("n_facts", n_facts)
    rng = random.Random(seed)
    words = nonsense_words(2 * n_facts, f"reversal-{seed}")  # a word stream of its own
    train, test = [], []
    for i in range(n_facts):
        a, b = words[2 * i], words[2 * i + 1]
        rel, conv = rng.choice(COMPARATIVES)
        doc_id = f"reversal-{i}"
        train.append({"id": doc_id, "text": f"{a} are {rel} than {b}."})
        right, wrong = f"{b} are {conv} than {a}.", f"{b} are {rel} than {a}."
        choices = [right, wrong]
        rng.shuffle(choices)
        test.append({"id": f"{doc_id}-test", "source_id": doc_id, "choices": choices,
                     "answer": choices.index(right), "correct": [choices.index(right)], "kind": "reversal"})
    return {"train": train, "test": test}


# mood -> (major premise quantifier over B→C, minor premise quantifier over A→B, conclusions that
# follow, as (quantifier, subject, predicate) with "A"/"C" standing for the terms)
_MOODS = {
    "barbara": ("All", "All", [("All", "A", "C")]),
    "celarent": ("No", "All", [("No", "A", "C"), ("No", "C", "A")]),
    "darii": ("All", "Some", [("Some", "A", "C"), ("Some", "C", "A")]),
}


def syllogism_dataset(n: int, seed: int = 0, moods: Sequence[str] = ("barbara", "celarent", "darii")
                      ) -> Dict[str, List[dict]]:
    """Simple syllogisms: one training document of two premises per item, one 6-way test item each.

    train: ``{"id": "syllogism-<i>", "text": "<Q1> <b> are <c>. <Q2> <a> are <b>."}``
    test: ``{"id", "source_id", "choices": the 6 sentences "<All|Some|No> <x> are <y>." for
    (x, y) in {(a, c), (c, a)} in a seeded order, "answer": index of the canonical conclusion,
    "correct": indices of every choice that follows, "mood", "kind": "syllogism"}``.
    Moods cycle through ``moods`` (any of "barbara", "celarent", "darii").
    """
    n = _check_count("n", n)
    moods = list(moods)
    if not moods or any(m not in _MOODS for m in moods):
        raise ValueError(f"moods must be a non-empty subset of {sorted(_MOODS)}, got {moods!r}")
    rng = random.Random(seed)
    words = nonsense_words(3 * n, f"syllogism-{seed}")
    train, test = [], []
    for i in range(n):
        a, b, c = words[3 * i: 3 * i + 3]
        mood = moods[i % len(moods)]
        major, minor, follows = _MOODS[mood]
        doc_id = f"syllogism-{i}"
        train.append({"id": doc_id, "text": f"{major} {b} are {c}. {minor} {a} are {b}."})
        terms = {"A": a, "C": c}
        choices = [f"{q} {x} are {y}." for q in ("All", "Some", "No") for x, y in ((a, c), (c, a))]
        rng.shuffle(choices)
        valid = [f"{q} {terms[s]} are {terms[p]}." for q, s, p in follows]
        test.append({"id": f"{doc_id}-test", "source_id": doc_id, "choices": choices,
                     "answer": choices.index(valid[0]), "correct": sorted(choices.index(v) for v in valid),
                     "mood": mood, "kind": "syllogism"})
    return {"train": train, "test": test}
