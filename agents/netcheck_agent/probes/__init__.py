"""Probe kinds, looked up by name (the ``kind`` of a probe request).

A new kind (udp, tls, icmp, ...) is a module with an
``async def probe(request, ops) -> Sample`` registered here; the scheduler
and the agent never change for it.
"""

from __future__ import annotations

from typing import Dict, Optional

from . import tcp_connect
from .base import Deadline, LoopSocketOps, ProbeFunc, SocketOps

_REGISTRY: Dict[str, ProbeFunc] = {tcp_connect.KIND: tcp_connect.probe}


def register(kind: str, func: ProbeFunc) -> None:
    """Make ``func`` the probe for ``kind`` (replacing any earlier one)."""
    _REGISTRY[kind] = func


def get_probe(kind: str) -> Optional[ProbeFunc]:
    """The probe for ``kind``, or None when this agent does not know it."""
    return _REGISTRY.get(kind)


def kinds() -> list[str]:
    """Names of the probe kinds this agent can run."""
    return sorted(_REGISTRY)


__all__ = [
    "Deadline",
    "LoopSocketOps",
    "ProbeFunc",
    "SocketOps",
    "get_probe",
    "kinds",
    "register",
]
