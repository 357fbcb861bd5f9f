"""`zipsift report`: one self-contained HTML page about selections and their evaluation."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

from ..atomic import AtomicWriter
from ..io import ReadStats, iter_records
from ..report import build_report, eval_section, selection_section
from .common import UsageError, check_outputs

DESCRIPTION = """\
Write one HTML page (inline SVG, no scripts, nothing fetched when it is viewed) about selections
written by `zipsift select` and evaluations written by `zipsift eval --json`:
  * per selection: what it is made of by --by FIELD (share of bytes and records; beside the pool's
    with --pool), the distribution of its score field and score against length, the cut-off (the
    lowest kept score) marked in red; with --pool records that carry the same score field (e.g. a
    selection of the whole pool), the pool's scores are drawn behind in grey;
  * per --eval file(s): each selection's held-out figures, the mean and range over the files (run
    `zipsift eval` once per --lm-seed and pass them all to see the seed range). The LM judge is the
    referee; the zstd and n-gram figures are labelled as proxies.
"""

EPILOG = """\
example:
  zipsift select dsir --target targets.jsonl --source pool.jsonl --budget-bytes 40000 --out dsir.jsonl
  zipsift eval --proxy lm --lm-seed 0 --heldout heldout.jsonl dsir.jsonl random.jsonl --json eval0.json
  zipsift report dsir.jsonl random.jsonl --by source --pool pool.jsonl --eval eval0.json --out report.html
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("report", help="write a self-contained HTML page about selections and evals",
                                 description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("selections", nargs="*", metavar="SEL", help="selection files (JSONL, as select writes)")
    parser.add_argument("--out", required=True, metavar="OUT.html", help="the page to write (atomically)")
    parser.add_argument("--by", metavar="FIELD", help="group the composition by this record field (e.g. source)")
    parser.add_argument("--score-field", metavar="FIELD",
                        help="the score field (default: the first of zipfit_score, gain_score, dsir_score, "
                             "submodular_score, score that every record has)")
    parser.add_argument("--text-field", default="text", help="field holding the text (default: text)")
    parser.add_argument("--pool", metavar="POOL", help="the pool the selections came from (JSONL), for comparison")
    parser.add_argument("--eval", action="append", default=[], metavar="EVAL.json",
                        help="a `zipsift eval --json` file (repeat: one per seed shows the seed range)")
    parser.add_argument("--title", default="zipsift report", help="the page title")
    parser.set_defaults(run=run)


def _records(spec: str, text_field: str) -> List[Dict[str, Any]]:
    stats = ReadStats()
    records = list(iter_records(spec, text_field=text_field, on_error="raise", stats=stats))
    if not records:
        raise UsageError(f"{spec}: no records")
    return [r if isinstance(r, dict) else {text_field: r} for r in records]


def run(args: argparse.Namespace) -> int:
    if not args.selections and not args.eval:
        raise UsageError("give at least one selection file or --eval file to report on")
    inputs = [("SEL", args.selections), ("--eval", args.eval)] + ([("--pool", [args.pool])] if args.pool else [])
    check_outputs([("--out", args.out)], inputs)
    pool = _records(args.pool, args.text_field) if args.pool else None
    sections = []
    for spec in args.selections:
        try:
            sections.append(selection_section(Path(spec).name, _records(spec, args.text_field), by=args.by,
                                              score_field=args.score_field, text_field=args.text_field, pool=pool))
        except ValueError as err:
            raise UsageError(f"{spec}: {err}") from None
    if args.eval:
        evals = []
        for path in args.eval:
            try:
                evals.append(json.loads(Path(path).read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError) as err:
                raise UsageError(f"{path}: cannot read it as JSON ({err}); give the file `zipsift eval --json` wrote")
        try:
            sections.append(eval_section(evals, args.eval))
        except ValueError as err:
            raise UsageError(f"--eval: {err}") from None
    html = build_report(args.title, sections, footer="Written by zipsift report; self-contained, no scripts.")
    with AtomicWriter(args.out) as out:
        out.write(html)
    print(f"zipsift report: {len(args.selections)} selection(s), {len(args.eval)} eval file(s) -> {args.out} "
          f"({len(html.encode()):,} bytes)", file=sys.stderr)
    return 0
