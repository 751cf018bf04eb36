"""What several commands share: exit codes, argument types, option groups, plan loading."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO, TypeVar

from netcheck_agent.bounds import (
    CONCURRENCY,
    HOST_CONCURRENCY,
    INTERVAL_MS,
    SAMPLES,
    SSH_TIMEOUT_S,
    TIMEOUT_MS,
    Bound,
    N,
)

from netcheck.errors import OutputError, TransportError, UsageError
from netcheck.limit import limit_plan
from netcheck.plan import Plan, build_plan
from netcheck.topology import SweepSettings, load_topology
from netcheck.transports.base import Transport

__all__ = [
    "EXIT_CODES_TEXT",
    "EXIT_GO",
    "EXIT_INTERRUPTED",
    "EXIT_NO_GO",
    "EXIT_USAGE",
    "add_host_concurrency",
    "add_limit_option",
    "add_ssh_options",
    "add_sweep_settings",
    "deliver",
    "in_range",
    "make_transports",
    "open_output",
    "plan_from_args",
    "positive_int",
    "run_interruptible",
]

EXIT_GO = 0
EXIT_NO_GO = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_CODES_TEXT = (
    "exit codes: 0 go, 1 no-go, 2 usage or topology error or the report could not be "
    "written (stdout or -o), 130 interrupted (partial report)"
)

T = TypeVar("T")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def in_range(bound: Bound[N]) -> Callable[[str], N]:
    """An argparse `type=` enforcing a setting's declared range, in the words the
    topology loader and the protocol use (`netcheck_agent.bounds`)."""

    def parse(text: str) -> N:
        try:
            return bound.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = bound.name  # argparse names the type in some messages
    return parse


def _range_help(bound: Bound[N], default: object) -> str:
    return f"{bound.lo:g}..{bound.hi:g}, default {default}"


def add_sweep_settings(p: argparse.ArgumentParser) -> None:
    d = SweepSettings()
    g = p.add_argument_group("probing (override the topology's sweep: section)")
    g.add_argument(
        "--samples",
        type=in_range(SAMPLES),
        help=f"attempts per cell ({_range_help(SAMPLES, d.samples)})",
    )
    g.add_argument(
        "--timeout-ms",
        type=in_range(TIMEOUT_MS),
        help=f"timeout per attempt ({_range_help(TIMEOUT_MS, d.timeout_ms)})",
    )
    g.add_argument(
        "--interval-ms",
        type=in_range(INTERVAL_MS),
        help=f"spacing between a cell's attempts ({_range_help(INTERVAL_MS, d.interval_ms)})",
    )
    g.add_argument(
        "--concurrency",
        type=in_range(CONCURRENCY),
        help=f"attempts in flight per agent ({_range_help(CONCURRENCY, d.concurrency)})",
    )
    g.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="ID",
        help="probe only this rule (repeatable); see `netcheck catalog` for the ids",
    )
    add_limit_option(g)


def add_limit_option(g: argparse._ActionsContainer) -> None:
    g.add_argument(
        "--limit",
        metavar="PATTERN",
        help="only cells whose source or destination host matches this Ansible-style pattern: "
        "names and globs, role:R, site:S, group:G (the hosts' groups:), ~regex, "
        "comma-separated (union), &x (and), !x (not); e.g. 'site:azure,!vm-app02'",
    )


def add_ssh_options(p: argparse.ArgumentParser) -> None:
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
        "--ssh-timeout",
        type=in_range(SSH_TIMEOUT_S),
        default=10.0,
        help=f"seconds to connect and log in ({_range_help(SSH_TIMEOUT_S, 10)})",
    )


def add_host_concurrency(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host-concurrency",
        type=in_range(HOST_CONCURRENCY),
        default=16,
        help=f"agents started at once ({_range_help(HOST_CONCURRENCY, 16)})",
    )


def plan_from_args(args: argparse.Namespace) -> Plan:
    """The plan the arguments ask for; `args.topology_text` is set to the topology file's
    text as read now, before anything starts (what a stored sweep keeps, whatever
    happens to the file during the sweep)."""
    topo = load_topology(args.topology)
    args.topology_text = None
    with contextlib.suppress(OSError, UnicodeDecodeError):
        args.topology_text = Path(args.topology).read_text(encoding="utf-8")
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
    plan = build_plan(topo, settings=settings, only_rules=args.rule)
    return limit_plan(plan, args.limit) if args.limit else plan


class _Transports(Mapping[str, Transport]):
    """The transports by name, each built on first use: a sweep of local hosts only
    never imports the SSH stack (asyncssh and its crypto take longer to import than
    a small sweep takes to run)."""

    NAMES = ("local", "ssh")

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._built: dict[str, Transport] = {}
        self._identities = _identity_files(args.identity)  # a wrong path fails now, not later

    def __getitem__(self, name: str) -> Transport:
        if name not in self.NAMES:
            raise KeyError(name)
        if name not in self._built:
            self._built[name] = _local() if name == "local" else _ssh(self._args, self._identities)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.NAMES)

    def __len__(self) -> int:
        return len(self.NAMES)


def _local() -> Transport:
    from netcheck.transports.local import LocalTransport  # the agent runtime, only when needed

    return LocalTransport()


def _identity_files(paths: Sequence[str]) -> tuple[Path, ...]:
    out = []
    for text in paths:
        path = Path(text).expanduser()
        if not path.is_file():
            raise TransportError("*", f"identity file {path} not found")
        out.append(path)
    return tuple(out)


def _ssh(args: argparse.Namespace, identities: tuple[Path, ...]) -> Transport:
    from netcheck.transports.ssh import SshOptions, SshTransport

    env_known = os.environ.get("NETCHECK_KNOWN_HOSTS")
    known = args.known_hosts or (Path(env_known) if env_known else None)
    return SshTransport(
        SshOptions(
            known_hosts=known,
            identities=identities,
            trust_new_host_keys=args.trust_new_host_keys,
            connect_timeout=args.ssh_timeout,
        )
    )


def make_transports(args: argparse.Namespace) -> Mapping[str, Transport]:
    """The transports a sweep may need, configured from the SSH options (argument > env),
    each built when a host first needs it."""
    return _Transports(args)


async def run_interruptible(work: Awaitable[T]) -> T:
    """Run `work` as a task that Ctrl-C / SIGTERM cancel (not the caller).

    The work turns the cancel into a partial result, which the command still reports.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)


def deliver(text: str, target: TextIO | None, path: Path | None, out: TextIO) -> bool:
    """Write a report to the file opened by `open_output`, else to `out`.

    Nothing measured is lost: when the file can't be written, the report goes to
    `out` and then the OutputError says so. True when it went to the file.
    """
    if target is None:
        out.write(text)
        return False
    try:
        with target:
            target.write(text)
    except OSError as exc:
        out.write(text)
        raise OutputError(f"could not write {path} ({exc}); the report is above") from None
    return True


def open_output(path: Path | None) -> TextIO | None:
    """Open the report file before the work, so a bad path fails fast and loses nothing."""
    if path is None:
        return None
    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
