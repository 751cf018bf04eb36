"""The `netcheck` command line.

Exit codes: 0 go, 1 no-go, 2 usage or topology error, 130 interrupted (a
partial report is still printed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from netcheck import __version__
from netcheck.catalog import load_catalog
from netcheck.demo import SilentPorts
from netcheck.errors import NetcheckError, OutputError, UsageError
from netcheck.plan import Plan, build_plan
from netcheck.progress import TerminalProgress
from netcheck.report import render_json, render_plan_json, render_plan_table, render_table
from netcheck.sweep import SweepResult, run_sweep
from netcheck.topology import load_topology
from netcheck.transports.base import Transport

__all__ = ["main"]

EXIT_GO = 0
EXIT_NO_GO = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_DESCRIPTION = """\
netcheck tests the network paths an Azure Site Recovery failback needs, before
you fail back: every documented port between the failed-over Azure VMs, the
process server, the configuration server (and each of its NICs), the master
target and vCenter/ESXi, over the VPN or ExpressRoute. It says GO or NO-GO, and
for every failing cell where and why it breaks and what to change.

Start here:
  netcheck sweep topologies/local-demo.yaml     # the whole matrix on this machine
  netcheck plan  my-site.yaml                    # what would be probed (no packets)
  netcheck validate my-site.yaml                 # check a topology file
