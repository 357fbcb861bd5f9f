"""`zipsift select dsir`: keep documents by hashed n-gram importance (DSIR, Xie et al. 2023)."""
from __future__ import annotations

import argparse

from ..dsir import CHUNK_TOKENS, DSIR, METHODS, MIN_EXAMPLE_LENGTH, NORMALIZE
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
log w (--method topk). Records are written unchanged plus a score field holding the score, in
the order of the sampling keys. Memory is bounded by B, --batch-size and --k, not by the pool.

log w is a sum over a text's n-grams and falls with length, so on whole documents it ranks the
shortest first. By default (--normalize per_token) the score is chunk_tokens * log w / tokens, the
importance of an equal-length piece as in the reference protocol's 128-word chunks (--normalize
none: plain log w), and records shorter than --min-example-length tokens (default 100, as the
data-selection package) are never selected.
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
    method.add_argument("--min-example-length", type=non_negative_int, default=MIN_EXAMPLE_LENGTH,
                        metavar="TOKENS",
                        help=f"never select records shorter than this many tokens (default {MIN_EXAMPLE_LENGTH}, "
                             f"as the data-selection package; 0 = every record)")
    method.add_argument("--normalize", choices=NORMALIZE, default="per_token",
                        help="per_token: score = chunk-tokens * log w / tokens, no length favoured (default); "
                             "none: log w, the sum over the record's n-grams (favours short records)")
    method.add_argument("--chunk-tokens", type=positive_int, default=CHUNK_TOKENS, metavar="TOKENS",
                        help=f"with --normalize per_token, the length the score is scaled to (default "
                             f"{CHUNK_TOKENS}, the reference protocol's chunk length)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def make_selector(targets):
        return DSIR(targets, ngrams=args.ngrams, buckets=args.buckets, scheme=args.scheme, threads=args.threads)

    def fit(selector, records, on_progress):
        selector.fit(records, text_field=args.text_field, max_records=args.fit_sample,
                     batch_size=args.batch_size, on_progress=on_progress)

    params = {"method": args.method, "seed": args.seed, "scheme": args.scheme, "ngrams": args.ngrams,
              "buckets": args.buckets, "fit_sample": args.fit_sample, "min_example_length": args.min_example_length,
              "normalize": args.normalize, "chunk_tokens": args.chunk_tokens}
    options = {"method": args.method, "seed": args.seed, "min_example_length": args.min_example_length,
               "normalize": args.normalize, "chunk_tokens": args.chunk_tokens}
    return run_select(args, "dsir", make_selector, params, select_options=options, fit=fit, fit_name="dsir_fit")
