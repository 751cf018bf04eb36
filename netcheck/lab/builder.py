"""Building a lab in the kernel and taking it down again.

`lab_up` creates, in order: namespaces (and each switch's bridge), the
namespace-wide sysctls (before any interface exists, so new interfaces
inherit conf.default), veth pairs with addresses, MTU and shaping, the
interface sysctls, routes, sshd, and the faults asked for. Anything failing
rolls back through `lab_down`, which finds what a lab made by name prefix and
by pid file rather than by trusting a record of a run that may have crashed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from netcheck.errors import LabError
from netcheck.lab.commands import (
    in_netns,
    list_netns,
    netns_pids,
    require_root,
    require_tools,
    run,
)
from netcheck.lab.faults import set_fault
from netcheck.lab.model import Fault, Lab, Link, Namespace
from netcheck.lab.sshd import make_client_key, start_sshd, stop_sshd, write_client_files
from netcheck.lab.state import (
    MARKER,
    LabState,
    NamespaceState,
    state_dir_for,
    write_lab_json,
)

__all__ = ["find_fault", "lab_down", "lab_up"]

_BRIDGE = "br0"
_STOP_GRACE_S = 2.0


def find_fault(lab: Lab, name: str) -> Fault:
    try:
        return lab.fault(name)
    except KeyError:
        known = ", ".join(f.name for f in lab.faults) or "none"
        raise LabError(f"lab {lab.name} has no fault {name!r}; its faults: {known}") from None


def lab_up(lab: Lab, faults: Iterable[str] = (), state_dir: str | Path | None = None) -> LabState:
    """Build `lab`, start its sshds, switch on `faults`; roll back on any failure."""
    chosen = [find_fault(lab, name) for name in faults]
    require_root()
    require_tools(need_sshd=any(h.sshd for h in lab.hosts))
    sdir = state_dir_for(lab, state_dir)
    present = _present_netns(lab)
    if present:
        shown = ", ".join(sorted(present)[:3]) + (", ..." if len(present) > 3 else "")
        raise LabError(
            f"lab {lab.name} is already (partly) up: {len(present)} namespaces exist ({shown}); "
            f"take it down first with `netcheck lab down {lab.source}`"
        )
    try:
        return _build(lab, chosen, sdir)
    except BaseException as exc:  # Ctrl-C included: never leave half a lab behind
        try:
            lab_down(lab, sdir)
        except LabError as down_exc:
            exc.add_note(f"rollback was incomplete: {down_exc}")
        if isinstance(exc, OSError):  # the state dir: unwritable, disk full...
            raise LabError(f"lab {lab.name}: {exc}") from exc
        raise


def _build(lab: Lab, faults: list[Fault], sdir: Path) -> LabState:
    sdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (sdir / MARKER).write_text(f"{lab.source}\n", encoding="utf-8")
    for ns in lab.namespaces:
        _create_namespace(lab, ns)
    for ns in lab.namespaces:
        _apply_sysctls(lab, ns, per_interface=False)
    for link in lab.links:
        _create_link(lab, link)
    _wait_for_carrier(lab)
    for ns in lab.namespaces:
        _apply_sysctls(lab, ns, per_interface=True)
        for route in ns.routes:
            run(["ip", "-n", lab.netns(ns.name), "route", "replace", *route.ip_args()])
    pids: dict[str, int] = {}
    if any(h.sshd for h in lab.hosts):
        make_client_key(lab, sdir)
        for host in lab.hosts:
            if host.sshd:
                pids[host.name] = start_sshd(lab, host, sdir)
        write_client_files(lab, sdir)
    for fault in faults:
        set_fault(lab, fault, on=True)
    state = LabState(
        lab=lab.name,
        source=lab.source,
        state_dir=sdir,
        namespaces=tuple(
            NamespaceState(
                name=ns.name,
                netns=lab.netns(ns.name),
                kind=ns.kind,
                addresses=tuple(str(a) for a in lab.addresses(ns.name)),
                sshd_pid=pids.get(ns.name),
            )
            for ns in lab.namespaces
        ),
        faults_on=tuple(f.name for f in faults),
    )
    write_lab_json(state)
    return state


def _create_namespace(lab: Lab, ns: Namespace) -> None:
    netns = lab.netns(ns.name)
    run(["ip", "netns", "add", netns])
    run(["ip", "-n", netns, "link", "set", "lo", "up"])
    if ns.kind == "switch":
        run(["ip", "-n", netns, "link", "add", "name", _BRIDGE, "type", "bridge"])
        run(["ip", "-n", netns, "link", "set", _BRIDGE, "up"])


def _is_per_interface(key: str) -> bool:
    # net.ipv4.conf.eth0.rp_filter exists only once eth0 does.
    parts = key.split(".")
    return len(parts) > 3 and parts[2] in ("conf", "neigh") and parts[3] not in ("all", "default")


def _apply_sysctls(lab: Lab, ns: Namespace, *, per_interface: bool) -> None:
    pairs = [f"{k}={v}" for k, v in ns.effective_sysctls() if _is_per_interface(k) == per_interface]
    if pairs:
        run(in_netns(lab.netns(ns.name), ["sysctl", "-q", "-w", *pairs]))


def _create_link(lab: Lab, link: Link) -> None:
    a, b = link.ends
    mtu = str(link.mtu)
    # Both ends are born inside their namespaces: nothing appears, even for a
    # moment, in the machine's own namespace.
    run(
        [
            *("ip", "-n", lab.netns(a.ns), "link", "add", "name", a.dev, "mtu", mtu),
            *("type", "veth", "peer", "name", b.dev, "mtu", mtu, "netns", lab.netns(b.ns)),
        ]
    )
    for end in link.ends:
        netns = lab.netns(end.ns)
        if lab.namespace(end.ns).kind == "switch":
            run(["ip", "-n", netns, "link", "set", end.dev, "master", _BRIDGE])
        if end.address is not None:
            run(["ip", "-n", netns, "addr", "add", str(end.address), "dev", end.dev])
        if end.shape is not None:
            s = end.shape
            run(
                [
                    *("tc", "-n", netns, "qdisc", "replace", "dev", end.dev, "root", "tbf"),
                    *("rate", f"{s.rate_bit}bit", "burst", str(s.burst_bytes)),
                    *("latency", f"{s.latency_ms}ms"),
                ]
            )
        run(["ip", "-n", netns, "link", "set", end.dev, "up"])


def _wait_for_carrier(lab: Lab, timeout: float = 5.0) -> None:
    """Wait until every link end has carrier (bounded).

    The kernel reports a veth's carrier asynchronously (linkwatch, up to a second
    later), and a bridge port stays `disabled` until then: a first packet through a
    switch built last (the failback subnet's) would be lost.
    """
    deadline = time.monotonic() + timeout
    for ns in lab.namespaces:
        while True:
            out = run(["ip", "-j", "-n", lab.netns(ns.name), "link", "show"]).stdout
            waiting = [
                link.get("ifname")
                for link in json.loads(out or "[]")
                if "NO-CARRIER" in (link.get("flags") or []) and link.get("ifname") != _BRIDGE
            ]
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.02)


def _present_netns(lab: Lab) -> list[str]:
    """Existing namespaces that belong to `lab`: declared, or carrying its prefix."""
    declared = {lab.netns(ns.name) for ns in lab.namespaces}
    return [n for n in list_netns() if n in declared or n.startswith(lab.prefix)]


def lab_down(lab: Lab, state_dir: str | Path | None = None) -> None:
    """Remove every namespace, process and state file of `lab`; idempotent.

    Works after a crash or a half-built `up`: namespaces are found by the
    lab's prefix, sshds by the pid files in the state dir, and every other
    process by living in a lab namespace.
    """
    require_root()
    sdir = state_dir_for(lab, state_dir)
    problems: list[str] = []
    # By prefix, not by lab.json: a crashed or older `up` may have made
    # namespaces this version of the file does not declare.
    present = _present_netns(lab)

    victims = [pid for f in sdir.glob("hosts/*/sshd.pid") if (pid := stop_sshd(f)) is not None]
    for netns in present:
        for pid in netns_pids(netns):
            if _signal(pid, signal.SIGTERM):
                victims.append(pid)
    survivors = _wait_gone(victims, _STOP_GRACE_S)
    for pid in survivors:
        _signal(pid, signal.SIGKILL)
    for pid in _wait_gone(survivors, 1.0):
        problems.append(f"process {pid} survived SIGKILL")

    for netns in present:
        try:
            run(["ip", "netns", "del", netns])
        except LabError as exc:
            problems.append(str(exc))
    if (sdir / MARKER).exists():
        # Only a directory `up` marked is ours to delete: --state-dir may
        # name any path, and an unmarked one might hold someone's files.
        shutil.rmtree(sdir, ignore_errors=True)
    elif sdir.exists():
        for f in sdir.glob("hosts/*/sshd.pid"):
            f.unlink(missing_ok=True)
    if problems:
        raise LabError(f"lab {lab.name} is not fully down: " + "; ".join(problems))


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (our own child not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = [p for p in pids if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [p for p in left if _alive(p)]
    return left
