"""What every zipsift command shares: its arguments, the checks of its outputs (distinct from its
inputs, writable), JSON reports, the selection pipeline (read targets, stream sources, keep the
best, write atomically), and error handling."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence

from .. import __version__
from ..atomic import OutputError, check_output, is_stdout, resolve_output, same_file
from ..engine import EmptyPool, FitPass, LocalEngine, NotDistributed, SelectJob, ray_engine
from ..io import DEFAULT_SPLIT_BYTES, MISSING_FIELD, AtomicWriter, ReadStats, dumps_record, expand_paths, read_texts
from ..ncd import build_info
from ..params import INT32_MAX, check_threads, expected_int, resolve_threads, threads_range
from ..stream import ScoredRecord
from .progress import ProgressLine, progress_enabled


class UsageError(Exception):
    """A problem with the command line or its inputs; printed without a traceback, exit code 2."""


# What an output's name may end in; the writer compresses by the suffix.
JSONL_OUTPUT = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst")


def check_outputs(outputs, inputs=(), suffixes=None) -> None:
    """Refuse, before any work, outputs that could not be written or would destroy something.

    outputs: (option, path) pairs (None paths are skipped); inputs: (option, files/dirs/globs)
    pairs the outputs must differ from; suffixes: {option: allowed suffixes} (``-`` for standard
    output is always allowed). Checks that outputs differ from each other and from every input,
    that each suffix says a format zipsift writes, and that each directory accepts a new file."""
    outputs = [(option, path) for option, path in outputs if path is not None]
    for option, path in outputs:
        if not is_stdout(path):
            resolve_output(path)  # a directory, device or fifo first: that is what the user must fix
        allowed = (suffixes or {}).get(option)
        if allowed and path and not is_stdout(path) and not str(path).lower().endswith(allowed):
            raise UsageError(f"{option} {path}: zipsift writes only {', '.join(allowed)} here (the suffix says the "
                             f"format); rename the output")
    check_distinct(outputs, inputs)
    for option, path in outputs:
        check_output(path)


def report_header(command: str, method: Optional[str] = None, threads: Optional[int] = None) -> Dict[str, Any]:
    """The fields every JSON report starts with: the zipsift version that wrote it, the command,
    and for commands that have them the method and the threads it ran on (0 resolved to the cores)."""
    header: Dict[str, Any] = {"zipsift_version": __version__, "command": command}
    if method is not None:
        header["method"] = method
    if threads is not None:
        header["threads"] = resolve_threads(threads)
    return header


def check_distinct(outputs: Sequence[tuple], inputs: Sequence[tuple] = ()) -> None:
    """Refuse, before any work, an output that is also an input or another output.

    outputs, inputs: (option name, path) pairs; an input path may be a directory or a glob (every
    file it names counts). Raises OutputError."""
    outs = [(name, path) for name, path in outputs if path is not None]
    for i, (name_a, a) in enumerate(outs):
        for name_b, b in outs[i + 1:]:
            if same_file(a, b):
                raise OutputError(f"{name_a} and {name_b} are the same file ({a}); give them different names")
    for name_in, spec in inputs:
        specs = [s for s in (spec if isinstance(spec, (list, tuple)) else [spec]) if s is not None]
        if not specs:
            continue
        try:
            files = expand_paths(specs)
        except (OSError, ValueError):  # not a dataset (an .npy, a .csv): compare the files as given
            files = [Path(s) for s in specs if os.path.isfile(s)]
        for name_out, out in outs:
            if is_stdout(out):
                continue
            for f in files:
                if same_file(f, out):
                    raise OutputError(f"{name_out} {out} is also an input ({name_in} {f}); writing it would "
                                      f"destroy the input: choose another output name")


def write_report(path: str, report: Dict[str, Any], written=()) -> None:
    """Write a JSON report atomically. ``written``: (option, path) outputs already in place; a failure
    (a full disk) says they are complete, so the user knows only the report is missing."""
    import json

    try:
        with AtomicWriter(path) as out:
            json.dump(report, out, indent=2, sort_keys=False)
            out.write("\n")
    except OutputError as err:
        done = [f"{option} {target}" for option, target in written if target is not None and not is_stdout(target)]
        if not done:
            raise
        raise OutputError(f"{err}; {' and '.join(done)} {'was' if len(done) == 1 else 'were'} written before it "
                          f"and {'is' if len(done) == 1 else 'are'} complete; only the report is missing") from None


def whole_number(minimum: Optional[int] = None, maximum: Optional[int] = None) -> Callable[[str], int]:
    """An argparse ``type``: a whole number within the bounds, refused with the bounds and the value given."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        problem = expected_int(value, minimum, maximum)
        if problem is not None:
            raise argparse.ArgumentTypeError(f"expected a number {problem}, got {value}")
        return value

    return parse


non_negative_int = whole_number(0)
positive_int = whole_number(1)
# A value the core takes as a C int (a codec level): larger ones are refused here, not by pybind11.
native_int = whole_number(-INT32_MAX - 1, INT32_MAX)


