"""`netcheck watch FILE`: sweep on an interval and serve /metrics for Prometheus."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from netcheck.commands.common import (
    add_host_concurrency,
    add_ssh_options,
    add_sweep_settings,
    make_transports,
    plan_from_args,
    positive_int,
)
from netcheck.demo import SilentPorts
from netcheck.errors import OutputError, UsageError
from netcheck.metrics_http import MetricsServer, parse_listen
from netcheck.plan import Plan
from netcheck.readiness import has_inventory
from netcheck.sweep import SweepObserver, SweepResult, run_sweep
from netcheck.watch import WatchState, parse_interval, run_watch

DEFAULT_LISTEN = "127.0.0.1:9469"


def _interval(text: str) -> float:
    try:
        return parse_interval(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--interval ")) from None


def register(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        description="Sweep the topology again and again (the next sweep starts after the "
        "previous one finished, spaced by --interval with ±10% jitter) and serve the last "
        "sweep's results at http://LISTEN/metrics in the OpenMetrics text format, plus "
        "/healthz. One log line per sweep on stderr. SIGINT/SIGTERM stop it cleanly "
        "(exit 0).",
        epilog="See monitoring/netcheck-watch@.service for a systemd unit (one instance per site).",
    )
    p.add_argument("topology", type=Path)
    p.add_argument(
        "--interval",
        type=_interval,
        default=60.0,
        metavar="DURATION",
        help="time between sweep starts: 30s, 5m, 1h (default 60s)",
    )
    p.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="ADDRESS:PORT",
        help=f"where to serve /metrics (default {DEFAULT_LISTEN}; an IP address, [::1]:PORT "
        "for IPv6; port 0 picks a free one)",
    )
    p.add_argument(
        "--count",
        type=positive_int,
        help="stop after this many sweeps (default: run until stopped)",
    )
    p.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="also store every sweep in this sweep database (watch stores nothing by default: "
        "a sweep a minute is 1440 sweeps a day)",
    )
    add_host_concurrency(p)
    add_sweep_settings(p)
    add_ssh_options(p)
    p.set_defaults(handler=run)


def _log(line: str) -> None:
    sys.stderr.write(f"netcheck watch: {line}\n")
    sys.stderr.flush()


def _store_observer(path: Path | None, only_rules: list[str]) -> SweepObserver | None:
    if path is None:
        return None
    from netcheck.store import StoreObserver  # only when asked for

    return StoreObserver(
        path.expanduser(), warn=lambda m: _log(f"warning: {m}"), only_rules=only_rules
    )


async def _watch(plan: Plan, args: argparse.Namespace) -> int:
    listen = parse_listen(args.listen)
    transports = make_transports(args)
    state = WatchState(topology=plan.topology.name, interval=args.interval)
    server = MetricsServer(listen, state.render, state.health)
    bound = await server.start()
    _log(
        f"serving http://{bound}/metrics; sweeping {plan.topology.source} "
        f"({len(plan.specs)} cells) every {args.interval:g} s ±10%"
    )

    readiness = has_inventory(plan.topology)

    async def sweep_once() -> SweepResult:
        store = _store_observer(args.db, args.rule)
        try:
            return await run_sweep(
                plan,
                transports,
                observer=store,
                host_concurrency=args.host_concurrency,
                readiness=readiness,  # as `netcheck sweep`: failing checks make no-go
            )
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        done = await run_watch(sweep_once, state, stop, count=args.count, log=_log)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await server.close()
    why = "stop requested" if stop.is_set() else f"{done} sweeps done"
    _log(f"stopped ({why}; {state.sweeps} sweeps, {state.errors} failed)")
    return 0


def run(args: argparse.Namespace, out: TextIO) -> int:
    parse_listen(args.listen)  # a bad address fails before any agent starts
    plan = plan_from_args(args)
    silent = SilentPorts(list(plan.topology.demo_silent_ports))
    try:
        silent.__enter__()
    except OSError as exc:
        raise OutputError(f"could not open the demo's silent ports: {exc}") from None
    try:
        return asyncio.run(_watch(plan, args))
    finally:
        silent.close()
