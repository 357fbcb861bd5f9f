"""The `zipsift` command. Each command lives in its own module, which registers its subparser."""
from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Dict, List, Optional

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


class Parser(argparse.ArgumentParser):
    """argparse with zipsift's voice: a bad command line is one line saying what is wrong and where
    the help is, not the usage block first (subcommands inherit this class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
        print(f"zipsift: error: {in_flags(str(err), option_names(parser))}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1


def option_names(parser: argparse.ArgumentParser) -> Dict[str, str]:
    """Every option of the command tree by its Python name: {"text_field": "--text-field", ...}."""
    names: Dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for name, flag in option_names(sub).items():
                    names.setdefault(name, flag)
        elif action.option_strings and action.dest not in ("help", "version"):
            long = [o for o in action.option_strings if o.startswith("--")]
            names.setdefault(action.dest, (long or action.option_strings)[0])
    return names


# A keyword argument as the library's messages write it: name=, name='value' or name=123.
_KEYWORD = re.compile(r"\b([a-z][a-z0-9_]*)=(?:'([^']*)'|\"([^\"]*)\"|(-?[0-9][0-9.]*))?")


def in_flags(message: str, names: Dict[str, str]) -> str:
    """A library message in the command line's words: ``on_error='skip'`` becomes ``--on-error
    skip`` and ``text_field=`` becomes ``--text-field`` (for names that are options of zipsift);
    a flag the message already gave in parentheses after the keyword is not repeated."""

    def flag(match: re.Match) -> str:
        name = match.group(1)
        if name not in names:
            return match.group(0)
        value = next((v for v in match.group(2, 3, 4) if v is not None), None)
        return names[name] + (f" {value}" if value else "")

    out = _KEYWORD.sub(flag, message)
    # "--on-error skip (--on-error skip)": the library once spoke both languages; say it once.
    return re.sub(r"(--[a-z0-9-]+(?: [^\s()]+)?) \(\1\)", r"\1", out)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
