"""`netcheck diff A B`: what changed between two stored sweeps."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from netcheck.commands._db import add_db_option, db_path
from netcheck.commands.common import EXIT_GO, EXIT_NO_GO
from netcheck.diff import diff_sweeps
from netcheck.report.diff_report import render_diff_json, render_diff_table
from netcheck.store import load_sweep, open_store, resolve_sweep_id


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if not value >= 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        description="Compare sweep B with sweep A, cell by cell: cells that changed verdict "
        "(regressed, fixed), median-RTT shifts beyond the threshold, and new and vanished "
        "cells and hosts. A and B are ids from `netcheck history`, unique prefixes, or `last`.",
        epilog="exit codes: 0 nothing got worse, 1 a cell regressed (passed in A, fails in B) "
        "or a new cell fails, 2 usage or database error",
    )
    p.add_argument("a", metavar="A", help="the earlier sweep (the baseline)")
    p.add_argument("b", metavar="B", help="the later sweep")
    p.add_argument(
        "--rtt-threshold-ms",
        type=_threshold,
        default=5.0,
        metavar="X",
        help="report median-RTT changes larger than X ms (default 5)",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    add_db_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_store(db_path(args)) as conn:
        a = load_sweep(conn, resolve_sweep_id(conn, args.a))
        b = load_sweep(conn, resolve_sweep_id(conn, args.b))
    d = diff_sweeps(a, b, args.rtt_threshold_ms)
    out.write(render_diff_json(d) if args.format == "json" else render_diff_table(d))
    return EXIT_NO_GO if d.worse else EXIT_GO
