"""`zipsift select dsir`: keep documents by hashed n-gram importance (DSIR, Xie et al. 2023)."""
from __future__ import annotations

import argparse

from ..dsir import DSIR, METHODS
from ..ngram import SCHEMES
from .common import add_select_arguments, non_negative_int, positive_int, run_select

DESCRIPTION = """\
Weigh every source record by its DSIR log importance
  log w(x) = sum over buckets b of h(x)_b * (log(p_T[b] + 1e-8) - log(p_R[b] + 1e-8)),
where h(x) counts x's lowercased word/punctuation 1..n-grams hashed into B buckets, p_T is fitted on
the targets and p_R on the pool. Two streaming passes over --source: the first fits p_R (on the
first --fit-sample records, or all), the second scores and keeps --k records (or --budget-bytes)
by Gumbel top-k, i.e. sampling without replacement with probability proportional to w (--method
gumbel, the default; the noise depends only on --seed and the record's position), or the largest
log w (--method topk). Records are written unchanged plus a score field holding log w, in the
order of the sampling keys. Memory is bounded by B, --batch-size and --k, not by the pool.
"""

EPILOG = """\
example:
  zipsift select dsir --target tests/data/quickstart/targets.jsonl \\
      --source tests/data/quickstart/pool.jsonl --k 20 --out selected.jsonl --report report.json
"""


def register(select_commands: argparse._SubParsersAction) -> None:
    parser = select_commands.add_parser(
        "dsir", help="DSIR: importance resampling over hashed n-grams",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_select_arguments(parser, score_field="dsir_score")
    method = parser.add_argument_group("DSIR")
    method.add_argument("--method", choices=METHODS, default="gumbel",
                        help="gumbel: sample without replacement, proportional to importance (default); "
                             "topk: the largest importance")
    method.add_argument("--seed", type=int, default=0, help="seed of the Gumbel noise (default 0)")
    method.add_argument("--scheme", choices=SCHEMES, default="fast",
                        help="fast: our tokenizer and hash (default); compat: exactly the data-selection "
                             "package (wordpunct tokens, sha256 buckets)")
    method.add_argument("--ngrams", type=positive_int, default=2, help="largest n of the n-grams (default 2)")
    method.add_argument("--buckets", type=positive_int, default=10000, help="hash buckets B (default 10000)")
    method.add_argument("--fit-sample", type=positive_int, metavar="N",
                        help="fit p_R on the first N source records only (default: all of them)")
    method.add_argument("--min-example-length", type=non_negative_int, default=0, metavar="TOKENS",
                        help="never select records shorter than this many tokens (default 0; the "
                             "data-selection package uses 100)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def make_selector(targets):
        return DSIR(targets, ngrams=args.ngrams, buckets=args.buckets, scheme=args.scheme, threads=args.threads)

    def fit(selector, records, on_progress):
        selector.fit(records, text_field=args.text_field, max_records=args.fit_sample,
                     batch_size=args.batch_size, on_progress=on_progress)

    params = {"method": args.method, "seed": args.seed, "scheme": args.scheme, "ngrams": args.ngrams,
              "buckets": args.buckets, "fit_sample": args.fit_sample, "min_example_length": args.min_example_length}
    options = {"method": args.method, "seed": args.seed, "min_example_length": args.min_example_length}
    return run_select(args, "dsir", make_selector, params, select_options=options, fit=fit, fit_name="dsir_fit")
