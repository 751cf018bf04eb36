"""Probe kinds, looked up by name (the ``kind`` of a probe request).

A new kind (udp, tls, icmp, ...) is a module with an
``async def probe(request, ops) -> Sample`` registered here; the scheduler
and the agent never change for it. A kind may also offer a :class:`Machine`
(start/step/expire/cancel over a non-blocking socket), which the scheduler's
epoll engine drives without a task per attempt; without one the kind runs on
the portable path.
"""

from __future__ import annotations

import importlib
from typing import Dict, Optional

from . import tcp_connect
from .base import WANT_READ, WANT_WRITE, Deadline, LoopSocketOps, Machine, ProbeFunc, SocketOps

_REGISTRY: Dict[str, ProbeFunc] = {tcp_connect.KIND: tcp_connect.probe}
# The application probes (coroutine only: the scheduler runs them on its portable
# path), by kind -> module: imported on first use, so an agent that only connects
# does not load TLS, DNS and NTP at start-up (each module checks its KIND on load).
_LAZY: Dict[str, str] = {
    "tls": "tls",
    "dns": "dns",
    "ntp": "ntp",
    "https_endpoint": "https_endpoint",
}

_MACHINES: Dict[str, Machine] = {
    tcp_connect.KIND: Machine(
        tcp_connect.start, tcp_connect.step, tcp_connect.expire, tcp_connect.cancel
    )
}


def _load(kind: str) -> Optional[ProbeFunc]:
    module_name = _LAZY.pop(kind, None)
    if module_name is None:
        return None
    module = importlib.import_module("." + module_name, __name__)
    if kind != module.KIND:  # pragma: no cover - a renamed kind; the tests import all
        raise ImportError(f"probe module {module_name} is kind {module.KIND!r}, not {kind!r}")
    _REGISTRY.setdefault(kind, module.probe)
    return _REGISTRY[kind]


def register(kind: str, func: ProbeFunc, machine: Optional[Machine] = None) -> None:
    """Make ``func`` (and ``machine``, if any) the probe for ``kind``, replacing earlier ones."""
    _LAZY.pop(kind, None)
    _REGISTRY[kind] = func
    if machine is None:
        _MACHINES.pop(kind, None)
    else:
        _MACHINES[kind] = machine


def get_probe(kind: str) -> Optional[ProbeFunc]:
    """The probe for ``kind``, or None when this agent does not know it."""
    return _REGISTRY.get(kind) or _load(kind)


def get_machine(kind: str) -> Optional[Machine]:
    """The state machine for ``kind``, or None (unknown kind, or coroutine only)."""
    return _MACHINES.get(kind)


def kinds() -> list[str]:
    """Names of the probe kinds this agent can run."""
    return sorted(set(_REGISTRY) | set(_LAZY))


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
