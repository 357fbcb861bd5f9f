"""`zipsift select zipfit`: keep the documents most aligned with a target set by compression."""
from __future__ import annotations

import argparse

from ..zipfit import ZipFit
from .common import add_select_arguments, run_select

DESCRIPTION = """\
Rank every source record by ZIP-FIT alignment with the targets,
  alignment(x, T) = 1 - mean over y in T of NCD(x, y),
  NCD(x, y) = (C(x+y) - min(C(x), C(y))) / max(C(x), C(y)),
where C is the compressed size (gzip level 9 by default, exactly CPython's gzip.compress), and
write the best records, unchanged plus a score field, in descending score. Memory is bounded by
--k (or --budget-bytes), not by the size of the pool.
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
    method.add_argument("--codec", default="gzip", help="gzip (default), zlib or zstd; see `zipsift codecs`")
    method.add_argument("--level", type=int, default=9,
                        help="compression level (default 9; gzip/zlib 1-9, level 0 is refused)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def make_selector(targets):
        return ZipFit(targets, codec=args.codec, level=args.level, threads=args.threads)

    return run_select(args, "zipfit", make_selector, {"codec": args.codec, "level": args.level})
