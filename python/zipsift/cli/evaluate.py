"""`zipsift eval`: compare selections by how well cheap models trained on each predict held-out
target data, before spending GPU hours on fine-tuning."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Dict, List

from .. import __version__
from ..evaluate import DEFAULT_MAX_DICT_BYTES, PROXIES, SelectionEvaluator
from ..io import ReadStats, iter_records, read_texts
from .common import (Progress, UsageError, add_execution_arguments, check_outputs, positive_int, progress_enabled,
                     resolved_threads, write_report)

DESCRIPTION = """\
For each selection (a JSONL file, e.g. the output of `zipsift select`), fit cheap models on its
texts and report the held-out target texts' bits per byte under each (lower is better):
  zstd   zstd -19 with the selection as a raw-content dictionary (first --max-dict-bytes bytes)
  ngram  a smoothed hashed byte n-gram language model (order --ngram-order, Dirichlet prior
         weight --ngram-beta)
Compare selections of the same size from the same pool: a selection that says more about the
target compresses and predicts it better.
"""

EPILOG = """\
example:
  zipsift eval --heldout heldout.jsonl random.jsonl dsir.jsonl zipfit.jsonl --json eval.json
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
    proxy.add_argument("--proxies", nargs="+", choices=PROXIES, default=list(PROXIES),
                       help="which proxies to report (default: all)")
    proxy.add_argument("--zstd-level", type=positive_int, default=19, help="zstd level, 1-22 (default 19)")
    proxy.add_argument("--max-dict-bytes", type=positive_int, default=DEFAULT_MAX_DICT_BYTES, metavar="B",
                       help=f"cap of the zstd dictionary (default {DEFAULT_MAX_DICT_BYTES}, at most 8 MiB)")
    proxy.add_argument("--ngram-order", type=positive_int, default=6,
                       help="n-gram model order: bytes of context + 1 (default 6)")
    proxy.add_argument("--ngram-beta", type=float, default=32.0,
                       help="prior weight of the shorter context in the n-gram model (default 32)")
    proxy.add_argument("--table-bits", type=positive_int, default=22,
                       help="log2 of the n-gram model's counters per table (default 22)")
    add_execution_arguments(parser)
    parser.set_defaults(run=run)


def format_table(rows: List[Dict[str, Any]], proxies) -> str:
    """Rows as an aligned text table: selection, docs, bytes, then one column per proxy."""
    headers = ["selection", "docs", "bytes"] + [f"{p}_bpb" for p in proxies]
    cells = [[str(r["selection"]), f"{r['docs']:,}", f"{r['bytes']:,}"] +
             [f"{r[f'{p}_bpb']:.4f}" for p in proxies] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    for c in cells:
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths))))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    proxies = tuple(p for p in PROXIES if p in args.proxies)
    check_outputs([("--json", args.json)], [("SEL", args.selections), ("--heldout", args.heldout)])
    heldout_stats = ReadStats()
    heldout = read_texts(args.heldout, text_field=args.text_field, on_error=args.on_error, stats=heldout_stats)
    if not heldout:
        raise UsageError(f"no usable held-out records in {' '.join(args.heldout)}")
    evaluator = SelectionEvaluator(heldout, proxies, zstd_level=args.zstd_level, max_dict_bytes=args.max_dict_bytes,
                                   ngram_order=args.ngram_order, ngram_beta=args.ngram_beta, table_bits=args.table_bits,
                                   threads=args.threads)
    rows = []
    for spec in args.selections:
        stats = ReadStats()
        records = iter_records(spec, text_field=args.text_field, on_error=args.on_error, stats=stats)
        with Progress(enabled=progress_enabled(args), label=str(spec)) as progress:
            def counted(records=records, progress=progress):
                for r in records:
                    yield r
                    progress.update(1)
            try:
                row = evaluator.evaluate(counted(), text_field=args.text_field)
            except ValueError as err:
                raise UsageError(f"{spec}: {err}") from None
        rows.append({"selection": str(spec), **row,
                     **({"records_skipped": dict(stats.skipped)} if stats.skipped else {})})
    print(format_table(rows, proxies))
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
            "threads": resolved_threads(args.threads),
            "zipsift_version": __version__,
            "seconds": round(seconds, 3),
        })
    return 0
