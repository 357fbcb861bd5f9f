"""Held-out cross-entropy of a causal LM: each text scored on its own, teacher-forced.

Rule per text: its tokens (no special tokens added) follow one EOS token, the same document
boundary the judge trains with, so every token of the text is predicted:
``nats(text) = −Σ_t ln p(w_t | EOS, w_<t)``. A text longer than ``context − 1`` tokens is truncated to
its first ``context − 1`` tokens, and only the bytes those tokens cover (by the tokenizer's offsets)
count towards bits per byte. Over all held-out texts::

    ce_nats_per_token = Σ nats / Σ predicted tokens
    bits_per_byte     = Σ nats / ln 2 / Σ UTF-8 bytes covered
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional

import numpy as np

from .packing import text_of

__all__ = ["HeldOut", "heldout_cross_entropy"]


@dataclass
class HeldOut:
    """Held-out texts tokenised once for a model: ``ids[i]`` (int64, EOS first) and ``bytes[i]`` covered."""
    ids: List[np.ndarray]
    bytes: List[int]
    truncated: int
    context: int

    @classmethod
    def from_texts(cls, texts: Iterable[Any], tokenizer: Any, context: int, eos_id: Optional[int] = None,
                   text_field: str = "text") -> "HeldOut":
        if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 2:
            raise ValueError(f"the held-out context must be at least 2 tokens, got {context!r}")
        eos_id = tokenizer.eos_token_id if eos_id is None else eos_id
        ids, sizes, truncated = [], [], 0
        for i, item in enumerate(texts):
            text = text_of(item, text_field, i)
            if not text:
                continue  # nothing to predict; contributes no tokens and no bytes
            enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            tokens = enc["input_ids"]
            size = len(text.encode("utf-8"))
            if len(tokens) > context - 1:
                truncated += 1
                tokens = tokens[:context - 1]
                size = len(text[:enc["offset_mapping"][context - 2][1]].encode("utf-8"))
            ids.append(np.asarray([eos_id] + tokens, dtype=np.int64))
            sizes.append(size)
        if not ids:
            raise ValueError("the held-out set is empty (or all its texts are empty): give held-out target texts "
                             "to measure cross-entropy on")
        return cls(ids, sizes, truncated, int(context))

    @property
    def tokens(self) -> int:
        """Predicted tokens in all (EOS starts excluded)."""
        return sum(len(x) - 1 for x in self.ids)

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes)


def heldout_cross_entropy(model: Any, heldout: HeldOut, on_text: Optional[Callable[[int], None]] = None) -> dict:
    """Teacher-forced cross-entropy of ``heldout`` under ``model`` (one forward pass per text, no padding).

    Returns ``{"ce_nats_per_token", "bits_per_byte", "nats", "tokens", "bytes", "docs", "truncated",
    "nats_per_text"}``; nats are summed in float64 from float32 log-softmax. ``nats_per_text`` lists
    each text's nats in order (its tokens are ``len(heldout.ids[i]) - 1``), so a study can bootstrap
    over held-out items."""
    import torch

    was_training = model.training
    model.eval()
    total = 0.0
    per_text = []
    try:
        with torch.inference_mode():
            for ids in heldout.ids:
                x = torch.from_numpy(ids).unsqueeze(0)
                logits = model(input_ids=x, use_cache=False).logits[0, :-1].float()
                logp = torch.log_softmax(logits, dim=-1)
                nats = -float(logp.gather(1, x[0, 1:].unsqueeze(1)).double().sum())
                per_text.append(nats)
                total += nats
                if on_text is not None:
                    on_text(1)
    finally:
        model.train(was_training)
    tokens, size = heldout.tokens, heldout.total_bytes
    return {"ce_nats_per_token": total / tokens, "bits_per_byte": total / math.log(2) / size, "nats": total,
            "tokens": tokens, "bytes": size, "docs": len(heldout.ids), "truncated": heldout.truncated,
            "nats_per_text": per_text}
