"""`netcheck sweep FILE`: run the connectivity sweep and report the matrix."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from netcheck.commands._db import DB_HELP, db_path
from netcheck.commands.azure_export import add_azure_export_options, predictions_from_args
from netcheck.commands.common import (
    EXIT_CODES_TEXT,
    EXIT_GO,
    EXIT_INTERRUPTED,
    EXIT_NO_GO,
    add_host_concurrency,
    add_ssh_options,
    add_sweep_settings,
    deliver,
    make_transports,
    open_output,
    plan_from_args,
    run_interruptible,
)
from netcheck.commands.output import add_report_options, render_report, report_format
from netcheck.demo import SilentPorts
from netcheck.diagnose import DiagnoseSettings
from netcheck.errors import OutputError
from netcheck.observers import Observers
from netcheck.plan import Plan
from netcheck.progress import TerminalProgress
from netcheck.readiness import has_inventory
from netcheck.report.formats import FORMATS
from netcheck.result.model import SweepResult
from netcheck.store import StoreObserver
from netcheck.sweep import run_sweep


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        description="Start an agent per source host, open responders on destination ports, "
        "probe every cell of the plan, and report the matrix with a GO / NO-GO verdict. "
        "Ctrl-C stops early and still prints what was measured, marked PARTIAL.",
        epilog=EXIT_CODES_TEXT,
    )
    p.add_argument("topology", type=Path)
    add_report_options(p, "write the report to this file instead of stdout")
    p.add_argument(
        "--no-progress", action="store_true", help="no live progress line on the terminal"
    )
    add_host_concurrency(p)
    g = p.add_argument_group("sweep history (see `netcheck history`, `report`, `diff`)")
    g.add_argument("--db", type=Path, metavar="PATH", help=f"store the sweep in {DB_HELP}")
    g.add_argument("--no-store", action="store_true", help="do not store this sweep")
    p.add_argument(
        "--no-readiness",
        action="store_true",
        help="skip the failback readiness checks (run when the topology has an inventory; "
        "see `netcheck readiness`)",
    )
    p.add_argument(
        "--no-diagnose",
        action="store_true",
        help="skip the path diagnostics after the probes (traceroute of failing cells to their "
        "port; per declared path: path taken, ICMP echo RTT/loss, path MTU)",
    )
    add_sweep_settings(p)
    add_ssh_options(p)
    add_azure_export_options(p)
    p.set_defaults(handler=run)


def _warn(message: str) -> None:
    sys.stderr.write(f"netcheck: warning: {message}\n")
    sys.stderr.flush()


async def _sweep(plan: Plan, args: argparse.Namespace, store: StoreObserver | None) -> SweepResult:
    progress = TerminalProgress() if not (args.no_progress or args.quiet) else None
    observer = Observers(progress, store)
    work = run_sweep(
        plan,
        make_transports(args),
        observer=observer,
        host_concurrency=args.host_concurrency,
        # failback readiness joins the verdict when the topology has an inventory
        readiness=has_inventory(plan.topology) and not args.no_readiness,
        diagnose=None if args.no_diagnose else DiagnoseSettings(),
        nsg=predictions_from_args(args, plan),
    )
    return await run_interruptible(work)


def run(args: argparse.Namespace, out: TextIO) -> int:
    plan = plan_from_args(args)
    target = open_output(args.output)
    # storing never stops a sweep: a database problem is a warning, the report still comes
    store = (
        None
        if args.no_store
        else StoreObserver(
            db_path(args), warn=_warn, only_rules=args.rule, topology_text=args.topology_text
        )
    )
    silent = SilentPorts(list(plan.topology.demo_silent_ports))
    try:
        # only this OSError is the silent ports' (one in the sweep has its own cause)
        try:
            silent.__enter__()
        except OSError as exc:
            if target:
                target.close()
            raise OutputError(f"could not open the demo's silent ports: {exc}") from None
        try:
            result = asyncio.run(_sweep(plan, args, store))
        finally:
            silent.close()
    finally:
        if store is not None:
            store.close()  # commits what a crash left buffered; no-op after on_finish
    fmt = report_format(args)
    text = render_report(result, fmt, args, target or out)
    stored = ""
    if store is not None and store.failed is None:
        stored = (
            f"{result.sweep_id} stored in {store.path} "
            f"(netcheck report {result.sweep_id} --format {'|'.join(FORMATS)})"
        )
    if deliver(text, target, args.output, out):
        verdict = "GO" if result.go else "NO-GO"
        sys.stderr.write(f"{verdict}: report written to {args.output}\n")
        if stored:
            sys.stderr.write(f"sweep {stored}\n")
    else:
        if stored and fmt == "table" and not args.quiet:
            out.write(f"\nSweep {stored}\n")  # one line: it names a path, not to be broken
        elif stored:  # keep the machine-readable output clean
            sys.stderr.write(f"sweep {stored}\n")
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_GO if result.go else EXIT_NO_GO
