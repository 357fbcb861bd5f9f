"""A selection cut to a token budget, in its own order, and packed into fixed-length training blocks.

Every selection a judge compares trains on the same number of tokens: documents are tokenised in
the selection's order (no special tokens added), each followed by the tokenizer's EOS token, and
the stream is cut at ``budget`` tokens (EOS separators count; the last document is cut mid-way).
A selection with fewer tokens is *short*: it is recorded as such, never padded or repeated.
"""
from __future__ import annotations

from typing import Any, Iterable, List, Optional

import numpy as np

from ..stream import record_text

__all__ = ["TokenBudget", "text_of"]


def text_of(item: Any, text_field: str, index: int) -> str:
    """A selection item (str, UTF-8 bytes, or a record with ``text_field``) as str."""
    text = record_text(item, text_field, index)
    if isinstance(text, bytes):
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"item {index}: text is not valid UTF-8 ({err}); decode it or fix the data") from None
    return text


class TokenBudget:
    """Accumulates a selection's tokens until ``budget`` is reached.

    Feed texts with ``add(texts)`` (it returns True once the budget is full; later texts are ignored
    and not tokenised), then read ``tokens`` (int64 array, at most ``budget`` long), ``docs`` (documents
    that contributed at least one token), ``docs_seen``, ``bytes`` (UTF-8 bytes of the documents
    used, the cut one counted in full) and ``short`` (the selection ran out before the budget)."""

    def __init__(self, tokenizer: Any, budget: int, eos_id: Optional[int] = None, text_field: str = "text"):
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget <= 0:
            raise ValueError(f"the token budget must be a whole number > 0, got {budget!r}")
        eos_id = tokenizer.eos_token_id if eos_id is None else eos_id
        if eos_id is None:
            raise ValueError("the tokenizer has no EOS token to separate documents; pass eos_id")
        self.tokenizer = tokenizer
        self.budget = int(budget)
        self.eos_id = int(eos_id)
        self.text_field = text_field
        self._parts: List[List[int]] = []
        self.count = 0
        self.docs = 0
        self.docs_seen = 0
        self.bytes = 0

    @property
    def full(self) -> bool:
        return self.count >= self.budget

    def add(self, texts: Iterable[Any]) -> bool:
        for item in texts:
            if self.full:
                break
            text = text_of(item, self.text_field, self.docs_seen)
            self.docs_seen += 1
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.eos_id]
            room = self.budget - self.count
            self._parts.append(ids[:room])
            self.count += min(len(ids), room)
            self.docs += 1
            self.bytes += len(text.encode("utf-8"))
        return self.full

    @property
    def short(self) -> bool:
        return not self.full

    @property
    def tokens(self) -> np.ndarray:
        """The token stream, shape (min(budget, available),), int64."""
        if not self._parts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.asarray(p, dtype=np.int64) for p in self._parts])

    def blocks(self, block_size: int) -> np.ndarray:
        """The stream as whole blocks, shape (n_blocks, block_size), int64; a final partial block is dropped
        (so ``n_blocks · block_size`` tokens are trained on, at most ``block_size − 1`` fewer than the budget)."""
        tokens = self.tokens
        n = len(tokens) // block_size
        return tokens[:n * block_size].reshape(n, block_size)
