"""Working with a lab that is up: run commands in it, flip faults, ask its state."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netcheck.errors import LabError
from netcheck.lab.builder import find_fault
from netcheck.lab.commands import in_netns, list_netns, netns_pids
from netcheck.lab.faults import fault_is_on, set_fault
from netcheck.lab.model import Lab
from netcheck.lab.sshd import host_dir, read_pid
from netcheck.lab.state import LabStatus, state_dir_for

__all__ = ["lab_exec", "lab_fault", "lab_spawn", "lab_status"]

_EXEC_TIMEOUT_S = 30.0


def _netns_of(lab: Lab, name: str) -> str:
    try:
        lab.namespace(name)
    except KeyError:
        known = ", ".join(ns.name for ns in lab.namespaces)
        raise LabError(f"lab {lab.name} has no namespace {name!r}; it has: {known}") from None
    return lab.netns(name)


def lab_exec(
    lab: Lab, host: str, argv: Sequence[str], **kwargs: Any
) -> subprocess.CompletedProcess[Any]:
    """`subprocess.run(argv, **kwargs)` inside lab namespace `host`.

    A timeout of 30 s applies unless `timeout=` is given: every lab command is
    bounded. `check`, `capture_output`, `text`, `input`... pass through.
    """
    kwargs.setdefault("timeout", _EXEC_TIMEOUT_S)
    return subprocess.run(in_netns(_netns_of(lab, host), argv), **kwargs)


def lab_spawn(lab: Lab, host: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(argv, **kwargs)` inside `host`, for a listener or a server.

    The caller stops it; `lab_down` also ends anything still living in a lab
    namespace.
    """
    return subprocess.Popen(in_netns(_netns_of(lab, host), argv), **kwargs)


def lab_fault(lab: Lab, name: str, on: bool = True) -> None:
    """Switch fault `name` on or off in a lab that is up (idempotent)."""
    fault = find_fault(lab, name)
    involved = {ns for ns, _ in fault.routes} | set(fault.at)
    present = set(list_netns())
    missing = sorted(lab.netns(ns) for ns in involved if lab.netns(ns) not in present)
    if missing:
        raise LabError(
            f"lab {lab.name} is not up (missing {', '.join(missing)}); "
            f"bring it up with `netcheck lab up {lab.source}`"
        )
    set_fault(lab, fault, on)


def lab_status(lab: Lab, state_dir: str | Path | None = None) -> LabStatus:
    """Which namespaces exist, which sshds run, which faults are on — read from the kernel."""
    sdir = state_dir_for(lab, state_dir)
    existing = list_netns()
    declared = [lab.netns(ns.name) for ns in lab.namespaces]
    present = tuple(n for n in declared if n in existing)
    missing = tuple(n for n in declared if n not in existing)
    strays = tuple(n for n in existing if n.startswith(lab.prefix) and n not in declared)
    sshd_down = []
    for host in lab.hosts:
        if not host.sshd:
            continue
        pid = read_pid(host_dir(sdir, host.name) / "sshd.pid")
        netns = lab.netns(host.name)
        if pid is None or netns not in existing or pid not in netns_pids(netns):
            sshd_down.append(host.name)
    faults_on: tuple[str, ...] = ()
    if present and not missing:
        faults_on = tuple(f.name for f in lab.faults if fault_is_on(lab, f))
    return LabStatus(
        lab=lab.name,
        state_dir=sdir,
        present=present,
        missing=missing,
        sshd_down=tuple(sshd_down),
        faults_on=faults_on,
        strays=strays,
    )
