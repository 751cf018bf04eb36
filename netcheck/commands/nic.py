"""`netcheck nic FILE --host HOST`: troubleshoot a multi-NIC host (the dual-NIC
configuration server): every flow from and to each of its NICs, the route the OS picks,
subnet overlap, asymmetric returns and rp_filter, duplicate addresses."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from netcheck.commands.common import (
    EXIT_GO,
    EXIT_INTERRUPTED,
    EXIT_NO_GO,
    add_ssh_options,
    add_sweep_settings,
    deliver,
    make_transports,
    open_output,
    plan_from_args,
    run_interruptible,
)
from netcheck.errors import UsageError
from netcheck.nic.run import NicOptions
from netcheck.report.nic_report import render_nic_json, render_nic_table
from netcheck.sweep import run_sweep


def register(sub: Any) -> None:
    p = sub.add_parser(
        "nic",
        description="Probe every flow of the plan that involves HOST from (and to) each of its "
        "NICs — and the host → peer direction where the peer runs an agent — and check what "
        "the host itself says: which interface and source address the OS picks per "
        "destination, subnet overlap between the source site and Azure (topology and live "
        "interfaces), replies returning on another NIC (captured, needs scapy and root on "
        "Linux) with the reverse-path filter that drops them, and another machine answering "
        "ARP for a NIC's address. A check that can't run says why (AS/vmware-azure-prepare-"
        "failback.md: two NICs, retained IPs, no overlap).",
        epilog="exit codes: 0 clean (no failing finding, every NIC the selection rule picks "
        "reaches its peers), 1 not clean, 2 usage or topology error, 130 interrupted",
    )
    p.add_argument("topology", type=Path)
    p.add_argument("--host", required=True, help="the multi-NIC host, e.g. cs01")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("-o", "--output", type=Path, help="write the report to this file")
    add_sweep_settings(p)
    add_ssh_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    plan = plan_from_args(args)
    topo = plan.topology
    try:
        host = topo.host(args.host)
    except KeyError:
        names = ", ".join(h.name for h in topo.hosts if len(h.nics) > 1) or "none"
        raise UsageError(
            f"{topo.source}: no host {args.host!r}; hosts with more than one NIC: {names}"
        ) from None
    if len(host.nics) < 2:
        raise UsageError(f"{topo.source}: {host.name} has one NIC; declare its nics: first")
    if not host.agent.runs:
        raise UsageError(
            f"{topo.source}: {host.name} has agent: none; the NIC checks read the host itself"
        )
    plan = replace(
        plan,
        specs=tuple(s for s in plan.specs if host.name in (s.source_host, s.dest_host)),
    )
    target = open_output(args.output)
    result = asyncio.run(
        run_interruptible(
            run_sweep(
                plan,
                make_transports(args),
                nic=NicOptions(host=host.name, peers_per_group=None),
            )
        )
    )
    report = next(r for r in result.nics if r.host == host.name)
    if args.format == "json":
        agents = [
            {
                "host": a.host,
                "available": a.available,
                "reason": a.reason,
                "capabilities": a.capabilities,
            }
            for a in result.agents
        ]
        text = render_nic_json(report, {"name": topo.name, "file": topo.source}, agents)
    else:
        header = f"netcheck nic {host.name} of {topo.name!r} ({topo.source})"
        down = [
            f"agent unavailable on {a.host}: {a.reason}" for a in result.agents if not a.available
        ]
        text = render_nic_table(report, header)
        if down:
            text += "\n" + "\n".join(down) + "\n"
    deliver(text, target, args.output, out)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_GO if report.clean else EXIT_NO_GO
