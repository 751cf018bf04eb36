"""The `--db` option the store's commands share (argument > NETCHECK_DB > default path)."""

from __future__ import annotations

import argparse
from pathlib import Path

from netcheck.store import default_db_path

__all__ = ["DB_HELP", "add_db_option", "db_path"]

DB_HELP = (
    "the sweep database (default: $NETCHECK_DB, else $XDG_DATA_HOME/netcheck/netcheck.db, "
    "i.e. ~/.local/share/netcheck/netcheck.db)"
)


def add_db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, metavar="PATH", help=DB_HELP)


def db_path(args: argparse.Namespace) -> Path:
    path: Path | None = args.db
    return path.expanduser() if path is not None else default_db_path()
