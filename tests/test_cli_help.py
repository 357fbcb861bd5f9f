"""Every option of every command says what it does in --help."""
from __future__ import annotations

import argparse

from zipsift.cli import build_parser


def commands(parser: argparse.ArgumentParser, path=("zipsift",)):
    """(command path, parser) for the parser and every subcommand under it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, path + (name,))


def test_every_option_of_every_command_has_help():
    missing = []
    for path, parser in commands(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_the_walk_reaches_the_commands_that_lacked_help():
    paths = {" ".join(p) for p, _ in commands(build_parser())}
    assert {"zipsift synth plan", "zipsift augment split", "zipsift augment dataset",
            "zipsift select submodular"} <= paths