"""

_EPILOG = "exit codes: 0 go, 1 no-go, 2 usage or topology error, 130 interrupted (partial report)"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _add_sweep_settings(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("probing (override the topology's sweep: section)")
    g.add_argument("--samples", type=_positive, help="attempts per cell (default 3)")
    g.add_argument("--timeout-ms", type=_positive, help="timeout per attempt (default 1500)")
    g.add_argument(
        "--interval-ms", type=int, help="spacing between a cell's attempts (default 200)"
    )
    g.add_argument(
        "--concurrency", type=_positive, help="attempts in flight per agent (default 256)"
    )
    g.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="ID",
        help="probe only this rule (repeatable); see `netcheck catalog` for the ids",
    )


def _add_ssh_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SSH transport (hosts with agent.transport: ssh)")
    g.add_argument(
        "--known-hosts",
        type=Path,
        default=None,
        help="known_hosts file to verify host keys against (default ~/.ssh/known_hosts; "
        "env NETCHECK_KNOWN_HOSTS)",
    )
    g.add_argument(
        "-i",
        "--identity",
        action="append",
        default=[],
        metavar="KEY",
        help="private key file (repeatable); default: the SSH agent and ~/.ssh/id_*",
    )
    g.add_argument(
        "--trust-new-host-keys",
        action="store_true",
        help="first contact: accept and record host keys not yet in known_hosts "
        "(a CHANGED key is always refused)",
    )
    g.add_argument(
        "--ssh-timeout", type=float, default=10.0, help="seconds to connect and log in (default 10)"
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="netcheck",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netcheck {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    v = sub.add_parser(
        "validate",
        help="check topology files; opens no connection",
        description="Load and validate topology files. Every error names file:line:column and field.",
    )
    v.add_argument("topology", nargs="+", type=Path)

    pl = sub.add_parser(
        "plan",
        help="print the cells a sweep would probe, without sending a packet",
        description="Expand the topology against the ASR failback port catalog and print the cells: "
        "source host and NIC, destination NIC, port, expectation, path and rule.",
    )
    pl.add_argument("topology", type=Path)
    pl.add_argument("--format", choices=["table", "json"], default="table")
    _add_sweep_settings(pl)

    sw = sub.add_parser(
        "sweep",
        help="run the connectivity sweep and print the matrix report",
        description="Start an agent per source host, open responders on destination ports, probe "
        "every cell of the plan, and report the matrix with a GO / NO-GO verdict. "
        "Ctrl-C stops early and still prints what was measured, marked PARTIAL.",
        epilog=_EPILOG,
    )
    sw.add_argument("topology", type=Path)
    sw.add_argument("--format", choices=["table", "json"], default="table")
    sw.add_argument(
        "-o", "--output", type=Path, help="write the report to this file instead of stdout"
    )
    sw.add_argument(
        "--no-progress", action="store_true", help="no live progress line on the terminal"
    )
    sw.add_argument(
        "--host-concurrency", type=_positive, default=16, help="agents started at once (default 16)"
    )
    _add_sweep_settings(sw)
    _add_ssh_options(sw)

    ag = sub.add_parser(
        "agent",
        help="build the agent zipapp (the SSH transport does this on demand)",
        description="The agent is one zipapp, standard library only, run with the host's Python "
        "3.9+ (python3 on Linux, python.exe on Windows). Its file name carries its content hash.",
    )
    ag_sub = ag.add_subparsers(dest="agent_command", metavar="AGENT_COMMAND", required=True)
    ab = ag_sub.add_parser("build", help="write netcheck-agent-<hash>.pyz")
    ab.add_argument("--out", type=Path, default=Path("."), help="directory (default: .)")

    from netcheck.lab.cli import add_lab_commands

    add_lab_commands(sub)

    cat = sub.add_parser(
        "catalog",
        help="print the built-in ASR failback port matrix with sources",
        description="The documented port matrix netcheck probes, with evidence level and doc reference.",
    )
    cat.add_argument("--format", choices=["table", "json"], default="table")
    return parser


def _plan_from_args(args: argparse.Namespace) -> Plan:
    topo = load_topology(args.topology)
    settings = topo.sweep
    overrides = {
        "samples": args.samples,
        "timeout_ms": args.timeout_ms,
        "interval_ms": args.interval_ms,
        "concurrency": args.concurrency,
    }
    try:
        settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return build_plan(topo, settings=settings, only_rules=args.rule)


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    for path in args.topology:
        topo = load_topology(path)
        plan = build_plan(topo)
        out.write(
            f"{path}: OK — {len(topo.hosts)} hosts, {len(topo.sites)} sites, {len(topo.paths)} paths, "
            f"{len(plan.specs)} cells\n"
        )
    return EXIT_GO


def _cmd_plan(args: argparse.Namespace, out: TextIO) -> int:
    plan = _plan_from_args(args)
    out.write(render_plan_json(plan) if args.format == "json" else render_plan_table(plan))
    return EXIT_GO


def _cmd_catalog(args: argparse.Namespace, out: TextIO) -> int:
    import json

    from tabulate import tabulate

    cat = load_catalog()
    if args.format == "json":
        rows = [
            {
                "id": r.id,
                "flows": list(r.flows),
                "from": [s.value for s in r.sources],
                "to": [t.value if hasattr(t, "value") else t for t in r.targets],
                "proto": r.proto,
                "port": r.port if isinstance(r.port, int) else r.port.value,
                "phase": r.phase,
                "evidence": r.evidence.value,
                "doc": r.doc,
                "hint": r.hint,
            }
            for r in cat.rules
        ]
        out.write(
            json.dumps({"rules": rows, "azure_endpoints": list(cat.azure_endpoints)}, indent=2)
            + "\n"
        )
        return EXIT_GO
    table = [
        [
            r.id,
            ",".join(map(str, r.flows)),
            ",".join(s.value for s in r.sources),
            ",".join(t.value if hasattr(t, "value") else str(t) for t in r.targets),
            f"{r.proto}/{r.port if isinstance(r.port, int) else r.port.value}",
            r.evidence.value,
            r.phase,
        ]
        for r in cat.rules
    ]
    out.write(
        tabulate(
            table,
            headers=["rule", "flows", "from", "to", "port", "evidence", "phase"],
            tablefmt="simple",
        )
        + "\n"
    )
    return EXIT_GO


def _open_output(path: Path | None) -> TextIO | None:
    """Open the report file before the sweep, so a bad path fails fast and loses nothing."""
    if path is None:
        return None
    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the report to {path}: {exc.strerror or exc}") from None


async def _sweep_async(plan: Plan, args: argparse.Namespace) -> SweepResult:
    from netcheck.transports.local import LocalTransport  # the agent runtime, only when sweeping
    from netcheck.transports.ssh import SshOptions, SshTransport, parse_identities

    known = args.known_hosts or (
        Path(os.environ["NETCHECK_KNOWN_HOSTS"]) if os.environ.get("NETCHECK_KNOWN_HOSTS") else None
    )
    ssh = SshTransport(
        SshOptions(
            known_hosts=known,
            identities=parse_identities(args.identity),
            trust_new_host_keys=args.trust_new_host_keys,
            connect_timeout=args.ssh_timeout,
        )
    )
    transports: dict[str, Transport] = {"local": LocalTransport(), "ssh": ssh}
    observer = TerminalProgress() if not args.no_progress else None
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(
        run_sweep(plan, transports, observer=observer, host_concurrency=args.host_concurrency)
    )
    # Ctrl-C cancels the sweep task, not this one: run_sweep turns the cancel into a
    # partial result, which we still report.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)


def _cmd_sweep(args: argparse.Namespace, out: TextIO) -> int:
    plan = _plan_from_args(args)
    target = _open_output(args.output)
    try:
        with SilentPorts(list(plan.topology.demo_silent_ports)):
            result = asyncio.run(_sweep_async(plan, args))
    except OSError as exc:
        if target:
            target.close()
        raise OutputError(f"could not open the demo's silent ports: {exc}") from None
    text = render_json(result) if args.format == "json" else render_table(result)
    if target is not None:
        try:
            with target:
                target.write(text)
        except OSError as exc:
            out.write(text)  # nothing measured is lost: the report goes to stdout instead
            raise OutputError(
                f"could not write {args.output} ({exc}); the report is above"
            ) from None
        verdict = "GO" if result.go else "NO-GO"
        sys.stderr.write(f"{verdict}: report written to {args.output}\n")
    else:
        out.write(text)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_GO if result.go else EXIT_NO_GO


def _cmd_agent(args: argparse.Namespace, out: TextIO) -> int:
    from netcheck_agent.zipapp_build import build_zipapp

    try:
        args.out.mkdir(parents=True, exist_ok=True)
        path = build_zipapp(args.out)
    except OSError as exc:
        raise OutputError(f"cannot write the agent to {args.out}: {exc.strerror or exc}") from None
    out.write(f"{path} ({path.stat().st_size // 1024} KiB)\n")
    return EXIT_GO


def _cmd_lab(args: argparse.Namespace, out: TextIO) -> int:
    from netcheck.lab.cli import run_lab_command

    return run_lab_command(args, out)


_COMMANDS = {
    "agent": _cmd_agent,
    "lab": _cmd_lab,
    "validate": _cmd_validate,
    "plan": _cmd_plan,
    "sweep": _cmd_sweep,
    "catalog": _cmd_catalog,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
            format="%(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return _COMMANDS[args.command](args, sys.stdout)
    except NetcheckError as exc:
        sys.stderr.write(f"netcheck: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("netcheck: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_GO


if __name__ == "__main__":
    sys.exit(main())
