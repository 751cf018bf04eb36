"""`netcheck plan FILE`: the cells a sweep would probe, without sending a packet."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from netcheck.commands.common import EXIT_GO, add_sweep_settings, plan_from_args
from netcheck.report import render_plan_json, render_plan_table


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="print the cells a sweep would probe, without sending a packet",
        description="Expand the topology against the ASR failback port catalog and print the "
        "cells: source host and NIC, destination NIC, port, expectation, path and rule.",
    )
    p.add_argument("topology", type=Path)
    p.add_argument("--format", choices=["table", "json"], default="table")
    add_sweep_settings(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    plan = plan_from_args(args)
    out.write(render_plan_json(plan) if args.format == "json" else render_plan_table(plan))
    return EXIT_GO
