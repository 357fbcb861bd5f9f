"""The `zipsift` command. Each command lives in its own module, which registers its subparser."""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from .. import __version__
from ..io import BadRecord, OutputError
from . import augment, evaluate, mixture, report, select_dsir, select_gain, select_submodular, select_zipfit, synth
from .common import UsageError

# `zipsift select METHOD ...`: one module per selection method.
SELECT_METHODS = [select_zipfit, select_dsir, select_submodular, select_gain]
# Other top-level commands: one module per command, each with register(subparsers).
COMMANDS: list = [mixture, synth, augment, evaluate, report]


def _version() -> str:
    from ..ncd import build_info

    libs = build_info()["libraries"]
    linked = ", ".join(f"{name} {v['runtime']}" for name, v in libs.items())
    return f"zipsift {__version__} ({linked})"


def _codecs(args: argparse.Namespace) -> int:
    from ..ncd import build_info

    print(json.dumps(build_info(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zipsift",
        description="Select and curate fine-tuning data on CPUs.",
        epilog="Run `zipsift COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    select = commands.add_parser("select", help="choose the records of a pool to train on",
                                 description="Choose the records of a pool to train on: the ones most like a "
                                             "target set (zipfit, dsir, gain), or a representative, diverse subset "
                                             "(submodular). Run `zipsift select METHOD --help` for a method's "
                                             "options.")
    methods = select.add_subparsers(title="methods", metavar="METHOD")
    for module in SELECT_METHODS:
        module.register(methods)
    select.set_defaults(run=lambda args: _missing(select))

    codecs = commands.add_parser("codecs", help="show the codecs and library versions compiled in",
                                 description="Print the codecs and the zlib/zstd versions the core was built "
                                             "against and runs with (scores depend on them), as JSON.")
    codecs.set_defaults(run=_codecs)

    for module in COMMANDS:
        module.register(commands)
    parser.set_defaults(run=lambda args: _missing(parser))
    return parser


def _missing(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("zipsift: interrupted; no output was written under the final name", file=sys.stderr)
        return 130
    except (BadRecord, UsageError, ValueError, FileNotFoundError, ImportError, TypeError, OutputError) as err:
        print(f"zipsift: error: {err}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