def thread_count(text: str) -> int:
    """--threads: 0 (every usable core) to MAX_THREADS, refused up front like every other bad number."""
    try:
        return check_threads(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number {threads_range()}, got {text}") from None


def input_fraction(specs, stats: ReadStats) -> Callable[[], Optional[float]]:
    """For a progress line: the share of ``specs`` read so far, from the file sizes on disk, when
    every file is uncompressed text (.jsonl, .ndjson, .txt); otherwise None (unknown)."""
    try:
        files = expand_paths(specs)
    except (OSError, ValueError):
        files = []
    plain = bool(files) and all(p.name.lower().endswith((".jsonl", ".ndjson", ".txt")) for p in files)
    total = sum(p.stat().st_size for p in files) if plain else 0

    def fraction() -> Optional[float]:
        return min(stats.bytes_read / total, 1.0) if total else None

    return fraction


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """--source, --text-field, --on-error: reading a pool of documents."""
    group = parser.add_argument_group("input")
    group.add_argument("--source", nargs="+", required=True, metavar="S",
                       help="pool files, directories or globs (.jsonl, .jsonl.gz, .jsonl.zst, .parquet, .txt)")
    group.add_argument("--text-field", default="text", help="field holding the text (default: text)")
    group.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                       help="on a bad record: stop with an error naming file and line (raise, default), "
                            "or skip it and count it in the report (skip)")


def add_select_arguments(parser: argparse.ArgumentParser, score_field: str) -> None:
    """The arguments every `zipsift select METHOD` shares."""
    parser.add_argument("--target", nargs="+", required=True, metavar="T",
                        help="target examples: files, directories or globs, read like --source")
    add_source_arguments(parser)
    size = parser.add_argument_group("how much to keep (one of)").add_mutually_exclusive_group(required=True)
    size.add_argument("--k", type=positive_int, help="keep this many records")
    size.add_argument("--budget-bytes", type=positive_int, metavar="B",
                      help="keep the best records while their texts total at most B bytes (UTF-8)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, metavar="OUT.jsonl",
                     help="selected records, best first, written atomically (.jsonl, .jsonl.gz, .jsonl.zst; "
                          "a symlink is written through; - for standard output)")
    out.add_argument("--score-field", default=score_field,
                     help=f"field added to each output record with its score (default: {score_field})")
    out.add_argument("--report", metavar="REPORT.json", help="write a JSON report of the run")
    run = add_execution_arguments(parser)
    run.add_argument("--batch-size", type=positive_int, default=4096, help="records scored per batch (default 4096)")
    add_engine_arguments(run)


def add_engine_arguments(group, splits: bool = True) -> None:
    """--engine, --ray-address, --ray-actors (and with ``splits``, --split-bytes): run on this
    machine or on a Ray cluster (zipsift.engine)."""
    group.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this process (default); ray: a Ray cluster, " +
                            ("same output" if splits else "--objective fl by GreeDi, an approximation of greedy") +
                            " (pip install \"zipsift[ray]\")")
    group.add_argument("--ray-address", metavar="ADDR",
                       help="Ray cluster to join (host:port, auto, ray://...); default: RAY_ADDRESS, else a local Ray")
    group.add_argument("--ray-actors", type=non_negative_int, default=0, metavar="N",
                       help="scoring actors (default 0: one per --threads CPUs of the cluster); "
                            "with --engine ray, --threads is threads per actor (default 0 means 1)"
                       if splits else "GreeDi's parts, one Ray task each (default 0: one per --threads CPUs of "
                                      "the cluster); with --engine ray, --threads is threads per part")
    if not splits:
        return
    group.add_argument("--split-bytes", type=positive_int, default=DEFAULT_SPLIT_BYTES, metavar="B",
                       help=f"with --engine ray: split files into pieces of about B bytes, each scored by one "
                            f"actor (default {DEFAULT_SPLIT_BYTES >> 20} MiB; gzip and one-frame zstd files stay whole)")


def add_execution_arguments(parser: argparse.ArgumentParser, threads: bool = True):
    """--threads and --progress, in an "execution" group (returned, for more options)."""
    run = parser.add_argument_group("execution")
    if threads:
        run.add_argument("--threads", type=thread_count, default=0,
                         help="worker threads (default 0: every core this process may use)")
    run.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                     help="progress on stderr: on a terminal only (auto), always, never")
    return run


class Selector(Protocol):
    def select(self, records, k=None, budget_bytes=None, text_field="text", batch_size=4096,
               on_progress=None, **options) -> List[ScoredRecord]: ...




