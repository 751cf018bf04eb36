"""One module per `netcheck` subcommand.

Each module has `register(subparsers)`, which adds its parser and sets
`handler=run` on it; `run(args, out) -> exit code`. Adding a command is one
module and one line in `COMMANDS`.
"""

from __future__ import annotations

from types import ModuleType

from netcheck.commands import (
    agent,
    bandwidth,
    catalog,
    diff,
    history,
    init,
    lab,
    nic,
    plan,
    readiness,
    report,
    sweep,
    validate,
    watch,
)

__all__ = ["COMMANDS"]

# in the order `netcheck --help` lists them
COMMANDS: tuple[ModuleType, ...] = (
    sweep,
    watch,
    plan,
    validate,
    init,
    readiness,
    bandwidth,
    nic,
    history,
    report,
    diff,
    catalog,
    agent,
    lab,
)
