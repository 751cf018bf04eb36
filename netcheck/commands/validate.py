"""`netcheck validate FILE…`: load and check topologies; opens no connection."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from netcheck.commands.common import EXIT_GO
from netcheck.plan import build_plan
from netcheck.topology import load_topology


def register(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        description="Load and validate topology files. Every error names file:line:column "
        "and field.",
    )
    p.add_argument("topology", nargs="+", type=Path)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    for path in args.topology:
        topo = load_topology(path)
        plan = build_plan(topo)
        out.write(
            f"{path}: OK — {len(topo.hosts)} hosts, {len(topo.sites)} sites, "
            f"{len(topo.paths)} paths, {len(plan.specs)} cells\n"
        )
    return EXIT_GO
