"""Selection quality at equal byte budgets: does a selection help a model on held-out target text?

Run by hand (minutes to an hour; not in CI):

    python bench/quality.py OUT_DIR [--budget-bytes 120000] [--proxies zstd,ngram,lm] \
        [--pools mixed,rich] [--tasks humaneval,pydoc] [--methods ...] [--seeds 0,1,2]

For each pool x task (bench/quality_corpus.py) every method selects from the pool under the same
byte budget, using only the task's target items; each selection is then judged on the task's
held-out items by the proxies of ``zipsift.evaluate.SelectionEvaluator``:
  zstd   bits per byte of the held-out text, zstd-19 with the selection as a dictionary;
  ngram  bits per byte under a byte 6-gram model fitted on the selection;
  lm     SmolLM2-135M-Instruct fine-tuned on the selection (cut to the same token budget for every
         selection, same seed and hyperparameters), then cross-entropy on the held-out text.
Randomised methods run with every seed; the spread of ``random`` over its seeds is the noise level a
difference must beat. Results go to OUT_DIR/quality.json and a Markdown table on stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_corpus  # noqa: E402

import zipsift  # noqa: E402
from zipsift.stream import TopK  # noqa: E402

Selection = List[str]
MIN_LENGTH = 1024  # bytes, for gain_min_length
DOMAIN = {"humaneval": ("python", "python_function"), "pydoc": ("doc", "python_package_doc")}


def _read_jsonl(path: Path) -> List[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _by_score(pool: List[dict], scores: np.ndarray, budget: int) -> Selection:
    """The pool walked best first (ties by pool order) under the byte budget, zipsift's own rule."""
    top = TopK(budget_bytes=budget)
    top.offer(np.asarray(scores, dtype=np.float64), pool, [len(r["text"].encode("utf-8")) for r in pool])
    return [item.record["text"] for item in top.result()]


