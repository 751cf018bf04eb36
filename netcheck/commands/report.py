"""`netcheck report SWEEP_ID`: render a stored sweep in any report format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from netcheck.commands._db import add_db_option, db_path
from netcheck.commands.common import EXIT_GO, deliver, open_output
from netcheck.report.formats import FORMATS, render
from netcheck.store import load_sweep, open_store, resolve_sweep_id


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="render a stored sweep (table, json, junit, prom, md, ...)",
        description="Render a sweep from the database in any report format, as `netcheck "
        "sweep` would have. SWEEP_ID is an id from `netcheck history`, a unique prefix of "
        "one, or `last`. Exit code 0 when the report was written (the sweep's verdict is in "
        "the report).",
    )
    p.add_argument("sweep_id", metavar="SWEEP_ID")
    p.add_argument("--format", choices=list(FORMATS), default="table")
    p.add_argument("-o", "--output", type=Path, help="write the report to this file")
    add_db_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_store(db_path(args)) as conn:
        sweep_id = resolve_sweep_id(conn, args.sweep_id)
        sweep = load_sweep(conn, sweep_id)
        (stored_verdict,) = conn.execute(
            "SELECT verdict FROM sweeps WHERE id = ?", (sweep_id,)
        ).fetchone()
    if stored_verdict == "no-go" and sweep.go:
        # the store keeps the connectivity cells; bandwidth tests and readiness checks,
        # which can also make a sweep no-go, are not stored yet
        sys.stderr.write(
            f"netcheck: note: sweep {sweep_id} was NO-GO when it ran; its bandwidth and "
            f"readiness results are not stored, so this report shows its connectivity cells "
            f"(all passing) only\n"
        )
    text = render(sweep, args.format)
    target = open_output(args.output)
    if not deliver(text, target, args.output, out):
        return EXIT_GO
    sys.stderr.write(f"sweep {sweep.sweep_id}: report written to {args.output}\n")
    return EXIT_GO
