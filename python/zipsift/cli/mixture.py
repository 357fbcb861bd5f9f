"""`zipsift mixture plan|fit`: plan the small runs, then fit a mixture law and choose the weights."""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from typing import Any, Dict, List

from ..io import AtomicWriter
from .common import UsageError, check_outputs, positive_int, report_header, write_report

DESCRIPTION = """\
Choose how much of each domain goes into a fine-tuning mix (Li, Liu & Xing, ICML 2025).

  1. zipsift mixture plan --domains code math chat --base-tokens 10000000 --out runs.csv
     writes the 4K+1 small runs to train (a base run, then each domain at 1/3, 1/2, 2, 3x);
  2. train them and fill in the loss_<domain> columns with each run's validation losses;
  3. zipsift mixture fit runs.csv --tokens 30000000 --out mixture.json
     fits L_i = C_i (N_i + k_i M_i^alpha_i)^-beta_i + E_i per domain and prints the weights that
     minimise the summed loss at that budget.

runs.csv has one row per run and the columns tokens_<domain> and loss_<domain> for every domain
(an optional "name" column is kept for messages).
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("mixture", help="data-mixture optimisation: plan runs, fit a law, choose weights",
                                 description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(title="steps", metavar="STEP")
    plan = sub.add_parser("plan", help="write the 4K+1 runs to train as a CSV to fill in",
                          description="Write runs.csv: the 4K+1 runs of Li, Liu & Xing with empty loss columns.")
    plan.add_argument("--domains", nargs="+", required=True, metavar="D", help="domain names (at least 2)")
    plan.add_argument("--base-tokens", type=float, required=True, metavar="N",
                      help="tokens of each domain in the base run")
    plan.add_argument("--out", required=True, metavar="RUNS.csv", help="the plan, written atomically")
    plan.set_defaults(run=run_plan)

    fit = sub.add_parser("fit", help="fit a mixture law on runs.csv and print the optimal weights",
                         description="Fit a mixture law on the runs and print the weights minimising the summed "
                                     "predicted validation loss at --tokens.")
    fit.add_argument("runs", metavar="RUNS.csv", help="one row per run: tokens_<domain>, loss_<domain> columns")
    fit.add_argument("--tokens", type=float, required=True, metavar="N", help="total training budget in tokens")
    fit.add_argument("--law", choices=("li", "ye"), default="li",
                     help="li: Li, Liu & Xing 2025 (default); ye: Data Mixing Laws, Ye et al. 2024")
    fit.add_argument("--huber-delta", type=float, default=0.01,
                     help="relative residual where the Huber loss turns linear (default 0.01 = 1%%)")
    fit.add_argument("--grid", type=positive_int, metavar="R",
                     help="also report the best mixture of the grid with weights in steps of 1/R (the paper's "
                          "baseline, evaluated with the fitted law)")
    fit.add_argument("--out", metavar="OUT.json", help="write weights, predicted losses, parameters and fit quality")
    fit.set_defaults(run=run_fit)
    parser.set_defaults(run=lambda args: (parser.print_help(sys.stderr), 2)[1])


def run_plan(args: argparse.Namespace) -> int:
    from ..mixture import plan_runs

    check_outputs([("--out", args.out)], suffixes={"--out": (".csv",)})
    runs = plan_runs(args.domains, args.base_tokens)
    with AtomicWriter(args.out) as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["name"] + [f"tokens_{d}" for d in args.domains] + [f"loss_{d}" for d in args.domains])
        for r in runs:
            writer.writerow([r["name"]] + [r["tokens"][d] for d in args.domains] + [""] * len(args.domains))
    print(f"zipsift mixture plan: {len(runs)} runs for {len(args.domains)} domains -> {args.out}; train them and "
          f"fill in the loss_<domain> columns", file=sys.stderr)
    return 0


def _number(path: str, line: int, column: str, cell: str) -> float:
    if cell is None or not cell.strip():
        raise UsageError(f"{path}, line {line}: column {column!r} is empty; fill in every run's tokens and losses")
    try:
        value = float(cell)
    except ValueError:
        raise UsageError(f"{path}, line {line}: column {column!r} is {cell!r}, not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{path}, line {line}: column {column!r} is {cell!r}; expected a finite number")
    return value


def read_runs_csv(path: str) -> List[Dict[str, Any]]:
    """Runs from a CSV with columns tokens_<domain> and loss_<domain>; errors name file and line."""
    try:
        fh = open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    with fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            raise UsageError(f"{path}: empty file; expected a header with tokens_<domain> and loss_<domain> columns")
        header = [h.strip() for h in header]
        domains = [h[len("tokens_"):] for h in header if h.startswith("tokens_")]
        missing = [f"loss_{d}" for d in domains if f"loss_{d}" not in header]
        extra = [h for h in header if h.startswith("loss_") and h[len("loss_"):] not in domains]
        if len(domains) < 2 or missing or extra:
            raise UsageError(f"{path}, line 1: expected columns tokens_<domain> and loss_<domain> for at least 2 "
                             f"domains; found domains {domains}, missing {missing}, loss columns without tokens {extra}")
        col = {h: i for i, h in enumerate(header)}
        runs = []
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise UsageError(f"{path}, line {line}: {len(row)} cells, the header has {len(header)}")
            tokens = {d: _number(path, line, f"tokens_{d}", row[col[f"tokens_{d}"]]) for d in domains}
            loss = {d: _number(path, line, f"loss_{d}", row[col[f"loss_{d}"]]) for d in domains}
            runs.append({"tokens": tokens, "loss": loss, "line": line})
    return runs


def run_fit(args: argparse.Namespace) -> int:
    from ..mixture import DataMixingLaw, MixtureLaw, grid_search

    check_outputs([("--out", args.out)], [("RUNS.csv", args.runs)])
    runs = read_runs_csv(args.runs)
    law = (MixtureLaw if args.law == "li" else DataMixingLaw)(huber_delta=args.huber_delta)
    try:
        law.fit([{"tokens": r["tokens"], "loss": r["loss"]} for r in runs])
    except ValueError as err:
        # "run i" in the library's message is the i-th data row; name the CSV line too
        message = str(err)
        for i, r in enumerate(runs):
            message = message.replace(f"run {i}:", f"run {i} ({args.runs}, line {r['line']}):")
        raise ValueError(message) from None
    result = law.optimize(args.tokens)
    grid = grid_search(law, law.domains, resolution=args.grid, total_tokens=args.tokens) if args.grid else None

    width = max(len(d) for d in law.domains)
    print(f"{'domain':<{width}}  {'weight':>8}  {'tokens':>14}  {'pred. loss':>10}  {'fit rmse':>9}")
    for d in law.domains:
        print(f"{d:<{width}}  {result.weights[d]:8.4f}  {result.tokens[d]:14,.0f}  {result.losses[d]:10.4f}  "
              f"{law.fit_quality[d]['rmse']:9.2e}")
    print(f"{'total':<{width}}  {1.0:8.4f}  {result.total_tokens:14,.0f}  {result.total_loss:10.4f}")
    if grid is not None:
        print(f"grid baseline ({len(grid.evaluated)} mixtures): summed loss {grid.total_loss:.4f} at "
              + ", ".join(f"{d}={w:g}" for d, w in grid.weights.items()))
    if args.out:
        report = {**report_header("mixture fit"), "runs_file": args.runs,
                  "n_runs": len(runs), "total_tokens": result.total_tokens, "weights": result.weights,
                  "tokens": result.tokens, "losses": result.losses, "total_loss": result.total_loss,
                  **law.to_dict()}
        if grid is not None:
            report["grid_baseline"] = {"resolution": args.grid, "n_mixtures": len(grid.evaluated),
                                       "weights": grid.weights, "losses": grid.losses, "total_loss": grid.total_loss}
        write_report(args.out, report)
    return 0
