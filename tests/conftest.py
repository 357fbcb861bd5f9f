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


def pytest_configure(config):
    config.addinivalue_line("markers", "memory_bound: measures process memory; skipped under ASan "
                                       "(ZIPSIFT_SANITIZED=1)")


def pytest_collection_modifyitems(config, items):
    if not SANITIZED:
        return
    skip = pytest.mark.skip(reason="measures process memory, which ASan changes (ZIPSIFT_SANITIZED=1)")
    for item in items:
        if "memory_bound" in item.keywords:
            item.add_marker(skip)
