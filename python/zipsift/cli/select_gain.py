"""`zipsift select gain`: keep the documents that compress best with the targets as a dictionary."""
from __future__ import annotations

import argparse

from ..gain import COMBINE_RULES, LENGTH_PRIOR, CompressionGain
from ..io import ReadStats, read_texts
from ..params import INT64_MAX
from .common import (UsageError, add_select_arguments, check_outputs, native_int, non_negative_int, positive_int,
                     run_select, whole_number)

DESCRIPTION = """\
Rank every source record by its compression gain, the bits per byte it saves when zstd knows the
targets:
  gain(x) = 8 * (C(x) - C(x | T)) / (|x| + P)                 (no reference)
  gain(x) = 8 * (C(x | R) - C(x | T)) / (|x| + P)             (--reference or --reference-sample)
where C(x) is the zstd frame size of x at --level, C(x | T) the size of x compressed with the
targets as a raw-content zstd dictionary (targets beyond --dict-bytes are split into several
dictionaries; C(x | T) is the mean size over them, or the smallest with --combine min), |x| the
UTF-8 length of x, P the --length-prior (default 4096 bytes of zero gain, so tiny stub documents
do not rank first; 0 = plain bits per byte), and R a sample of the pool: the compression form of Moore-Lewis selection,
which discounts what any pool document would explain. Writes the best records, unchanged plus a
score field, in descending score. Memory is bounded by --k (or --budget-bytes), not by the pool.
"""

EPILOG = """\
example:
  zipsift select gain --target tests/data/quickstart/targets.jsonl \\
      --source tests/data/quickstart/pool.jsonl --reference-sample 40 --k 20 --out selected.jsonl
"""


def register(select_commands: argparse._SubParsersAction) -> None:
    parser = select_commands.add_parser(
        "gain", help="compression gain: rank by bits saved per byte with the targets as a zstd dictionary",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_select_arguments(parser, score_field="gain_score")
    method = parser.add_argument_group("compression gain")
    method.add_argument("--level", type=native_int, default=3, help="zstd level (default 3)")
    method.add_argument("--dict-bytes", type=whole_number(8, INT64_MAX), metavar="BYTES",
                        help="largest dictionary (default: the window of the level, 2 MiB at level 3)")
    method.add_argument("--combine", choices=COMBINE_RULES, default="mean",
                        help="how sizes over several dictionaries combine: mean (default) or min")
    method.add_argument("--length-prior", type=non_negative_int, default=LENGTH_PRIOR, metavar="BYTES",
                        help=f"bytes of zero gain added to every record's length, so that tiny records "
                             f"do not win on per-byte gain (default {LENGTH_PRIOR}; 0 = bits per byte)")
    ref = method.add_mutually_exclusive_group()
    ref.add_argument("--reference", nargs="+", metavar="R",
                     help="a sample of the pool (files, directories or globs, read like --source) for the "
                          "Moore-Lewis form")
    ref.add_argument("--reference-sample", type=positive_int, metavar="N",
                     help="use a seeded random sample of N source records as the reference sample (a first "
                          "pass draws it; the same sample with --engine ray)")
    method.add_argument("--reference-seed", type=int, default=0, metavar="S",
                        help="seed of the --reference-sample draw (default 0)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The reference is read here, before run_select checks its own inputs: check it first.
    check_outputs([("--out", args.out), ("--report", args.report)],
                  [("--source", args.source), ("--target", args.target), ("--reference", args.reference)])
    reference = None
    reference_info = None
    if args.reference:
        stats = ReadStats()
        reference = read_texts(args.reference, text_field=args.text_field, on_error=args.on_error, stats=stats)
        if not reference:
            raise UsageError(f"no usable reference records in {' '.join(args.reference)}")
        reference_info = {"files": args.reference, **stats.as_dict()}
    elif args.reference_sample:
        reference_info = {"random_source_records": args.reference_sample, "seed": args.reference_seed}

    params = {"codec": "zstd", "level": args.level, "dict_bytes": args.dict_bytes, "combine": args.combine,
              "length_prior": args.length_prior,
              "form": "moore_lewis" if reference_info else "plain", "reference": reference_info}

    # The report lists the dictionaries actually built (params is read when the report is written).
    def make_selector(targets):
        selector = CompressionGain(targets, reference=reference, level=args.level, threads=args.threads,
                                   dict_bytes=args.dict_bytes, combine=args.combine,
                                   length_prior=args.length_prior)
        params["target_dictionary_bytes"] = selector.target_dictionaries
        params["reference_dictionary_bytes"] = selector.reference_dictionaries
        return selector

    def fit(selector, records, on_progress):
        # records: the seeded sample the engine drew (zipsift.sample)
        selector.fit(records, text_field=args.text_field, batch_size=args.batch_size, on_progress=on_progress)
        params["reference_dictionary_bytes"] = selector.reference_dictionaries
        reference_info["records"] = selector.n_reference
    return run_select(args, "gain", make_selector, params, fit=fit if args.reference_sample else None,
                      fit_name="reference_sample")
