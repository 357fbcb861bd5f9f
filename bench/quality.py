"""Selection quality at equal byte budgets: does a selection help a model on held-out target text?

Two settings, run by hand (not in CI):

    python bench/quality.py OUT_DIR --quick          # domain selection, one task: a table in ~45 min on 2 cores
    python bench/quality.py OUT_DIR --setting domains [--domains vim,tcl,cmake] [--taus 50,100,200] \
        [--tau-domain vim] [--methods ...] [--seeds 0,1,2] [--lm-tokens 8192] [--budget-bytes 40000]
    python bench/quality.py OUT_DIR --setting within [--budget-bytes 120000] [--proxies zstd,ngram,lm] \
        [--pools mixed,rich] [--tasks humaneval,pydoc] [--methods ...] [--seeds 0,1,2]
    python bench/quality.py OUT_DIR --table-only     # the tables of OUT_DIR/quality.json again

domains  (where the seed papers claim selection helps) one pool, ~8 MB, of seven majority sources
         (Python, C headers, Perl, shell, docs prose, man-page troff, JavaScript) and six candidate
         target domains at 1-3% each (Tcl, CMake, Vim script, SQL, m4, Maven POM) from Debian
         packages; for a target domain, targets and held-out items come from different files, neither
         in the pool (bench/quality_corpus.py). Every selector and ``random`` is judged with the same
         training-order seeds (paired), the difference to random gets a bootstrap CI over held-out
         items (bench/quality_stats.py), and each selection's recall of the domain (share of its bytes)
         is reported beside the judge's verdict. tau = pool / budget is swept by subsampling the pool.
within   (the earlier study) HumanEval or pydoc prose as the task inside a code pool; the proxies
         and the LM judge as below.

For each pool x task (bench/quality_corpus.py) every method selects from the pool under the same
byte budget, using only the task's target items; each selection is then judged on the task's
held-out items by the proxies of ``zipsift.evaluate.SelectionEvaluator``:
  zstd   bits per byte of the held-out text, zstd-19 with the selection as a dictionary;
  ngram  bits per byte under a byte 6-gram model fitted on the selection;
  lm     SmolLM2-135M-Instruct fine-tuned on the selection (cut to the same token budget for every
         selection, same seed and hyperparameters), then cross-entropy on the held-out text.
Randomised methods run with every seed; the spread of ``random`` over its seeds is the noise level a
difference must beat. Results go to OUT_DIR/quality.json and a Markdown table on stdout. The
compression proxies (zstd, ngram) are proxies; the LM judge is the referee.
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
import quality_stats  # noqa: E402

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


# --- The domain-selection setting ---------------------------------------------------------------

DOMAIN_METHODS = ("random", "domain_oracle", "dsir", "dsir_sum", "dsir_sum_min100", "zipfit", "gain",
                  "gain_per_byte", "gain_reference")
# The documented subset: one task (Vim script, base CE 2.94), five selections x three paired seeds,
# a 4,096-token fine-tune and held-out items cut to 256 tokens: 15 fine-tunes of 2-5 min each on 2
# cores shared with other jobs (docs/quality.md), about 45 min.
QUICK = {"domains": "vim", "taus": "", "methods": "random,dsir,dsir_sum,gain,zipfit", "seeds": "0,1,2",
         "lm_tokens": 4096, "heldout_context": 256}


def domain_methods(domain: str, targets: List[str], pool: List[dict], budget: int, seed: int,
                   reference: List[str]) -> Dict[str, Callable[[], Selection]]:
    """Each selector of the domain setting as a thunk: name -> () -> texts, best first."""
    texts = [r["text"] for r in pool]

    def random_sel() -> Selection:
        return _by_score(pool, _random_scores(len(pool), seed), budget)

    def domain_oracle() -> Selection:
        keys = _random_scores(len(pool), seed)
        keys[[r["source"] != domain for r in pool]] = -1.0
        return _by_score(pool, keys, budget)

    def dsir(**options) -> Callable[[], Selection]:
        def run() -> Selection:
            selector = zipsift.DSIR(targets)
            selector.fit(texts)
            return [item.record["text"] for item in selector.select(pool, budget_bytes=budget, seed=seed, **options)]
        return run

    def gain(**options) -> Callable[[], Selection]:
        return lambda: _by_score(pool, zipsift.CompressionGain(targets, **options).scores(texts), budget)

    return {"random": random_sel, "domain_oracle": domain_oracle,
            "dsir": dsir(),  # defaults: per token, >= 100 tokens
            "dsir_sum": dsir(normalize="none", min_example_length=0),  # the earlier default
            "dsir_sum_min100": dsir(normalize="none"),
            "zipfit": lambda: _by_score(pool, zipsift.ZipFit(targets).scores(texts), budget),
            "gain": gain(),  # default length prior 4096 bytes
            "gain_per_byte": gain(length_prior=0),
            "gain_reference": gain(reference=reference)}


def _subsample(pool: List[dict], size: int) -> List[dict]:
    """The first records of a fixed shuffle of the pool until ``size`` bytes, back in pool order:
    smaller pools are nested in larger ones and keep each source's share."""
    order = np.random.default_rng(1).permutation(len(pool))
    kept, total = [], 0
    for i in order:
        if total >= size:
            break
        kept.append(i)
        total += len(pool[i]["text"].encode("utf-8"))
    return [pool[i] for i in sorted(kept)]


