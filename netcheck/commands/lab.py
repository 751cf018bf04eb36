"""`netcheck lab …`: the network-namespace failback lab (see netcheck.lab.cli)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO


def register(sub: Any) -> None:
    from netcheck.lab.cli import add_lab_commands

    add_lab_commands(sub).set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    from netcheck.lab.cli import run_lab_command

    return run_lab_command(args, out)
