"""`zipsift select submodular`: pick a diverse, representative subset of a pool from its embeddings."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Dict

import numpy as np

from .. import __version__
from ..io import AtomicWriter, ReadStats, dumps_record, iter_records
from ..ncd import build_info
from .common import (JSONL_OUTPUT, Progress, UsageError, add_execution_arguments, check_outputs, non_negative_int,
                     positive_int, progress_enabled, resolved_threads, write_report)

OBJECTIVES = {"fl": "facility_location", "flmi": "flmi", "flcg": "flcg", "graphcut": "graph_cut",
              "logdet": "log_determinant"}

DESCRIPTION = """\
Maximise a submodular objective over the similarity kernel of the pool's embeddings with greedy
selection (DELIFT: FL for instruction tuning, FLMI toward a target task, FLCG for continual
fine-tuning):
  fl        sum_i max_{j in A} s_ij
  flmi      sum_i min(max_{j in A} s_ij, eta * max_{q in Q} s_iq)      needs --query
  flcg      sum_i max(max_{j in A} s_ij - nu * max_{p in P} s_ip, 0)   needs --private
  graphcut  sum_{i in V, j in A} s_ij - lambda * sum_{i, j in A} s_ij
  logdet    log det(S_A + regularizer * I)
s is the --metric similarity (negatives clipped to 0), dense (4 n^2 bytes, stated and checked up
front) or the --knn T most similar per row (sparse, 8 n T bytes). Writes one line per pick, in pick
order: {"rank", "index", "gain"}, or with --source the chosen records themselves.
"""

EPILOG = """\
example:
  zipsift select submodular --embeddings pool.npy --objective fl --budget 0.3 \\
      --out picks.jsonl --report report.json
  zipsift select submodular --embeddings pool.npy --objective flmi --query target.npy \\
      --knn 32 --budget 1000 --source pool.jsonl --out selected.jsonl
