"""A mixed code-and-prose corpus built from files every machine with Python has, for the DSIR and
eval benchmarks and the DSIR, ZIP-FIT and random comparison of docs/quality.md.

pool.jsonl     ~12.5 MB in chunks of at most ~2 KB: CPython's stdlib (.py), C headers from
               /usr/include, /usr/share/doc text, /usr/share/common-licenses; each record has
               {"text", "source": "stdlib"|"include"|"doc"|"license", "path"}
target.jsonl   Python functions (from numpy's sources, which are not in the pool), even positions
heldout.jsonl  the odd positions: held-out target examples for `zipsift eval`

Run: python bench/corpus.py OUT_DIR [--pool-mb 12.5]
"""
from __future__ import annotations

import argparse
import ast
import glob
import json
import os
import sysconfig
from pathlib import Path
from typing import Iterator, List, Tuple

CHUNK = 2048


def _chunks(text: str, size: int = CHUNK) -> Iterator[str]:
    """Consecutive runs of whole lines of at most ~size characters (a longer line stands alone)."""
    buf: List[str] = []
    n = 0
    for line in text.splitlines(keepends=True):
        if n + len(line) > size and buf:
            yield "".join(buf)
            buf, n = [], 0
        buf.append(line)
        n += len(line)
    if buf:
        yield "".join(buf)


def _read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _sources() -> List[Tuple[str, List[str], float]]:
    stdlib = sysconfig.get_paths()["stdlib"]
    py = sorted(p for p in glob.glob(f"{stdlib}/**/*.py", recursive=True)
                if "site-packages" not in p and "/test" not in p and "/idlelib/" not in p)
    headers = sorted(glob.glob("/usr/include/**/*.h", recursive=True))
    docs = sorted(p for p in glob.glob("/usr/share/doc/**/*", recursive=True)
                  if os.path.isfile(p) and not p.endswith((".gz", ".html", ".png", ".svg", ".js", ".css")))
    licenses = sorted(p for p in glob.glob("/usr/share/common-licenses/*") if os.path.isfile(p))
    # (source, files, share of the pool)
    return [("stdlib", py, 0.40), ("include", headers, 0.32), ("doc", docs, 0.25), ("license", licenses, 0.03)]


def _spread(files: List[str], limit: int) -> Iterator[Tuple[str, str]]:
    """Chunks from files taken evenly across the sorted list, until ``limit`` characters."""
    step = max(1, len(files) // 400)
    order = [files[i] for r in range(step) for i in range(r, len(files), step)]
    total = 0
    for path in order:
        for chunk in _chunks(_read(path)):
            if not chunk.strip():
                continue
            yield path, chunk
            total += len(chunk)
            if total >= limit:
                return


def python_functions(limit: int = 1600) -> List[str]:
    """Top-level and method definitions from numpy's sources (not tests), at most ~4 KB each."""
    import numpy

    root = os.path.dirname(numpy.__file__)
    out: List[str] = []
    for path in sorted(glob.glob(f"{root}/**/*.py", recursive=True)):
        if "/tests/" in path:
            continue
        source = _read(path)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                text = ast.get_source_segment(source, node)
                if text and 200 <= len(text) <= 4096:
                    out.append(text)
                    if len(out) >= limit:
                        return out
    return out


def interleave(streams: List[Tuple[str, Iterator[Tuple[str, str]]]]) -> List[dict]:
    """One record from each (source, iterator of (path, text)) in turn until all are spent, as a
    crawl would mix them: {"text", "source", "path"}."""
    records = []
    streams = list(streams)
    while streams:
        for entry in list(streams):
            name, it = entry
            item = next(it, None)
            if item is None:
                streams.remove(entry)
                continue
            records.append({"text": item[1], "source": name, "path": item[0]})
    return records


def build(out_dir: str, pool_mb: float = 12.5, functions: int = 1600) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    budget = pool_mb * 1e6
    sizes = {}
    # Interleave the sources so the pool is mixed, as a crawl would be.
    streams = [(name, _spread(files, int(budget * share))) for name, files, share in _sources()]
    records = interleave(streams)
    for r in records:
        sizes[r["source"]] = sizes.get(r["source"], 0) + len(r["text"].encode("utf-8"))
    with open(out / "pool.jsonl", "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    funcs = python_functions(functions)
    for name, part in (("target", funcs[0::2]), ("heldout", funcs[1::2])):
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for text in part:
                fh.write(json.dumps({"text": text}) + "\n")
    return {"pool_records": len(records), "pool_bytes": sizes, "targets": len(funcs[0::2]),
            "heldout": len(funcs[1::2])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--pool-mb", type=float, default=12.5)
    parser.add_argument("--functions", type=int, default=1600)
    args = parser.parse_args()
    print(json.dumps(build(args.out_dir, args.pool_mb, args.functions), indent=2))
