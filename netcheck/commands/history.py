"""`netcheck history`: the stored sweeps, newest first."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, TextIO

from tabulate import tabulate

from netcheck.commands._db import add_db_option, db_path
from netcheck.commands.common import EXIT_GO, positive_int
from netcheck.store import SweepSummary, list_sweeps, open_store


def register(sub: Any) -> None:
    p = sub.add_parser(
        "history",
        description="Every `netcheck sweep` is stored (see --db). This lists them: id, when, "
        "topology, verdict, cells passed and failed. Use an id (or a unique prefix, or `last`) "
        "with `netcheck report` and `netcheck diff`.",
    )
    p.add_argument("--limit", type=positive_int, default=20, help="how many (default 20)")
    p.add_argument("--topology", metavar="NAME", help="only sweeps of this topology name")
    p.add_argument("--format", choices=["table", "json"], default="table")
    add_db_option(p)
    p.set_defaults(handler=run)


def _verdict(s: SweepSummary) -> str:
    if s.verdict is None:
        return "INCOMPLETE"  # killed or crashed: what it measured is stored
    return "GO" if s.verdict == "go" else "NO-GO"


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _duration(s: SweepSummary) -> str:
    return "-" if s.finished_at is None else f"{s.finished_at - s.started_at:.1f}s"


def run(args: argparse.Namespace, out: TextIO) -> int:
    path = db_path(args)
    with open_store(path) as conn:
        sweeps = list_sweeps(conn, limit=args.limit, topology=args.topology)
    if args.format == "json":
        rows = [
            {
                "sweep_id": s.sweep_id,
                "topology": {"name": s.topology_name, "file": s.topology_file},
                "started_at": s.started_at,
                "finished_at": s.finished_at,
                "verdict": s.verdict,
                "partial": s.partial,
                "cells": s.cells,
                "passed": s.passed,
                "failed": s.cells - s.passed,
                "not_measured": s.cells - s.recorded,
            }
            for s in sweeps
        ]
        out.write(json.dumps({"database": str(path), "sweeps": rows}, indent=2) + "\n")
        return EXIT_GO
    if not sweeps:
        which = f" of topology {args.topology!r}" if args.topology else ""
        out.write(f"no sweeps{which} stored in {path}\n")
        return EXIT_GO
    table = [
        [
            s.sweep_id,
            _when(s.started_at),
            _duration(s),
            s.topology_name,
            _verdict(s),
            f"{s.passed}/{s.cells}",
            str(s.cells - s.passed),
            "PARTIAL" if s.partial else "",
        ]
        for s in sweeps
    ]
    headers = ["id", "started", "took", "topology", "verdict", "passed", "failed", "partial"]
    out.write(tabulate(table, headers=headers, tablefmt="simple", disable_numparse=True) + "\n")
    return EXIT_GO
