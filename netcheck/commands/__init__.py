"""One module per `netcheck` subcommand, imported only when it is the one that runs.

Each module has `register(subparsers)`, which adds its parser and sets
`handler=run` on it; `run(args, out) -> exit code`. The one-line summary each
command shows in `netcheck --help` lives here, in `COMMANDS`, so that listing
needs no command module: `netcheck sweep` imports the sweep and nothing of
`watch`, `init` or `lab` (start-up time is part of every command's time).
Adding a command is one module and one line in `COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = ["COMMANDS", "Command", "register_commands"]


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # the line `netcheck --help` lists it with

    def load(self) -> ModuleType:
        return importlib.import_module(f"netcheck.commands.{self.name}")


# in the order `netcheck --help` lists them
COMMANDS: tuple[Command, ...] = (
    Command("sweep", "run the connectivity sweep and print the matrix report"),
    Command("watch", "sweep on an interval and serve the results at /metrics for Prometheus"),
    Command("plan", "print the cells a sweep would probe, without sending a packet"),
    Command("validate", "check topology files; opens no connection"),
    Command("init", "write a topology from Azure CLI JSON and/or an Ansible inventory"),
    Command(
        "readiness",
        "check the failback prerequisites (master target, retention volume, groups, sizing)",
    ),
    Command(
        "bandwidth",
        "measure TCP throughput between two hosts' agents and judge it against the RPO",
    ),
    Command("nic", "per-NIC checks of a multi-NIC host (the dual-NIC configuration server)"),
    Command("history", "list the stored sweeps, newest first"),
    Command("report", "render a stored sweep (table, json, junit, prom, md, ...)"),
    Command("diff", "what changed between two stored sweeps"),
    Command("catalog", "print the built-in ASR failback port matrix with sources"),
    Command("agent", "build the agent zipapp (the SSH transport does this on demand)"),
    Command("lab", "build the failback site in network namespaces on this machine (root)"),
)
_BY_NAME = {c.name: c for c in COMMANDS}


class _Subparsers:
    """The subparsers action as a command module sees it: its parser gets the
    command's summary from `COMMANDS` (one place for that line)."""

    def __init__(self, action: Any) -> None:
        self._action = action

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("help", _BY_NAME[name].summary)
        parser: argparse.ArgumentParser = self._action.add_parser(name, **kwargs)
        return parser


#: The top-level options that take a value as the next word (`--color never`).
_OPTIONS_WITH_VALUE = frozenset({"--color", "--colour"})


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command `argv` runs: its first word that names one, after the top-level
    options; None for `netcheck --help` and the like."""
    words = iter(argv)
    for word in words:
        if word in _BY_NAME:
            return word
        if word in _OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return None  # not a command: the parser says so, with every command listed
    return None


def register_commands(sub: Any, argv: Sequence[str]) -> None:
    """Add every command to the subparsers `sub`: in full the one `argv` runs, the
    others by name and summary only (all in full when no command is chosen, so the
    top-level help and its errors list them the same way)."""
    chosen = chosen_command(argv)
    wrapped = _Subparsers(sub)
    for command in COMMANDS:
        if chosen is None or command.name == chosen:
            command.load().register(wrapped)
        else:
            sub.add_parser(command.name, help=command.summary, add_help=False)
