"""Responder messages of protocol v1 (re-exported by :mod:`netcheck_agent.protocol`).

A responder set is a group of short-lived listeners an agent opens on the
ports a destination must serve, so that a probe carrying the sweep's nonce can
prove it reached *this* responder (host, address, port) end to end (see
:mod:`netcheck_agent.challenge`). Every set is bounded: a TTL after which it
closes by itself and a cap on the challenges it answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Tuple

from ._codec import Wire, between, hex_text, ip, required, text

#: Why a listener could not be opened (``RespondersReady.refused[].reason``).
#: ``in_use`` means the real service already holds the port, which is good
#: news: the coordinator then probes the real service instead.
REFUSED_IN_USE = "in_use"
REFUSED_PERMISSION = "permission"
REFUSED_ADDRESS_NOT_AVAILABLE = "address_not_available"
REFUSED_ERROR = "error"
#: The port is held by a responder of another netcheck sweep (it told our
#: challenge apart from its own): not a real service, and nothing to prove.
REFUSED_OTHER_SWEEP = "other_sweep"

#: Why a responder set stopped (``RespondersStopped.reason``).
STOPPED_REQUESTED = "requested"
STOPPED_TTL = "ttl"
STOPPED_MAX_CONNS = "max_conns"
STOPPED_AGENT_EXIT = "agent_exit"

MAX_TTL_S = 86_400
MAX_CONNS = 1_000_000


@dataclass(frozen=True)
class ListenSpec(Wire):
    """An address and port to listen on (port 0 asks the OS for a free port)."""

    address: str = field(metadata=ip())
    port: int = field(metadata=between(0, 65535))


@dataclass(frozen=True)
class ListenRefused(Wire):
    """A listener the agent could not open, and why (see ``REFUSED_*``)."""

    address: str = field(metadata=text(64))
    port: int = field(metadata=between(0, 65535))
    reason: str = field(metadata=text(64))
    detail: str = field(default="", metadata=text(empty_ok=True))


@dataclass(frozen=True)
class RespondersStart(Wire):
    """Open listeners answering the sweep's challenge, for at most ``ttl_s`` seconds.

    ``host`` is the destination's name in the topology: with each listener's
    address and port it is the identity the answers are keyed with. The set
    closes after ``max_conns`` *answered challenges* of its sweep (the name is
    protocol v1's); connections that carry none are not counted, so strangers
    cannot use up the budget that proves cells.
    """

    TYPE: ClassVar[str] = "responders_start"
    WIRE_ORDER: ClassVar[Tuple[str, ...]] = (
        "id",
        "nonce",
        "ttl_s",
        "max_conns",
        "host",
        "listen",
    )
    id: str = field(metadata=text(256))
    nonce: str = field(metadata=hex_text(secret=True))
    listen: Tuple[ListenSpec, ...]
    ttl_s: float = field(default=60, metadata=between(0.001, MAX_TTL_S))
    max_conns: int = field(default=10_000, metadata=between(1, MAX_CONNS))
    host: str = field(default="", metadata=text(255, empty_ok=True))


@dataclass(frozen=True)
class RespondersReady(Wire):
    """Which listeners of a set are open (with their actual ports) and which are not."""

    TYPE: ClassVar[str] = "responders_ready"
    id: str = field(metadata=text(256))
    listening: Tuple[ListenSpec, ...]
    refused: Tuple[ListenRefused, ...] = field(default=(), metadata=required())


@dataclass(frozen=True)
class RespondersStop(Wire):
    """Close a responder set now."""

    TYPE: ClassVar[str] = "responders_stop"
    id: str = field(metadata=text(256))


@dataclass(frozen=True)
class RespondersStopped(Wire):
    """A responder set is closed: connections accepted and challenges answered (``proven``).

    Sent in reply to :class:`RespondersStop`, and unprompted when the set
    closed by itself (``reason`` ``ttl`` or ``max_conns``).
    """

    TYPE: ClassVar[str] = "responders_stopped"
    id: str = field(metadata=text(256))
    connections: int = field(metadata=between(0, 2**63))
    proven: int = field(metadata=between(0, 2**63))
    reason: str = field(default=STOPPED_REQUESTED, metadata=text(64))