"""


def fraction_or_count(text: str):
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a count (e.g. 1000) or a fraction (e.g. 0.3), "
                                             f"got {text!r}") from None
    if not value > 0:  # a zero budget would "succeed" with nothing picked
        raise argparse.ArgumentTypeError(f"expected a count >= 1 or a fraction in (0, 1], got {text}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def register(select_commands: argparse._SubParsersAction) -> None:
    parser = select_commands.add_parser(
        "submodular", help="DELIFT-style submodular selection (FL, FLMI, FLCG, graph cut, log-det) from embeddings",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("input")
    data.add_argument("--embeddings", required=True, metavar="X.npy", help="pool embeddings, (n, d) .npy")
    data.add_argument("--query", metavar="Q.npy", help="target-task embeddings (q, d) for flmi")
    data.add_argument("--private", metavar="P.npy", help="embeddings (p, d) of data already learned, for flcg")
    data.add_argument("--source", nargs="+", metavar="S",
                      help="the pool's records, in the same order as the embeddings (record i = row i); the "
                           "chosen records are written instead of indices")
    data.add_argument("--text-field", default="text", help="field every source record holds (default: text)")
    method = parser.add_argument_group("selection")
    method.add_argument("--objective", choices=sorted(OBJECTIVES), default="fl", help="objective (default fl)")
    method.add_argument("--budget", type=fraction_or_count, required=True,
                        help="how many to pick: a count (1000) or a fraction of the pool (0.3)")
    method.add_argument("--metric", default="cosine", choices=("cosine", "dot", "rbf", "euclidean"),
                        help="similarity (default cosine)")
    method.add_argument("--gamma", type=float, help="rbf: exp(-gamma |x - y|^2) (default 1/d)")
    method.add_argument("--knn", type=positive_int, metavar="T",
                        help="sparse kernel: keep the T most similar per row (for large pools)")
    method.add_argument("--optimizer", default="lazy", choices=("naive", "lazy", "stochastic", "lazier_than_lazy"),
                        help="greedy variant (default lazy: the same picks as naive, far fewer evaluations)")
    method.add_argument("--epsilon", type=float, default=0.1, help="stochastic optimizers' epsilon (default 0.1)")
    method.add_argument("--seed", type=non_negative_int, default=0, help="stochastic optimizers' seed (default 0)")
    method.add_argument("--eta", type=non_negative_float, default=1.0, help="flmi's eta (default 1)")
    method.add_argument("--nu", type=non_negative_float, default=1.0, help="flcg's nu (default 1)")
    method.add_argument("--lambda", dest="lambda_", type=non_negative_float, default=0.5,
                        help="graphcut's lambda (default 0.5)")
    method.add_argument("--regularizer", type=non_negative_float, default=1.0, help="logdet's regularizer (default 1)")
    method.add_argument("--stop-if-zero-gain", action="store_true", help="stop early when the best gain is 0")
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, metavar="OUT.jsonl", help="picks in order, written atomically")
    out.add_argument("--gain-field", default="submodular_gain",
                     help="with --source: field added to each record with its gain (default: submodular_gain)")
    out.add_argument("--report", metavar="REPORT.json", help="write a JSON report of the run")
    add_execution_arguments(parser)
    parser.set_defaults(run=run)


def _load(path: str, what: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError) as err:
        raise UsageError(f"{what} {path}: not a readable .npy array ({err})") from None
    if array.ndim != 2:
        raise UsageError(f"{what} {path}: expected a 2-d array (rows x dimensions), got shape {array.shape}")
    return array


def run(args: argparse.Namespace) -> int:
    from .. import submodular as sm

    start = time.perf_counter()
    name = OBJECTIVES[args.objective]
    if args.objective == "flmi" and args.query is None:
        raise UsageError("--objective flmi needs --query Q.npy (the target task's embeddings)")
    if args.objective == "flcg" and args.private is None:
        raise UsageError("--objective flcg needs --private P.npy (embeddings of what the model already learned)")
    if args.query is not None and args.objective != "flmi":
        raise UsageError("--query is only used by --objective flmi")
    if args.private is not None and args.objective != "flcg":
        raise UsageError("--private is only used by --objective flcg")
    if args.objective == "logdet" and args.knn:
        raise UsageError("--objective logdet needs a dense kernel; drop --knn")

    check_outputs([("--out", args.out), ("--report", args.report)],
                  [("--source", args.source), ("--embeddings", args.embeddings), ("--query", args.query),
                   ("--private", args.private)], {"--out": JSONL_OUTPUT})
    X = _load(args.embeddings, "--embeddings")
    side_path = args.query if args.objective == "flmi" else args.private
    side = None if side_path is None else _load(side_path, "--query" if args.query else "--private")
    n = X.shape[0]
    budget = sm.resolve_budget(args.budget, n)
    if budget == 0:
        raise UsageError(f"--budget {args.budget} of {n:,} rows picks nothing; give a count >= 1 or a larger fraction")

    t0 = time.perf_counter()
    # Facility-location-family objectives need s >= 0: the command clips negative similarities to 0
    # (documented in --help) and records that in the report; log-determinant takes them as they are.
    clip_negative = name != "log_determinant"
    K = sm.kernel(X, args.metric, knn=args.knn, gamma=args.gamma, clip_negative=clip_negative,
                  threads=args.threads)
    side_k = None if side is None else sm.kernel(X, args.metric, knn=1, Y=side, gamma=args.gamma,
                                                 clip_negative=True, threads=args.threads)
    kernel_seconds = time.perf_counter() - t0

    options = dict(optimizer=args.optimizer, epsilon=args.epsilon, seed=args.seed,
                   stop_if_zero_gain=args.stop_if_zero_gain, threads=args.threads)
    t0 = time.perf_counter()
    with Progress(unit="picks", enabled=progress_enabled(args)) as progress:
        def report_picks(picks: int) -> None:
            progress.update(picks - progress.count)

        options["progress"] = report_picks
        if name == "facility_location":
            sel = sm.facility_location(K, budget, **options)
        elif name == "flmi":
            sel = sm.flmi(K, side_k, budget, eta=args.eta, **options)
        elif name == "flcg":
            sel = sm.flcg(K, side_k, budget, nu=args.nu, **options)
        elif name == "graph_cut":
            sel = sm.graph_cut(K, budget, lambda_=args.lambda_, **options)
        else:
            sel = sm.log_determinant(K, budget, regularizer=args.regularizer, **options)
    maximize_seconds = time.perf_counter() - t0

    source_stats = ReadStats()
    if args.source:
        wanted = {int(j): r for r, j in enumerate(sel.indices)}
        chosen: Dict[int, Any] = {}
        count = 0
        for i, record in enumerate(iter_records(args.source, text_field=args.text_field, stats=source_stats,
                                                reserved_fields=(args.gain_field,))):
            count = i + 1
            if i in wanted:
                chosen[i] = record
        if count == 0:
            raise UsageError(f"--source {' '.join(args.source)}: it holds no records; record i must be the text of "
                             f"embedding row i")
        if count != n:
            raise UsageError(f"--source holds {count:,} records but --embeddings has {n:,} rows; record i must "
                             "be the text of embedding row i")
        with AtomicWriter(args.out) as out:
            for j, gain in zip(sel.indices.tolist(), sel.gains.tolist()):
                out.write(dumps_record({**chosen[j], args.gain_field: gain}))
                out.write("\n")
    else:
        with AtomicWriter(args.out) as out:
            for rank, (j, gain) in enumerate(zip(sel.indices.tolist(), sel.gains.tolist())):
                out.write(dumps_record({"rank": rank, "index": j, "gain": gain}))
                out.write("\n")

    seconds = time.perf_counter() - start
    print(f"zipsift select submodular: picked {len(sel):,} of {n:,} ({args.objective}, {args.optimizer}), "
          f"objective {sel.objective:.6g} -> {args.out} in {seconds:.1f} s", file=sys.stderr)
    if args.report:
        kernel_info: Dict[str, Any] = {"kind": "sparse" if args.knn else "dense", "metric": args.metric,
                                       "shape": list(K.shape), "bytes": int(K.nbytes)}
        if args.knn:
            kernel_info["knn"] = args.knn
        write_report(args.report, {
            "zipsift_version": __version__,
            "command": "select submodular",
            "method": "submodular",
            "params": {"objective": args.objective, "optimizer": args.optimizer, "budget": args.budget,
                       "metric": args.metric, "knn": args.knn, "eta": args.eta, "nu": args.nu,
                       "lambda": args.lambda_, "regularizer": args.regularizer, "epsilon": args.epsilon,
                       "seed": args.seed, "stop_if_zero_gain": args.stop_if_zero_gain,
                       "negative_similarities_clipped_to_zero": clip_negative},
            "threads": resolved_threads(args.threads),
            "pool_size": n,
            "dimensions": int(X.shape[1]),
            "records_selected": len(sel),
            "objective_value": sel.objective,
            "gain_evaluations": sel.evaluations,
            "kernel": kernel_info,
            "sources": source_stats.as_dict() if args.source else None,
            "output": args.out,
            "seconds": round(seconds, 3),
            "seconds_kernel": round(kernel_seconds, 3),
            "seconds_maximize": round(maximize_seconds, 3),
            "build": build_info(),
        })
    return 0