def run_domains(args: argparse.Namespace) -> dict:
    import resource

    out = Path(args.out_dir)
    data = out / "data"
    if not (data / "pool_domains.jsonl").exists():
        print("building the domain pool and tasks ...", file=sys.stderr)
        (out / "corpus_domains.json").write_text(json.dumps(quality_corpus.build_domains(str(data)), indent=2))
    results_path = out / "quality.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"rows": []}
    done = {(r.get("setting"), r["task"], r.get("tau"), r["method"], r["seed"]) for r in results["rows"]}
    seeds = [int(s) for s in args.seeds.split(",")]
    full = _read_jsonl(data / "pool_domains.jsonl")
    full_bytes = sum(len(r["text"].encode("utf-8")) for r in full)
    judge = None
    if not args.no_lm:
        from zipsift.lm import FineTuneJudge

        judge = FineTuneJudge(tokens=args.lm_tokens, lr=args.lm_lr, seed=0, threads=args.threads,
                              heldout_context=args.heldout_context, bf16=args.bf16)
        results["lm_hyperparameters"] = judge.hyperparameters
    results["budget_bytes"] = args.budget_bytes
    # (domain, tau or None for the full pool)
    jobs = [(d, None) for d in args.domains.split(",") if d]
    jobs += [(args.tau_domain, int(t)) for t in args.taus.split(",") if t]
    for domain, tau in jobs:
        pool = full if tau is None else _subsample(full, tau * args.budget_bytes)
        pool_bytes = sum(len(r["text"].encode("utf-8")) for r in pool)
        tau_value = tau if tau is not None else round(full_bytes / args.budget_bytes)
        targets = [r["text"] for r in _read_jsonl(data / f"{domain}_target.jsonl")]
        heldout_texts = [r["text"] for r in _read_jsonl(data / f"{domain}_heldout.jsonl")]
        heldout = judge.prepare_heldout(heldout_texts) if judge is not None else None
        order = np.random.default_rng(0).permutation(len(pool))
        reference = _sample(pool, order, sum(len(t.encode("utf-8")) for t in targets))
        if judge is not None:
            base = judge.baseline(heldout)
            results.setdefault("lm_baseline", {})[domain] = {k: v for k, v in base.items() if k != "nats_per_text"}
        share = sum(len(r["text"].encode()) for r in pool if r["source"] == domain) / pool_bytes
        results.setdefault("tasks", {})[f"{domain}/tau{tau_value}"] = {
            "pool_records": len(pool), "pool_bytes": pool_bytes, "domain_share": round(share, 4),
            "targets": len(targets), "heldout_items": len(heldout_texts),
            **({"heldout_tokens": heldout.tokens} if heldout is not None else {})}
        for seed in seeds:
            for name in args.methods.split(","):
                key = ("domains" if judge is not None else "recall", domain, tau_value, name, seed)
                if key in done:
                    continue
                t0 = time.perf_counter()
                selection = domain_methods(domain, targets, pool, args.budget_bytes, seed, reference)[name]()
                select_s = time.perf_counter() - t0
                sizes = {t: len(t.encode("utf-8")) for t in selection}
                domain_texts = {r["text"] for r in pool if r["source"] == domain}
                total = sum(sizes.values())
                row = {"setting": key[0], "task": domain, "tau": tau_value, "method": name, "seed": seed,
                       "select_s": round(select_s, 2), "docs": len(selection), "bytes": total,
                       "recall": round(sum(s for t, s in sizes.items() if t in domain_texts) / max(total, 1), 4),
                       "stubs_under_100_bytes": sum(s < 100 for s in sizes.values()),
                       "load": os.getloadavg()[0]}
                if judge is None:
                    results["rows"].append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
                    continue
                judge.seed = seed
                lm = judge.evaluate(selection, heldout, label=f"{domain} {name} seed {seed}")
                row.update({
                       "lm_ce": lm["ce_nats_per_token"], "lm_bpb": lm["bits_per_byte"],
                       "lm_nats": lm["heldout_nats_per_text"], "lm_tokens": [len(x) - 1 for x in heldout.ids],
                       "lm_train_tokens": lm["train_tokens"], "lm_short": lm["short"],
                       "lm_seconds_train": lm["seconds_train"], "lm_seconds_heldout": lm["seconds_heldout"],
                       "lm_train_tokens_per_s": round(lm["train_tokens"] / lm["seconds_train"], 1),
                       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024})
                results["rows"].append(row)
                print(json.dumps({k: v for k, v in row.items() if k not in ("lm_nats", "lm_tokens")}),
                      file=sys.stderr, flush=True)
                tmp = results_path.with_suffix(".tmp")
                tmp.write_text(json.dumps(results, indent=1))
                os.replace(tmp, results_path)
    if judge is None:
        tmp = results_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        os.replace(tmp, results_path)
    return results


