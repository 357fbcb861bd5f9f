"""`zipsift select zipfit`: keep the documents most aligned with a target set by compression."""
from __future__ import annotations

import argparse

from ..zipfit import ZipFit
from .common import add_select_arguments, positive_int, run_select

DESCRIPTION = """\
Rank every source record by ZIP-FIT alignment with the targets,
  alignment(x, T) = 1 - mean over y in T of NCD(x, y),
  NCD(x, y) = (C(x+y) - min(C(x), C(y))) / max(C(x), C(y)),
where C is the compressed size (gzip level 9 by default, exactly CPython's gzip.compress), and
write the best records, unchanged plus a score field, in descending score. Memory is bounded by
--k (or --budget-bytes), not by the size of the pool.

Exact alignment prefers short documents (1 - NCD <= min(C(x), C(y)) / max(C(x), C(y))). With
--length-fair the score is alignment(x, T) - a(ln |x|), where a is the mean alignment of pool
documents of the same length, fitted by a first pass on the first --length-sample source records
(equal-count length bins, linear interpolation in ln length).
"""

EPILOG = """\
example:
  zipsift select zipfit --target tests/data/quickstart/targets.jsonl \\
      --source tests/data/quickstart/pool.jsonl --k 20 --out selected.jsonl --report report.json
"""


def register(select_commands: argparse._SubParsersAction) -> None:
    parser = select_commands.add_parser(
        "zipfit", help="ZIP-FIT: rank by compression alignment with a target set",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_select_arguments(parser, score_field="zipfit_score")
    method = parser.add_argument_group("ZIP-FIT")
    method.add_argument("--codec", default="gzip",
                        help="gzip (default), zlib, zstd, or the reference's other codecs lz4 (its default), "
                             "brotli, lzma (through their Python packages); see `zipsift codecs`")
    method.add_argument("--level", type=int, default=None,
                        help="compression level (default: 9 for gzip/zlib/zstd, 0 for lz4, 11 for brotli, 6 for "
                             "lzma; gzip/zlib 1-9, level 0 is refused for them)")
    method.add_argument("--length-fair", action="store_true",
                        help="score alignment minus the pool's mean alignment at the same length "
                             "(removes exact ZIP-FIT's preference for short documents; default off)")
    method.add_argument("--length-sample", type=positive_int, default=5000, metavar="N",
                        help="with --length-fair: fit the length baseline on the first N source records "
                             "(default 5000)")
    method.add_argument("--length-bins", type=positive_int, default=16,
                        help="with --length-fair: equal-count length bins of the baseline (default 16)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def make_selector(targets):
        return ZipFit(targets, codec=args.codec, level=args.level, threads=args.threads,
                      length_fair=args.length_fair, length_bins=args.length_bins)

    params = {"codec": args.codec, "level": args.level}

    def make_selector(targets, _make=make_selector):
        selector = _make(targets)
        params["level"] = selector.level  # the codec's default when --level is not given
        return selector
    if not args.length_fair:
        return run_select(args, "zipfit", make_selector, params)

    def fit(selector, records, on_batch):
        selector.fit_length_baseline(records, text_field=args.text_field, max_records=args.length_sample,
                                     batch_size=args.batch_size, on_batch=on_batch)
        params["length_baseline"] = {"ln_length": selector.length_knots.tolist(),
                                     "alignment": selector.baseline_alignment.tolist()}

    params.update(length_fair=True, length_sample=args.length_sample, length_bins=args.length_bins)
    return run_select(args, "zipfit", make_selector, params, fit=fit, fit_name="length_baseline")