def _random_scores(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(n)


def _sample(pool: List[dict], order: np.ndarray, size: int) -> List[str]:
    """Texts of the pool in ``order`` until ``size`` bytes are taken."""
    out, total = [], 0
    for i in order:
        if total >= size:
            break
        out.append(pool[i]["text"])
        total += len(pool[i]["text"].encode("utf-8"))
    return out


def methods(task: str, targets: List[str], pool: List[dict], budget: int, seed: int,
            reference: List[str], length_sample: List[str]) -> Dict[str, Callable[[], Selection]]:
    """Each method's selection as a thunk: name -> () -> texts in the selection's own order."""
    texts = [r["text"] for r in pool]

    def random_sel() -> Selection:
        return _by_score(pool, _random_scores(len(pool), seed), budget)

    def domain_oracle() -> Selection:
        # Random documents of the task's own kind (known from each record's source): what a perfect
        # domain classifier followed by random sampling would give.
        keys = _random_scores(len(pool), seed)
        keys[[r["source"] not in DOMAIN[task] for r in pool]] = -1.0
        return _by_score(pool, keys, budget)

    def dsir() -> Selection:
        selector = zipsift.DSIR(targets)
        selector.fit(texts)
        kept = selector.select(pool, budget_bytes=budget, seed=seed)
        return [item.record["text"] for item in kept]

    def zipfit() -> Selection:
        return _by_score(pool, zipsift.ZipFit(targets).scores(texts), budget)

    def zipfit_length_fair() -> Selection:
        selector = zipsift.ZipFit(targets, length_fair=True).fit_length_baseline(length_sample)
        return _by_score(pool, selector.scores(texts), budget)

    def gain() -> Selection:
        return _by_score(pool, zipsift.CompressionGain(targets).scores(texts), budget)

    def gain_min_length() -> Selection:
        # The plain gain among documents of at least 1 KB: per-byte gain still ranks tiny boilerplate
        # files (a line of imports) first; this asks whether dropping them is what an LM needs.
        scores = zipsift.CompressionGain(targets).scores(texts)
        short = np.array([len(t.encode("utf-8")) < MIN_LENGTH for t in texts])
        scores[short] = scores.min() - 1.0
        return _by_score(pool, scores, budget)

    def gain_reference() -> Selection:
        return _by_score(pool, zipsift.CompressionGain(targets, reference=reference).scores(texts), budget)

    def target_items() -> Selection:
        # Not a selector: the task's own target items, repeated in order until the budget is spent.
        # The judge's upper reference: if training on the task itself barely moves held-out loss
        # beyond the spread of random seeds, the judge cannot tell selections apart.
        out, size = [], 0
        while True:
            for t in targets:
                size += len(t.encode("utf-8"))
                if size > budget:
                    return out
                out.append(t)

    return {"target_items": target_items, "random": random_sel, "domain_oracle": domain_oracle, "dsir": dsir, "zipfit": zipfit,
            "zipfit_length_fair": zipfit_length_fair, "gain": gain, "gain_min_length": gain_min_length,
            "gain_reference": gain_reference}


def run(args: argparse.Namespace) -> dict:
    out = Path(args.out_dir)
    data = out / "data"
    if not (data / "pool_mixed.jsonl").exists():
        print("building the pools and tasks ...", file=sys.stderr)
        (out / "corpus.json").write_text(json.dumps(quality_corpus.build(str(data)), indent=2))
    proxies = [p for p in args.proxies.split(",") if p]
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict = {"budget_bytes": args.budget_bytes, "seeds": seeds, "proxies": proxies, "rows": []}
    judge = None
    if "lm" in proxies:
        from zipsift.lm import FineTuneJudge

        judge = FineTuneJudge(tokens=args.lm_tokens, lr=args.lm_lr, seed=0, threads=args.threads)
        results["lm_hyperparameters"] = judge.hyperparameters
    for pool_kind in args.pools.split(","):
        pool = _read_jsonl(data / f"pool_{pool_kind}.jsonl")
        order = np.random.default_rng(0).permutation(len(pool))
        length_sample = _sample(pool, order, 1_000_000)
        for task in args.tasks.split(","):
            targets = [r["text"] for r in _read_jsonl(data / f"{task}_target.jsonl")]
            # Moore-Lewis's reference R: a random sample of the pool as large as the targets. A
            # larger R is a stronger compressor than T, and the difference then rewards whatever R
            # cannot compress (outliers) rather than what T explains (measured: worse than random).
            reference = _sample(pool, order, sum(len(t.encode("utf-8")) for t in targets))
            heldout = [r["text"] for r in _read_jsonl(data / f"{task}_heldout.jsonl")]
            fast = [p for p in proxies if p != "lm"]
            evaluator = zipsift.SelectionEvaluator(heldout, proxies=fast, threads=args.threads) if fast else None
            if judge is not None:
                results.setdefault("lm_baseline", {})[f"{pool_kind}/{task}"] = judge.baseline(heldout)
            for name in args.methods.split(","):
                for seed in (seeds if name in args.all_seeds.split(",") else [seeds[0]]):
                    t0 = time.perf_counter()
                    selection = methods(task, targets, pool, args.budget_bytes, seed, reference, length_sample)[name]()
                    row = {"pool": pool_kind, "task": task, "method": name, "seed": seed,
                           "select_s": round(time.perf_counter() - t0, 2), "docs": len(selection),
                           "bytes": sum(len(t.encode("utf-8")) for t in selection),
                           "mean_doc_bytes": round(float(np.mean([len(t.encode()) for t in selection])), 1)}
                    if evaluator is not None:
                        row.update({k: v for k, v in evaluator.evaluate(selection).items() if k.endswith("_bpb")})
                    if judge is not None:
                        lm = judge.evaluate(selection, heldout)
                        row.update({"lm_nats_per_token": lm["ce_nats_per_token"], "lm_bpb": lm["bits_per_byte"],
                                    "lm_train_tokens": lm["train_tokens"], "lm_short": lm["short"]})
                    results["rows"].append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
                    (out / "quality.json").write_text(json.dumps(results, indent=2))
    return results


def table(results: dict) -> str:
    """A Markdown table: one line per pool/task/method, randomised methods as mean and range."""
    cols = [c for c in ("zstd_bpb", "ngram_bpb", "lm_nats_per_token", "lm_bpb") if any(c in r for r in results["rows"])]
    lines = ["| pool | task | selection | docs | " + " | ".join(cols) + " |",
             "|---|---|---|---|" + "---|" * len(cols)]
    groups: Dict[tuple, List[dict]] = {}
    for r in results["rows"]:
        groups.setdefault((r["pool"], r["task"], r["method"]), []).append(r)
    for (pool, task, method), rows in groups.items():
        cells = []
        for c in cols:
            values = [r[c] for r in rows if c in r]
            if not values:
                cells.append("")
            elif len(values) == 1:
                cells.append(f"{values[0]:.3f}")
            else:
                cells.append(f"{np.mean(values):.3f} ({min(values):.3f}–{max(values):.3f})")
        name = method + (f", {len(rows)} seeds" if len(rows) > 1 else "")
        docs = round(float(np.mean([r["docs"] for r in rows])))
        lines.append(f"| {pool} | {task} | {name} | {docs} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--budget-bytes", type=int, default=120_000)
    parser.add_argument("--proxies", default="zstd,ngram,lm")
    parser.add_argument("--pools", default="mixed,rich")
    parser.add_argument("--tasks", default="humaneval,pydoc")
    parser.add_argument("--methods", default="target_items,random,domain_oracle,dsir,zipfit,zipfit_length_fair,gain,gain_min_length,gain_reference")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--all-seeds", default="random,domain_oracle,dsir",
                        help="the randomised methods run with every seed (the others with the first)")
    parser.add_argument("--lm-tokens", type=int, default=10_000)
    parser.add_argument("--lm-lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--table-only", action="store_true", help="print the table of OUT_DIR/quality.json")
    args = parser.parse_args()
    if args.table_only:
        results = json.loads((Path(args.out_dir) / "quality.json").read_text())
    else:
        results = run(args)
    print(table(results))


if __name__ == "__main__":
    main()
