"""`zipsift synth report|plan`: judge synthetic samples of several models at matched compute."""
from __future__ import annotations

import argparse
import math
import sys
from typing import Dict

from ..io import BadRecord, iter_located_records
from .common import UsageError, check_outputs, positive_int, report_header, write_report

DESCRIPTION = """\
Compare models' sampled solutions at matched compute (Bansal et al. 2024, "Smaller, Weaker, Yet
Better"). The model with the largest --params (or --price) gets --samples-strong samples per
question; every other model gets floor(samples_strong * P_strong / P_model) samples. For each model
the report gives coverage@k (share of questions with a correct sample among its first k; also the
unbiased estimator from all its samples), diversity@k (unique correct solutions per question) and
the false-positive rate (kept solutions whose reasoning was judged wrong, Wilson 95% interval).

samples.jsonl: {"model": ..., "question_id": ..., "solution": "...", "reasoning_correct": true|false}
  one line per sample, in sampling order; "reasoning_correct" is optional (a human or LLM judgement).
gold.jsonl:    {"question_id": ..., "answer": "..."}
A solution is correct when its final answer (\\boxed{..}, "#### ..", "The answer is ..") equals the
gold answer after normalisation.
"""

EPILOG = """\
example:
  zipsift synth report samples.jsonl --gold gold.jsonl --params gemma-27b=27e9 --params gemma-9b=9e9
  zipsift synth plan --params-strong 27e9 --params-weak 9e9 --samples-strong 1
"""