def run_select(args: argparse.Namespace, method: str, make_selector: Callable[[List[str]], Selector],
               params: Dict[str, Any], select_options: Optional[Dict[str, Any]] = None,
               fit: Optional[FitPass] = None, fit_name: Optional[str] = None) -> int:
    """The `zipsift select METHOD` pipeline: read the targets, stream the sources through the
    selector, write the kept records (unchanged, plus the score field) best first, and report.

    ``select_options`` are passed on to ``selector.select`` (method-specific keywords). ``fit``, when
    given, runs first as its own streaming pass over the sources (with its own progress line); the
    report then has a ``fit`` entry with what that pass read. ``fit_name`` names the pass for the
    engines ("dsir_fit", "reference_sample", "length_baseline")."""
    start = time.perf_counter()
    check_outputs([("--out", args.out), ("--report", args.report)],
                  [("--source", args.source), ("--target", args.target)], {"--out": JSONL_OUTPUT})
    target_stats = ReadStats()
    targets = read_texts(args.target, text_field=args.text_field, on_error=args.on_error, stats=target_stats)
    if not targets:
        raise nothing_usable("--target", args.target, target_stats, "there is nothing to compare the pool with")
    job = SelectJob(method=method, sources=args.source, targets=targets, make_selector=make_selector, k=args.k,
                    budget_bytes=args.budget_bytes, text_field=args.text_field, on_error=args.on_error,
                    reserved_fields=(args.score_field,), batch_size=args.batch_size, options=select_options or {},
                    fit=fit, fit_name=fit_name, fit_sample=getattr(args, "fit_sample", None),
                    fit_records=getattr(args, "reference_sample", None) or getattr(args, "length_sample", None),
                    fit_seed=getattr(args, "reference_seed", None) if getattr(args, "reference_sample", None) else None,
                    progress=lambda label, read=None: ProgressLine(
                        enabled=progress_enabled(args), label=label,
                        fraction=None if read is None else input_fraction(args.source, read)))
    try:
        result = engine_from_args(args).select(job)
    except EmptyPool as empty:
        raise empty_source(args.source, empty.stats) from None
    except (NotDistributed, ConnectionError) as err:
        raise UsageError(str(err)) from None
    kept, source_stats, fit_stats, engine_info = result.kept, result.stats, result.fit_stats, result.info

    if source_stats.records == 0:
        raise empty_source(args.source, source_stats)
    notes = []
    if args.k is not None and args.k > source_stats.records:
        notes.append(f"--k {args.k:,} is more than the {source_stats.records:,} usable records of the pool; "
                     f"kept {len(kept):,}")
    selected_bytes = 0
    with AtomicWriter(args.out) as out:
        for item in kept:
            selected_bytes += len(item.record[args.text_field].encode("utf-8"))
            out.write(dumps_record({**item.record, args.score_field: item.score}))
            out.write("\n")

    seconds = time.perf_counter() - start
    print(f"zipsift select {method}: kept {len(kept):,} of {source_stats.records:,} records "
          f"({selected_bytes:,} bytes) -> {args.out} in {seconds:.1f} s"
          + (f"; skipped {sum(source_stats.skipped.values()):,} bad records" if source_stats.skipped else "")
          + (f"; skipped {source_stats.empty_texts:,} empty texts" if source_stats.empty_texts else ""),
          file=sys.stderr)
    for note in notes:
        print(f"zipsift select {method}: note: {note}", file=sys.stderr)
    if args.report:
        write_report(args.report, {
            **report_header(f"select {method}", method, args.threads),
            "params": params,
            "records_read": source_stats.records,
            "records_skipped": dict(sorted(source_stats.skipped.items())),
            "records_selected": len(kept),
            "bytes_selected": selected_bytes,
            "k": args.k,
            "budget_bytes": args.budget_bytes,
            "sources": source_stats.as_dict(),
            "targets": target_stats.as_dict(),
            **({"fit": fit_stats.as_dict()} if fit_stats is not None else {}),
            **({"ray": engine_info} if engine_info is not None else {}),
            "output": args.out,
            "notes": notes,
            "seconds": round(seconds, 3),
            "build": build_info(),
        }, written=[("--out", args.out)])
    return 0


def engine_from_args(args: argparse.Namespace):
    """The engine the command line asks for (--engine and its options)."""
    if getattr(args, "engine", "local") == "ray":
        return ray_engine(address=args.ray_address, actors=args.ray_actors, threads=args.threads,
                          split_bytes=getattr(args, "split_bytes", DEFAULT_SPLIT_BYTES))
    return LocalEngine()


def nothing_usable(option: str, specs, stats: ReadStats, consequence: str) -> UsageError:
    """The error for an input without one usable record, saying why: how many records were
    skipped, and for what (a wrong --text-field shows as every record missing the field)."""
    skipped = sum(stats.skipped.values())
    counts = ", ".join(f"{reason} {n:,}" for reason, n in sorted(stats.skipped.items()))
    why = f"no usable record; skipped: {counts}" if skipped else "it holds no records"
    if stats.skipped.get(MISSING_FIELD):
        why += " (is --text-field right?)"
    return UsageError(f"{option} {' '.join(map(str, specs))}: {why}; {consequence}")


def empty_source(specs, stats: ReadStats) -> UsageError:
    """The error for a pool without one usable record."""
    return nothing_usable("--source", specs, stats, "there is nothing to select from")
