"""`netcheck bandwidth TOPOLOGY --from A --to B`: agent-to-agent throughput and the RPO verdict."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from netcheck_agent.bounds import BW_DURATION_S, BW_INTERVAL_MS, BW_STREAMS

from netcheck.agentclient import AgentClient
from netcheck.bandwidth import (
    BandwidthOutcome,
    BandwidthStatus,
    judge_bandwidth,
    run_bandwidth_checks,
)
from netcheck.bandwidth.run import unavailable
from netcheck.commands.common import (
    EXIT_CODES_TEXT,
    EXIT_GO,
    EXIT_INTERRUPTED,
    EXIT_NO_GO,
    add_ssh_options,
    deliver,
    in_range,
    make_transports,
    open_output,
    run_interruptible,
)
from netcheck.errors import TransportError, UsageError
from netcheck.report.bandwidth_report import render_bandwidth_json, render_bandwidth_table
from netcheck.topology import load_topology
from netcheck.topology.bandwidth import (
    DEFAULT_DURATION_S,
    DEFAULT_STREAMS,
    MAX_STREAMS,
    BandwidthCheck,
)
from netcheck.topology.model import Topology
from netcheck.transports.base import Transport


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bandwidth",
        description="Open a one-shot, token-protected endpoint on the --to host's agent and "
        "send to it from the --from host's agent for --duration seconds over --streams TCP "
        "connections (--reverse: the --to host sends, for when only --from can dial). The "
        "figure is compared with the path's expect.min_mbps and with the rate the protected "
        "VMs' declared churn needs to hold the failback policy's 15-minute RPO. Without "
        "--from/--to, runs the topology's bandwidth: section.",
        epilog=EXIT_CODES_TEXT,
    )
    p.add_argument("topology", type=Path)
    p.add_argument("--from", dest="source", metavar="HOST", help="the host that dials")
    p.add_argument("--to", dest="dest", metavar="HOST", help="the host that opens the endpoint")
    p.add_argument(
        "--duration",
        type=in_range(BW_DURATION_S),
        default=DEFAULT_DURATION_S,
        help=f"seconds of data (default {DEFAULT_DURATION_S:g})",
    )
    p.add_argument(
        "--streams",
        type=in_range(BW_STREAMS),
        default=DEFAULT_STREAMS,
        help=f"parallel TCP connections, 1..{MAX_STREAMS} (default {DEFAULT_STREAMS})",
    )
    p.add_argument("--reverse", action="store_true", help="the --to host sends, --from receives")
    p.add_argument("--port", type=int, default=0, help="endpoint port (default 0: any free port)")
    p.add_argument(
        "--interval-ms",
        type=in_range(BW_INTERVAL_MS),
        default=1000,
        help=f"sample interval ({BW_INTERVAL_MS.lo}..{BW_INTERVAL_MS.hi}, default 1000)",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("-o", "--output", type=Path, help="write the report here instead of stdout")
    add_ssh_options(p)
    p.set_defaults(handler=run)


def checks_from_args(topo: Topology, args: argparse.Namespace) -> tuple[BandwidthCheck, ...]:
    if args.source is None and args.dest is None:
        if not topo.bandwidth:
            raise UsageError(f"{topo.source} has no bandwidth: section; give --from HOST --to HOST")
        return topo.bandwidth
    if args.source is None or args.dest is None:
        raise UsageError("give both --from HOST and --to HOST")
    names = [h.name for h in topo.hosts]
    for flag, name in (("--from", args.source), ("--to", args.dest)):
        if name not in names:
            raise UsageError(
                f"{flag} {name!r}: no such host in {topo.source}; hosts: {', '.join(names)}"
            )
        if not topo.host(name).agent.runs:
            raise UsageError(
                f"{flag} {name!r} has agent: none in {topo.source}; a bandwidth test needs an "
                "agent on both hosts"
            )
    try:
        return (
            BandwidthCheck(
                args.source, args.dest, args.duration, args.streams, args.reverse, args.port
            ),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


async def _start(
    topo: Topology, names: set[str], transports: Mapping[str, Transport]
) -> tuple[dict[str, AgentClient], dict[str, str]]:
    clients: dict[str, AgentClient] = {}
    why: dict[str, str] = {}

    async def one(name: str) -> None:
        host = topo.host(name)
        transport = transports.get(host.agent.transport.value)
        try:
            if transport is None:
                raise TransportError(name, f"no {host.agent.transport.value} transport")
            channel = await transport.start(host)
            clients[name] = await AgentClient.connect(name, channel)
        except TransportError as exc:
            why[name] = exc.reason

    await asyncio.gather(*(one(n) for n in sorted(names)))
    return clients, why


async def _measure(
    topo: Topology, checks: tuple[BandwidthCheck, ...], args: argparse.Namespace
) -> tuple[list[BandwidthOutcome], bool]:
    done: dict[int, BandwidthOutcome] = {}
    clients: dict[str, AgentClient] = {}
    interrupted = False
    try:
        clients, why = await _start(
            topo, {n for c in checks for n in (c.source, c.dest)}, make_transports(args)
        )
        index = {id(c): i for i, c in enumerate(checks)}
        await run_bandwidth_checks(
            topo,
            checks,
            clients,
            why,
            on_outcome=lambda o: done.__setitem__(index[id(o.check)], o),
            interval_ms=args.interval_ms,
        )
    except asyncio.CancelledError:
        interrupted = True
    finally:
        await asyncio.shield(
            asyncio.gather(*(c.close() for c in clients.values()), return_exceptions=True)
        )
    out = [
        done.get(i) or unavailable(topo, c, BandwidthStatus.NOT_RUN, "not measured: interrupted")
        for i, c in enumerate(checks)
    ]
    return out, interrupted


def run(args: argparse.Namespace, out: TextIO) -> int:
    topo = load_topology(args.topology)
    checks = checks_from_args(topo, args)
    target = open_output(args.output)
    started = time.time()
    outcomes, interrupted = asyncio.run(run_interruptible(_measure(topo, checks, args)))
    pairs = [(o, judge_bandwidth(o, topo)) for o in outcomes]
    if args.format == "json":
        text = render_bandwidth_json(topo, pairs, started)
    else:
        text = render_bandwidth_table(topo, pairs)
    if deliver(text, target, args.output, out):
        with contextlib.suppress(OSError):
            sys.stderr.write(f"report written to {args.output}\n")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_GO if all(v.passed for _, v in pairs) else EXIT_NO_GO
