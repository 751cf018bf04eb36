"""`netcheck agent build`: write the agent zipapp."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from netcheck.commands.common import EXIT_GO
from netcheck.errors import OutputError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "agent",
        description="The agent is one zipapp, standard library only, run with the host's "
        "Python 3.9+ (python3 on Linux, python.exe on Windows). Its file name carries its "
        "content hash.",
    )
    agent_sub = p.add_subparsers(dest="agent_command", metavar="AGENT_COMMAND", required=True)
    build = agent_sub.add_parser("build", help="write netcheck-agent-<hash>.pyz")
    build.add_argument("--out", type=Path, default=Path("."), help="directory (default: .)")
    build.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    from netcheck_agent.zipapp_build import build_zipapp

    try:
        args.out.mkdir(parents=True, exist_ok=True)
        path = build_zipapp(args.out)
    except OSError as exc:
        raise OutputError(f"cannot write the agent to {args.out}: {exc.strerror or exc}") from None
    out.write(f"{path} ({path.stat().st_size // 1024} KiB)\n")
    return EXIT_GO
