"""Benchmark fixtures and the ratio summary.

Every group has one baseline (a benchmark whose name contains "baseline"); at the end of the run,
each benchmark's fastest round is printed as a ratio against its group's baseline, with the
throughput a benchmark recorded in ``extra_info`` (pairs/s, docs/s, MB/s). The fastest round, not
the median, because these machines are shared: other jobs only ever add time, so the minimum is
the best estimate of the code's own cost (timeit's convention). Speed is compared only within one
run.
"""
from __future__ import annotations

import ast
import os
import platform
import random
import sysconfig
from pathlib import Path

import pytest

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _functions():
    out = []
    for path in sorted(STDLIB.glob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError):
            continue
        lines = source.splitlines(keepends=True)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append("".join(lines[node.lineno - 1:node.end_lineno]).encode("utf-8"))
    random.Random(0).shuffle(out)
    return out


@pytest.fixture(scope="session")
def stdlib_functions() -> list:
    """Every function of CPython's stdlib top-level modules (bytes), shuffled with seed 0."""
    return _functions()


@pytest.fixture
def record_rate(benchmark):
    """record_rate(unit, count): store count / fastest round as extra_info[unit] (e.g. "pairs/s").
    Does nothing under --benchmark-disable (a smoke run has no timings)."""

    def record(unit: str, count: float) -> None:
        if benchmark.stats is not None:
            benchmark.extra_info[unit] = count / benchmark.stats.stats.min

    return record


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} usable cores, {platform.python_implementation()} {platform.python_version()}"


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups = {}
    for bench in session.benchmarks:
        if bench.stats is None or not bench.stats.rounds:
            continue
        groups.setdefault(bench.group or "", []).append(bench)
    if not groups:
        return
    write = terminalreporter.write_line
    write("")
    write(f"zipsift ratios vs baseline (fastest round of each; {machine()})")
    for group, benches in groups.items():
        baseline = next((b for b in benches if "baseline" in b.name), None)
        write(f"  {group}")
        for b in sorted(benches, key=lambda b: b.stats.min, reverse=True):
            fastest = b.stats.min
            ratio = f"{baseline.stats.min / fastest:8.2f}x" if baseline else "         "
            extra = "  ".join(f"{k}={v:,.0f}" if isinstance(v, (int, float)) else f"{k}={v}"
                              for k, v in b.extra_info.items())
            write(f"    {b.name:<58} {fastest * 1e3:10.2f} ms {ratio}  {extra}")
