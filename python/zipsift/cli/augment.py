"""`zipsift augment local|global|split|dataset`: in-context augmentation of fine-tuning data."""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

from .. import __version__
from ..io import ReadStats, iter_records, write_jsonl
from .common import (JSONL_OUTPUT, Progress, UsageError, add_execution_arguments, check_outputs, non_negative_int,
                     positive_int, progress_enabled, write_report)

DESCRIPTION = """\
Augment fine-tuning data with a model's own in-context inferences (Lampinen et al. 2025).

  local   per document (or sentence): rephrasings, reversals and direct inferences
  global  the whole training set in context, then one document: inferences linking it to the rest
          (chunked when the set exceeds --max-context-chars)
  split   each document as one example per sentence (independent) or per prefix (cumulative)
  dataset the paper's controlled nonsense-word test sets (reversals, syllogisms)

The model is any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, ...). Output records are
{"id", "text", "source_id", "strategy"}, one per inference, deduplicated, written atomically. The
API key, if the server needs one, is read from the environment variable named by --api-key-env.
"""

EPILOG = """\
example:
  zipsift augment local --in docs.jsonl --out aug.jsonl --endpoint http://127.0.0.1:8000/v1 --model qwen2.5-7b
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("augment", help="augment fine-tuning data with in-context inferences",
                                 description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(title="strategies", metavar="STRATEGY")
    for name, helptext in (("local", "rephrasings, reversals and inferences of each document"),
                           ("global", "inferences linking each document to the whole set")):
        p = sub.add_parser(name, help=helptext, description=DESCRIPTION, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _io_arguments(p)
        model = p.add_argument_group("model")
        model.add_argument("--endpoint", required=True, metavar="URL", help="API root, e.g. http://127.0.0.1:8000/v1")
        model.add_argument("--model", required=True, metavar="NAME", help="model name the server serves")
        model.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                           help="environment variable holding the API key (default OPENAI_API_KEY; unset = none)")
        model.add_argument("--template", metavar="FILE", help="prompt template file with {text}"
                                                             + (" and {corpus}" if name == "global" else ""))
        model.add_argument("--temperature", type=float, default=0.0,
                           help="sampling temperature (default 0: the most likely answer)")
        model.add_argument("--max-tokens", type=positive_int, help="cap on generated tokens per call")
        model.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
        model.add_argument("--max-retries", type=non_negative_int, default=3,
                           help="retries of a failed or timed-out request before giving up (default 3)")
        model.add_argument("--concurrency", type=positive_int, default=4, help="requests in flight (default 4)")
        aug = p.add_argument_group("augmentation")
        if name == "local":
            aug.add_argument("--unit", choices=("document", "sentence"), default="document",
                             help="prompt once per document (default) or per sentence")
        else:
            aug.add_argument("--max-context-chars", type=positive_int, default=100_000,
                             help="characters that fit the model's context (about 4 per token; default 100000)")
        aug.add_argument("--near-threshold", type=float, default=None,
                         help="NCD at or below which two inferences of a document are duplicates (default 0.12)")
        aug.add_argument("--exact-only", action="store_true", help="drop exact duplicates only, no NCD")
        p.add_argument("--report", metavar="REPORT.json", help="write counts and settings as JSON")
        add_execution_arguments(p, threads=False)
        p.set_defaults(run=run_augment, strategy=name)

    split = sub.add_parser("split", help="one example per sentence or per sentence prefix")
    _io_arguments(split)
    split.add_argument("--mode", choices=("independent", "cumulative"), default="independent",
                       help="independent: one example per sentence (default); cumulative: one per prefix of "
                            "1, 2, ... sentences")
    split.set_defaults(run=run_split)

    dataset = sub.add_parser("dataset", help="write a controlled nonsense-word test set",
                             description="Write the train documents and multiple-choice test items of a "
                                         "reversal or syllogism set (Lampinen et al. 2025), reproducible from --seed.")
    dataset.add_argument("kind", choices=("reversal", "syllogism"),
                         help="reversal: one fact per document ('a are r than b'), tested on its converse; syllogism: "
                              "two premises per document, tested on what follows")
    dataset.add_argument("--n", type=positive_int, required=True, help="facts (reversal) or syllogisms")
    dataset.add_argument("--seed", type=int, default=0, help="seed of the nonsense words and items (default 0)")
    dataset.add_argument("--train", required=True, metavar="TRAIN.jsonl",
                         help="the train documents, written atomically (.jsonl, .jsonl.gz, .jsonl.zst)")
    dataset.add_argument("--test", required=True, metavar="TEST.jsonl",
                         help="the multiple-choice test items, written atomically")
    dataset.set_defaults(run=run_dataset)
    parser.set_defaults(run=lambda args: (parser.print_help(sys.stderr), 2)[1])


def _io_arguments(p: argparse.ArgumentParser) -> None:
    io = p.add_argument_group("input/output")
    io.add_argument("--in", dest="inputs", nargs="+", required=True, metavar="DOCS",
                    help="documents: .jsonl(.gz/.zst), .parquet or .txt files, directories or globs")
    io.add_argument("--out", required=True, metavar="OUT.jsonl", help="output records, written atomically")
    io.add_argument("--text-field", default="text", help="field holding the document text (default: text)")
    io.add_argument("--id-field", default="id", help="field with the document id (default id; else its position)")


def run_augment(args: argparse.Namespace) -> int:
    from ..augment import (GLOBAL_TEMPLATE, LOCAL_TEMPLATE, NEAR_THRESHOLD, GenerationError, OpenAIChat,
                           global_augment, local_augment)

    check_outputs([("--out", args.out), ("--report", args.report)],
                  [("--in", args.inputs), ("--template", args.template)], {"--out": JSONL_OUTPUT})
    if args.exact_only and args.near_threshold is not None:
        raise UsageError("--exact-only and --near-threshold exclude each other")
    near = None if args.exact_only else (NEAR_THRESHOLD if args.near_threshold is None else args.near_threshold)
    template = LOCAL_TEMPLATE if args.strategy == "local" else GLOBAL_TEMPLATE
    if args.template:
        with open(args.template, encoding="utf-8") as fh:
            template = fh.read()
    chat = OpenAIChat(args.endpoint, args.model, api_key=os.environ.get(args.api_key_env) or None,
                      timeout=args.timeout, max_retries=args.max_retries, max_concurrency=args.concurrency,
                      temperature=args.temperature, max_tokens=args.max_tokens)
    read = ReadStats()
    records = _non_empty(args.inputs, iter_records(args.inputs, text_field=args.text_field, stats=read))
    stats: dict = {}
    start = time.perf_counter()
    with Progress(unit="records", enabled=progress_enabled(args)) as progress:
        def counted(it):
            for r in it:
                progress.update(1)
                yield r

        if args.strategy == "local":
            out = local_augment(records, chat, template=template, unit=args.unit, near_threshold=near,
                                workers=args.concurrency, id_field=args.id_field, text_field=args.text_field,
                                stats=stats)
        else:
            out = global_augment(records, chat, template=template, max_context_chars=args.max_context_chars,
                                 near_threshold=near, workers=args.concurrency, id_field=args.id_field,
                                 text_field=args.text_field, stats=stats)
        try:
            n = write_jsonl(args.out, counted(out))
        except GenerationError as err:  # the output was not written; say why without a traceback
            print(f"zipsift: error: {err}; nothing was written to {args.out}", file=sys.stderr)
            return 1
    seconds = time.perf_counter() - start
    dropped = stats["dropped_same_as_source"] + stats["dropped_exact_duplicate"] + stats["dropped_near_duplicate"]
    print(f"zipsift augment {args.strategy}: {stats['sources']:,} documents, {stats['prompts']:,} calls, "
          f"{stats['inferences_parsed']:,} inferences, {dropped:,} duplicates dropped -> {n:,} records in {args.out} "
          f"({seconds:.1f} s)", file=sys.stderr)
    if args.report:
        write_report(args.report, {"zipsift_version": __version__, "command": f"augment {args.strategy}",
                                   "endpoint": args.endpoint, "model": args.model, "near_threshold": near,
                                   "inputs": read.as_dict(), "counts": stats, "output": args.out,
                                   "seconds": round(seconds, 3)}, written=[("--out", args.out)])
    return 0


def _non_empty(inputs, records):
    """``records``, or a UsageError before anything is written when there is none."""
    first = next(records, None)
    if first is None:
        raise UsageError(f"--in {' '.join(inputs)}: it holds no records; there is nothing to augment")
    return itertools.chain([first], records)


def run_split(args: argparse.Namespace) -> int:
    from ..augment import sentence_examples

    check_outputs([("--out", args.out)], [("--in", args.inputs)], {"--out": JSONL_OUTPUT})
    records = _non_empty(args.inputs, iter_records(args.inputs, text_field=args.text_field))
    n = write_jsonl(args.out, sentence_examples(records, args.mode, id_field=args.id_field, text_field=args.text_field))
    print(f"zipsift augment split: {n:,} examples ({args.mode}) -> {args.out}", file=sys.stderr)
    return 0


def run_dataset(args: argparse.Namespace) -> int:
    from ..augment import reversal_dataset, syllogism_dataset

    check_outputs([("--train", args.train), ("--test", args.test)],
                  suffixes={"--train": JSONL_OUTPUT, "--test": JSONL_OUTPUT})
    data = (reversal_dataset if args.kind == "reversal" else syllogism_dataset)(args.n, seed=args.seed)
    write_jsonl(args.train, data["train"])
    write_jsonl(args.test, data["test"])
    print(f"zipsift augment dataset {args.kind}: {len(data['train'])} train documents -> {args.train}, "
          f"{len(data['test'])} test items -> {args.test}", file=sys.stderr)
    return 0
