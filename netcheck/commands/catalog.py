"""`netcheck catalog`: the built-in ASR failback port matrix with evidence and sources."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from tabulate import tabulate

from netcheck.catalog import Rule, Target, load_catalog
from netcheck.commands.common import EXIT_GO


def register(sub: Any) -> None:
    p = sub.add_parser(
        "catalog",
        description="The documented port matrix netcheck probes, with evidence level and doc "
        "reference.",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=run)


def _target(t: Target) -> str:
    return t if isinstance(t, str) else t.value


def _port(r: Rule) -> str:
    return str(r.port) if isinstance(r.port, int) else r.port.value


def run(args: argparse.Namespace, out: TextIO) -> int:
    cat = load_catalog()
    if args.format == "json":
        rows = [
            {
                "id": r.id,
                "flows": list(r.flows),
                "from": [s.value for s in r.sources],
                "to": [_target(t) for t in r.targets],
                "proto": r.proto,
                "port": r.port if isinstance(r.port, int) else r.port.value,
                "phase": r.phase,
                "evidence": r.evidence.value,
                "doc": r.doc,
                "hint": r.hint,
            }
            for r in cat.rules
        ]
        doc = {"rules": rows, "azure_endpoints": list(cat.azure_endpoints)}
        out.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_GO
    table = [
        [
            r.id,
            ",".join(map(str, r.flows)),
            ",".join(s.value for s in r.sources),
            ",".join(_target(t) for t in r.targets),
            f"{r.proto}/{_port(r)}",
            r.evidence.value,
            r.phase,
        ]
        for r in cat.rules
    ]
    headers = ["rule", "flows", "from", "to", "port", "evidence", "phase"]
    out.write(tabulate(table, headers=headers, tablefmt="simple") + "\n")
    return EXIT_GO
