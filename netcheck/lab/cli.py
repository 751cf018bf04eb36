"""`netcheck lab ...`: build, inspect and take down the namespace lab.

Wiring into netcheck's CLI (two lines in netcheck/cli.py):

    add_lab_commands(sub)                 # in _build_parser, sub = add_subparsers(...)
    _COMMANDS["lab"] = run_lab_command    # handlers take (args, out) and return an exit code

Errors are raised as NetcheckError (LabError, ConfigError) for the main CLI to
print and map to its exit code.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, TextIO

import yaml

from netcheck.errors import UsageError
from netcheck.lab.builder import lab_down, lab_up
from netcheck.lab.loader import ParamValue, load_lab
from netcheck.lab.model import Lab
from netcheck.lab.runtime import lab_exec, lab_fault, lab_status

__all__ = ["add_lab_commands", "run_lab_command"]

_LAB_EPILOG = """\
examples:
  netcheck lab up topologies/lab/failback-lab.yaml
  netcheck lab up topologies/lab/failback-lab.yaml --fault route_via_expressroute --set vpn_rate=20mbit
  netcheck lab exec topologies/lab/failback-lab.yaml mgmt -- ping -c 1 -W 1 198.19.1.10
  netcheck lab fault topologies/lab/failback-lab.yaml cs_https_reset on
  netcheck lab status topologies/lab/failback-lab.yaml
  netcheck lab down topologies/lab/failback-lab.yaml

Everything lives in network namespaces named with the lab's prefix (nc- by
default), addressed from 198.18.0.0/15; the machine's own addresses, routes,
firewall and sysctls are never touched. Needs root; scripts/lab-deps installs
the packages (iproute2, nftables, openssh-server/client, iputils-ping).
"""


def _param(text: str) -> tuple[str, ParamValue]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE, e.g. vpn_rate=20mbit")
    # YAML's reading of the value, so `--set vpn_mtu=1300` is the number 1300.
    parsed: Any = yaml.safe_load(value) if value else ""
    if not isinstance(parsed, (str, int, float, bool)):
        parsed = value
    return name, parsed


def add_lab_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register `lab up|down|fault|status|exec` under `subparsers`; return the `lab` parser."""
    lab = subparsers.add_parser(
        "lab",
        description="Build, inspect and take down a namespace lab: hosts, routers, a shaped "
        "low-MTU VPN path, an ExpressRoute path, sshd in every host, switchable faults.",
        epilog=_LAB_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", required=True)

    def labfile(p: argparse.ArgumentParser) -> None:
        p.add_argument("labfile", type=Path, help="lab description, e.g. topologies/lab/*.yaml")
        p.add_argument(
            "--set",
            dest="params",
            type=_param,
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="override one of the lab file's params: (repeatable), e.g. vpn_rate=20mbit",
        )

    def state_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--state-dir",
            type=Path,
            help="keys, known_hosts, sshd configs and lab.json (default /run/netcheck-lab/NAME)",
        )

    up = sub.add_parser(
        "up",
        help="create the namespaces, links, routes, sshds; print how to reach them",
        description="Build the lab. On any failure everything built so far is removed and the "
        "failing command is shown with its error output.",
    )
    labfile(up)
    state_dir(up)
    up.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="switch this fault on once the lab is up (repeatable); names are in the lab file",
    )

    down = sub.add_parser(
        "down",
        help="remove every namespace, process and state file of the lab (safe to repeat)",
        description="Take the lab down, also after a crashed or half-finished `up`: namespaces "
        "are found by the lab's prefix, sshds by their pid files.",
    )
    labfile(down)
    state_dir(down)

    fault = sub.add_parser(
        "fault",
        help="switch a named fault on or off in a running lab",
        description="Faults are declared in the lab file: drop, reject_tcp_reset and "
        "reject_admin_prohibited put an nft rule on a router; reroute changes routes "
        "(e.g. route_via_expressroute).",
    )
    labfile(fault)
    fault.add_argument("name", help="fault name from the lab file's faults: section")
    fault.add_argument("state", choices=["on", "off"])

    status = sub.add_parser(
        "status",
        help="show which namespaces exist, which sshds run and which faults are on",
        description="Read the lab's state from the kernel. Exit 0 when fully up, 1 otherwise.",
    )
    labfile(status)
    state_dir(status)

    ex = sub.add_parser(
        "exec",
        help="run a command inside one of the lab's namespaces",
        description="Run COMMAND inside namespace HOST (a name from the lab file, without "
        "prefix) and exit with its status. Put -- before the command.",
    )
    labfile(ex)
    ex.add_argument("host", help="namespace name, e.g. mgmt or vm-app01")
    ex.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND")
    return lab  # type: ignore[no-any-return]


