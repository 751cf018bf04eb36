"""`netcheck report SWEEP_ID`: render a stored sweep in any report format."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from netcheck.commands._db import add_db_option, db_path
from netcheck.commands.common import EXIT_GO, EXIT_NO_GO, deliver, open_output
from netcheck.commands.output import add_report_options, render_report, report_format
from netcheck.store import load_sweep, open_store, resolve_sweep_id


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        description="Render a sweep from the database in any report format, as `netcheck "
        "sweep` would have. SWEEP_ID is an id from `netcheck history`, a unique prefix of "
        "one, or `last`. The report is the one `netcheck sweep --format F` printed for that "
        "sweep. Exit code: the sweep's verdict, 0 GO and 1 NO-GO (an interrupted sweep is "
        "NO-GO); 2 when the report can't be written.",
    )
    p.add_argument("sweep_id", metavar="SWEEP_ID")
    add_report_options(p, "write the report to this file")
    add_db_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_store(db_path(args)) as conn:
        sweep_id = resolve_sweep_id(conn, args.sweep_id)
        sweep = load_sweep(conn, sweep_id)
        stored_verdict, whole = conn.execute(
            "SELECT verdict, result IS NOT NULL FROM sweeps WHERE id = ?", (sweep_id,)
        ).fetchone()
    go = sweep.go
    if not whole and stored_verdict is not None:
        # stored by a netcheck before schema 3: cells, agents and diagnostics only
        go = stored_verdict == "go"
        if go != sweep.go:
            sys.stderr.write(
                f"netcheck: note: sweep {sweep_id} was stored by an older netcheck, which kept "
                f"its connectivity cells but not its bandwidth, readiness and NIC results; it "
                f"was {'GO' if go else 'NO-GO'} when it ran, and this report shows what was "
                f"kept\n"
            )
    target = open_output(args.output)
    text = render_report(sweep, report_format(args), args, target or out)
    code = EXIT_GO if go else EXIT_NO_GO
    if deliver(text, target, args.output, out):
        sys.stderr.write(f"sweep {sweep.sweep_id}: report written to {args.output}\n")
    return code
