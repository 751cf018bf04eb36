"""`netcheck readiness FILE`: the failback prerequisites, checked against the inventory
and (with --live) against the master targets themselves."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from netcheck_agent import protocol as p

from netcheck.commands.common import (
    EXIT_GO,
    EXIT_NO_GO,
    add_host_concurrency,
    add_limit_option,
    add_ssh_options,
    deliver,
    make_transports,
    open_output,
)
from netcheck.hostpattern import parse_pattern
from netcheck.limit import matching_hosts
from netcheck.readiness import LiveStatus, evaluate
from netcheck.readiness.live import gather_live_facts
from netcheck.report.readiness_report import render_readiness_json, render_readiness_table
from netcheck.topology import load_topology


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "readiness",
        description="Check the non-network prerequisites of an ASR failback "
        "(AS/vmware-azure-prepare-failback.md): at most 60 disks per master target, "
        "replication groups of one OS on a matching master target, no snapshots, LSI Logic "
        "controller, disk.EnableUUID, VMware Tools, Storage vMotion exclusion, the retention "
        "volume, a VMFS datastore, the process server's network, the configuration server's "
        "NICs, the fixed failback policy, and sizing hints. Facts come from the topology's "
        "inventory; --live also asks the agent on each master target. A check whose facts "
        "are missing says 'unknown' (it does not fail the run).",
        epilog="exit codes: 0 go (no failing check), 1 no-go, 2 usage or topology error",
    )
    parser.add_argument("topology", type=Path)
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument(
        "--live",
        action="store_true",
        help="start an agent on each master target (its agent: transport) and read its OS, "
        "retention volume and VMware Tools; live facts override declared ones",
    )
    parser.add_argument("-o", "--output", type=Path, help="write the report to this file")
    add_host_concurrency(parser)
    add_limit_option(parser)
    add_ssh_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    topo = load_topology(args.topology)
    # --limit: live facts only from the matching hosts, and only the findings about them
    # (or about no host: the policy, a replication group, the site)
    names = matching_hosts(topo, parse_pattern(args.limit)) if args.limit else None
    target = open_output(args.output)
    live: dict[str, p.Facts] = {}
    status: list[LiveStatus] = []
    if args.live:
        scope = (
            topo
            if names is None
            else replace(topo, hosts=tuple(h for h in topo.hosts if h.name in names))
        )
        live, status = asyncio.run(
            gather_live_facts(scope, make_transports(args), args.host_concurrency)
        )
    result = evaluate(topo, live, status, live_requested=args.live)
    if names is not None:
        hosts = {h.name for h in topo.hosts}
        result = replace(
            result,
            findings=tuple(
                f for f in result.findings if f.subject not in hosts or f.subject in names
            ),
        )
    text = (
        render_readiness_json(result, topo)
        if args.format == "json"
        else render_readiness_table(result, topo)
    )
    if names is not None and args.format != "json":
        text = f"LIMITED to hosts matching {args.limit!r} (--limit)\n" + text
    deliver(text, target, args.output, out)
    return EXIT_GO if result.go else EXIT_NO_GO