def _cost(text: str):
    name, sep, value = text.rpartition("=")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not sep or not name or not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"expected MODEL=NUMBER with a number > 0, e.g. gemma-9b=9e9, got {text!r}")
    return name, number


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("synth", help="compute-matched synthetic data: plan samples, report quality",
                                 description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(title="steps", metavar="STEP")
    report = sub.add_parser("report", help="coverage, diversity and FPR per model at matched compute",
                            description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("samples", metavar="SAMPLES.jsonl",
                        help="sampled solutions, one JSON object per line, in sampling order (format above)")
    report.add_argument("--gold", required=True, metavar="GOLD.jsonl",
                        help="one gold answer per question: {\"question_id\", \"answer\"}")
    costs = report.add_mutually_exclusive_group(required=True)
    costs.add_argument("--params", type=_cost, action="append", metavar="MODEL=P",
                       help="parameter count of a model (repeat per model): compute-matched")
    costs.add_argument("--price", type=_cost, action="append", metavar="MODEL=PRICE",
                       help="price per output token of a model (repeat per model): price-matched")
    report.add_argument("--samples-strong", type=positive_int, default=1, metavar="S",
                        help="samples per question of the strongest model (default 1)")
    report.add_argument("--unique", choices=("exact", "normalized", "ncd"), default="ncd",
                        help="when two correct solutions are the same, for diversity (default ncd)")
    report.add_argument("--threshold", type=float, default=0.25,
                        help="NCD at or below which two solutions are near-duplicates (default 0.25)")
    fields = report.add_argument_group("fields")
    fields.add_argument("--model-field", default="model", help="samples' field naming the model (default: model)")
    fields.add_argument("--id-field", default="question_id",
                        help="field with the question id, in samples and gold (default: question_id)")
    fields.add_argument("--solution-field", default="solution",
                        help="samples' field with the solution text (default: solution)")
    fields.add_argument("--answer-field", default="answer", help="gold's field with the answer (default: answer)")
    fields.add_argument("--judgement-field", default="reasoning_correct",
                        help="samples' optional true/false field: was the reasoning right (default: "
                             "reasoning_correct)")
    report.add_argument("--json", metavar="REPORT.json", help="also write the report as JSON (atomically)")
    report.set_defaults(run=run_report)

    plan = sub.add_parser("plan", help="samples per question for the weak model at equal compute or price",
                          description="Print the samples per question of the weak model that cost the same as "
                                      "--samples-strong of the strong one: S_weak = S_strong * (P_strong * W_strong) "
                                      "/ (P_weak * W_weak), P the parameter count (compute) or the price per "
                                      "output token, W the average solution length (equal when not given). Round "
                                      "down for a whole number of samples.")
    plan_costs = plan.add_mutually_exclusive_group(required=True)
    plan_costs.add_argument("--params-strong", type=float, metavar="P",
                            help="parameter count of the strong model, e.g. 27e9 (compute-matched; needs "
                                 "--params-weak)")
    plan_costs.add_argument("--price-strong", type=float, metavar="PRICE",
                            help="price per output token of the strong model (price-matched; needs --price-weak)")
    plan.add_argument("--params-weak", type=float, metavar="P", help="parameter count of the weak model, e.g. 9e9")
    plan.add_argument("--price-weak", type=float, metavar="PRICE",
                      help="price per output token of the weak model, in the unit of --price-strong")
    plan.add_argument("--samples-strong", type=float, default=1.0, metavar="S",
                      help="samples per question of the strong model (default 1)")
    plan.add_argument("--tokens-strong", type=float, help="average solution length of the strong model")
    plan.add_argument("--tokens-weak", type=float, help="average solution length of the weak model")
    plan.set_defaults(run=run_plan)
    parser.set_defaults(run=lambda args: (parser.print_help(sys.stderr), 2)[1])


def run_plan(args: argparse.Namespace) -> int:
    from ..synth import compute_matched_samples, price_matched_samples

    if args.params_strong is not None:
        if args.params_weak is None:
            raise UsageError("--params-strong needs --params-weak")
        s = compute_matched_samples(args.params_strong, args.params_weak, args.samples_strong,
                                    args.tokens_strong, args.tokens_weak)
    else:
        if args.price_weak is None:
            raise UsageError("--price-strong needs --price-weak")
        s = price_matched_samples(args.price_strong, args.price_weak, args.samples_strong,
                                  args.tokens_strong, args.tokens_weak)
    print(f"{s:g}")
    return 0


def bad(path, line: int, detail: str) -> BadRecord:
    """An error naming the file and line of a record whose fields are wrong."""
    return BadRecord(path, line, "bad_field", detail, skippable=False)


def _read_gold(args) -> Dict:
    gold: Dict = {}
    for _, line, rec in iter_located_records(args.gold, text_field=None):
        for field in (args.id_field, args.answer_field):
            if field not in rec:
                raise bad(args.gold, line, f"no field {field!r}")
        answer = rec[args.answer_field]
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
            raise bad(args.gold, line, f"field {args.answer_field!r} must be a string or a number")
        qid = rec[args.id_field]
        if qid in gold:
            raise bad(args.gold, line, f"question {qid!r} has a second gold answer")
        gold[qid] = answer
    if not gold:
        raise UsageError(f"{args.gold}: no gold answers")
    return gold


def _read_samples(args, gold, models):
    for _, line, rec in iter_located_records(args.samples, text_field=args.solution_field):
        for field in (args.model_field, args.id_field):
            if field not in rec:
                raise bad(args.samples, line, f"no field {field!r}")
        if rec[args.model_field] not in models:
            raise bad(args.samples, line, f"model {rec[args.model_field]!r} is not given a cost; add "
                                          f"--{'params' if args.params else 'price'} {rec[args.model_field]}=...")
        if rec[args.id_field] not in gold:
            raise bad(args.samples, line, f"question {rec[args.id_field]!r} is not in {args.gold}")
        judgement = rec.get(args.judgement_field)
        if judgement is not None and not isinstance(judgement, bool):
            raise bad(args.samples, line, f"field {args.judgement_field!r} must be true, false or absent")
        yield rec


def run_report(args: argparse.Namespace) -> int:
    from ..synth import matched_report

    check_outputs([("--json", args.json)], [("SAMPLES.jsonl", args.samples), ("--gold", args.gold)])
    gold = _read_gold(args)
    costs = args.params or args.price
    names = [m for m, _ in costs]
    if len(set(names)) != len(names):
        raise UsageError(f"a model is named twice in --params/--price: {names}")
    rep = matched_report(_read_samples(args, gold, set(names)), gold,
                         params=dict(costs) if args.params else None, prices=dict(costs) if args.price else None,
                         samples_strong=args.samples_strong, unique=args.unique, threshold=args.threshold,
                         id_field=args.id_field, text_field=args.solution_field, model_field=args.model_field,
                         judgement_field=args.judgement_field, source=args.samples)
    models = rep["models"]
    rows = [
        ("", [m["model"] for m in models]),
        ("samples per question k", [f"{m['k']} ({m['k_matched']:.3g})" for m in models]),
        ("coverage@k", [f"{m['coverage']:.3f}" for m in models]),
        ("coverage@k (unbiased)", [f"{m['coverage_unbiased']:.3f}" for m in models]),
        (f"diversity@k ({rep['diversity_rule']})", [f"{m['diversity']:.3f}" for m in models]),
        ("kept (correct answer)", [str(m["kept"]) for m in models]),
        ("FPR (Wilson 95%)", ["n/a" if m["fpr"] is None else
                              f"{m['fpr']['rate']:.2f} [{m['fpr']['low']:.2f}, {m['fpr']['high']:.2f}]"
                              for m in models]),
        ("judged", ["0" if m["fpr"] is None else str(m["fpr"]["n_judged"]) for m in models]),
    ]
    label = max(len(name) for name, _ in rows)
    width = max(len(c) for _, cells in rows for c in cells)
    print(f"matched {rep['matched_by']}: {rep['strong']} draws {rep['samples_strong']} sample(s) per question; "
          f"{len(gold)} questions")
    for name, cells in rows:
        print(f"{name:<{label}}" + "".join(f"  {c:>{width}}" for c in cells))
    if args.json:
        write_report(args.json, {**report_header("synth report"), "samples": args.samples,
                                 "gold": args.gold, **rep})
    return 0