def _load(args: argparse.Namespace) -> Lab:
    return load_lab(args.labfile, params=dict(args.params))


def _cmd_up(args: argparse.Namespace, out: TextIO) -> int:
    lab = _load(args)
    started = time.monotonic()
    state = lab_up(lab, faults=args.fault, state_dir=args.state_dir)
    took = time.monotonic() - started
    out.write(f"lab {lab.name} is up in {took:.1f} s; state in {state.state_dir}\n")
    width = max(len(ns.netns) for ns in state.namespaces)
    for ns in state.namespaces:
        extra = f"  sshd pid {ns.sshd_pid}" if ns.sshd_pid else ""
        addrs = ", ".join(ns.addresses) or "-"
        out.write(f"  {ns.netns:<{width}}  {ns.kind:<6}  {addrs}{extra}\n")
    if state.faults_on:
        out.write(f"faults on: {', '.join(state.faults_on)}\n")
    # The admin workstation is where a user would stand; any sshd host will do.
    hosts = sorted((ns for ns in state.namespaces if ns.sshd_pid), key=lambda n: n.name != "mgmt")
    if hosts:
        out.write(
            f"ssh: ip netns exec {hosts[0].netns} ssh -F {state.ssh_config} HOST true\n"
            f"down: netcheck lab down {args.labfile}\n"
        )
    return 0


def _cmd_down(args: argparse.Namespace, out: TextIO) -> int:
    lab = _load(args)
    lab_down(lab, state_dir=args.state_dir)
    out.write(f"lab {lab.name} is down\n")
    return 0


def _cmd_fault(args: argparse.Namespace, out: TextIO) -> int:
    lab = _load(args)
    lab_fault(lab, args.name, on=args.state == "on")
    out.write(f"fault {args.name} is {args.state}\n")
    return 0


def _cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    lab = _load(args)
    st = lab_status(lab, state_dir=args.state_dir)
    verdict = "up" if st.up else "down" if st.down else "partly up"
    out.write(f"lab {lab.name}: {verdict} ({len(st.present)}/{len(lab.namespaces)} namespaces)\n")
    details = [("faults on", st.faults_on), ("stray namespaces with the prefix", st.strays)]
    if st.present:  # when nothing is up, listing everything as missing says nothing
        details[:0] = [("missing", st.missing), ("sshd not running", st.sshd_down)]
    for label, names in details:
        if names:
            out.write(f"  {label}: {', '.join(names)}\n")
    return 0 if st.up else 1


def _cmd_exec(args: argparse.Namespace, out: TextIO) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise UsageError("lab exec: give the command to run after the host, e.g. -- ip addr")
    lab = _load(args)
    # Output goes straight to the terminal: this is an interactive helper.
    return lab_exec(lab, args.host, argv, timeout=None).returncode


_HANDLERS = {
    "up": _cmd_up,
    "down": _cmd_down,
    "fault": _cmd_fault,
    "status": _cmd_status,
    "exec": _cmd_exec,
}


def run_lab_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run the `lab` subcommand parsed into `args`; return its exit code."""
    return _HANDLERS[args.lab_command](args, out)
