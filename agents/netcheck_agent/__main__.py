"""``python -m netcheck_agent`` / the zipapp: run one agent over stdin/stdout.

stdout is the protocol, so nothing else may write there: logs go to stderr
(warnings only) or to ``--log-file``, and ``sys.stdout`` is pointed at stderr
once the protocol stream is taken, so a stray ``print`` (ours or a library's)
cannot corrupt it. The agent exits by itself after ``--max-seconds`` even if
its coordinator never says goodbye.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from typing import List, Optional

from . import PROTOCOL_VERSION, __version__
from .agent import EXIT_LIFETIME, Agent
from .channels import StdioChannel


def _parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="netcheck-agent",
        description="netcheck agent: speaks protocol v1 (JSON lines) on stdin/stdout.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"netcheck-agent {__version__} (protocol {PROTOCOL_VERSION})",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=3600.0,
        help="hard lifetime cap: exit after this many seconds (default 3600)",
    )
    parser.add_argument("--log-file", help="write an INFO log here (never stdout)")
    args = parser.parse_args(argv)
    if not args.max_seconds > 0:
        parser.error("--max-seconds must be positive")
    return args


def _setup_logging(log_file: Optional[str]) -> None:
    root = logging.getLogger()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(fmt)
    root.addHandler(stderr)
    root.setLevel(logging.WARNING)
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(fmt)
        handler.setLevel(logging.INFO)
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def _raise_fd_limit() -> None:
    """Lift the soft descriptor limit to the hard one: probes are sockets."""
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 65536
        if soft != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse_args(argv)
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but protocol lines may reach the real stdout
    _setup_logging(args.log_file)
    _raise_fd_limit()
    channel = StdioChannel(sys.stdin.buffer, protocol_out)
    try:
        reason = asyncio.run(Agent(channel).run(max_seconds=args.max_seconds))
    except KeyboardInterrupt:
        return 130
    return 3 if reason == EXIT_LIFETIME else 0


if __name__ == "__main__":
    sys.exit(main())
