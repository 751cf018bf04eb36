"""Probe kinds, looked up by name (the ``kind`` of a probe request).

A new kind (udp, tls, icmp, ...) is a module with an
``async def probe(request, ops) -> Sample`` registered here; the scheduler
and the agent never change for it. A kind may also offer a :class:`Machine`
(start/step/expire/cancel over a non-blocking socket), which the scheduler's
epoll engine drives without a task per attempt; without one the kind runs on
the portable path.
"""

from __future__ import annotations

from typing import Dict, Optional

from . import dns, https_endpoint, ntp, tcp_connect, tls
from .base import WANT_READ, WANT_WRITE, Deadline, LoopSocketOps, Machine, ProbeFunc, SocketOps

_REGISTRY: Dict[str, ProbeFunc] = {
    tcp_connect.KIND: tcp_connect.probe,
    # application probes (coroutine only: the scheduler runs them on its portable path)
    tls.KIND: tls.probe,
    dns.KIND: dns.probe,
    ntp.KIND: ntp.probe,
    https_endpoint.KIND: https_endpoint.probe,
}
_MACHINES: Dict[str, Machine] = {
    tcp_connect.KIND: Machine(
        tcp_connect.start, tcp_connect.step, tcp_connect.expire, tcp_connect.cancel
    )
}


def register(kind: str, func: ProbeFunc, machine: Optional[Machine] = None) -> None:
    """Make ``func`` (and ``machine``, if any) the probe for ``kind``, replacing earlier ones."""
    _REGISTRY[kind] = func
    if machine is None:
        _MACHINES.pop(kind, None)
    else:
        _MACHINES[kind] = machine


def get_probe(kind: str) -> Optional[ProbeFunc]:
    """The probe for ``kind``, or None when this agent does not know it."""
    return _REGISTRY.get(kind)


def get_machine(kind: str) -> Optional[Machine]:
    """The state machine for ``kind``, or None (unknown kind, or coroutine only)."""
    return _MACHINES.get(kind)


def kinds() -> list[str]:
    """Names of the probe kinds this agent can run."""
    return sorted(_REGISTRY)


__all__ = [
    "WANT_READ",
    "WANT_WRITE",
    "Deadline",
    "LoopSocketOps",
    "Machine",
    "ProbeFunc",
    "SocketOps",
    "get_machine",
    "get_probe",
    "kinds",
    "register",
]