def recall_table(results: dict) -> str:
    """Share of each selection's bytes from the target domain (mean over seeds), selectors by task."""
    rows = [r for r in results["rows"] if r.get("setting") == "recall"]
    tasks = list(dict.fromkeys((r["task"], r["tau"]) for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["| selector | " + " | ".join(f"{t} τ={tau}" for t, tau in tasks) + " |", "|---|" + "---|" * len(tasks)]
    for m in methods:
        cells = []
        for t in tasks:
            vals = [r for r in rows if r["method"] == m and (r["task"], r["tau"]) == t]
            cells.append(f"{np.mean([r['recall'] for r in vals]):.2f} ({np.mean([r['docs'] for r in vals]):.0f})"
                         if vals else "")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def domain_table(results: dict) -> str:
    rows = [r for r in results["rows"] if r.get("setting") == "domains"]
    baselines = {d: b["ce_nats_per_token"] for d, b in results.get("lm_baseline", {}).items() if isinstance(b, dict)}
    return quality_stats.markdown(quality_stats.summarise(rows), baselines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--setting", choices=("domains", "within"), default="domains")
    parser.add_argument("--quick", action="store_true",
                        help="the documented subset: domain setting, Vim script, random + 4 selectors x 3 "
                             "paired seeds, 4,096 training tokens, held-out items cut to 256 tokens")
    parser.add_argument("--domains", default="vim,tcl,cmake")
    parser.add_argument("--taus", default="", help="tau = pool/budget values to sweep on --tau-domain (e.g. 50,100)")
    parser.add_argument("--tau-domain", default="vim")
    parser.add_argument("--heldout-context", type=int, default=512)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--no-lm", action="store_true",
                        help="domains: selections and their recall of the target domain only, no judge (seconds)")
    parser.add_argument("--budget-bytes", type=int, default=None,
                        help="default 40,000 (domains) or 120,000 (within)")
    parser.add_argument("--proxies", default="zstd,ngram,lm")
    parser.add_argument("--pools", default="mixed,rich")
    parser.add_argument("--tasks", default="humaneval,pydoc")
    parser.add_argument("--methods", default=None)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--all-seeds", default="random,domain_oracle,dsir",
                        help="the randomised methods run with every seed (the others with the first)")
    parser.add_argument("--lm-tokens", type=int, default=None, help="default 8,192 (domains) or 10,000 (within)")
    parser.add_argument("--lm-lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--table-only", action="store_true", help="print the table of OUT_DIR/quality.json")
    args = parser.parse_args()
    if args.quick:
        args.setting = "domains"
        for k, v in QUICK.items():
            setattr(args, k, v)
    domains = args.setting == "domains"
    args.budget_bytes = args.budget_bytes or (40_000 if domains else 120_000)
    args.lm_tokens = args.lm_tokens or (8192 if domains else 10_000)
    args.methods = args.methods or (",".join(DOMAIN_METHODS) if domains else
                                    "target_items,random,domain_oracle,dsir,zipfit,zipfit_length_fair,gain,"
                                    "gain_min_length,gain_reference")
    if args.table_only:
        results = json.loads((Path(args.out_dir) / "quality.json").read_text())
    elif domains:
        results = run_domains(args)
    else:
        results = run(args)
    if any(r.get("setting") == "recall" for r in results["rows"]):
        print(recall_table(results))
    if any(r.get("setting") == "domains" for r in results["rows"]):
        print(domain_table(results))
    if any(r.get("setting") not in ("domains", "recall") for r in results["rows"]):
        print(table({**results, "rows": [r for r in results["rows"] if r.get("setting") not in ("domains", "recall")]}))


if __name__ == "__main__":
    main()
