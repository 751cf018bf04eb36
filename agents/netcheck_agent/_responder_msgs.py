"""Responder messages of protocol v1 (re-exported by :mod:`netcheck_agent.protocol`).

A responder set is a group of short-lived listeners an agent opens on the
ports a destination must serve, so that a probe carrying the sweep's nonce can
prove it reached *this* responder (host, address, port) end to end (see
:mod:`netcheck_agent.challenge`). Every set is bounded: a TTL after which it
closes by itself and a cap on the challenges it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Tuple

from . import _fields as f

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
class ListenSpec:
    """An address and port to listen on (port 0 asks the OS for a free port)."""

    address: str
    port: int

    def __post_init__(self) -> None:
        f.want_ip("address", self.address)
        f.want_int("port", self.port, 0, 65535)

    def to_dict(self) -> Dict[str, Any]:
        return {"address": self.address, "port": self.port}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ListenSpec:
        return cls(f.get(d, "address"), f.get(d, "port"))


@dataclass(frozen=True)
class ListenRefused:
    """A listener the agent could not open, and why (see ``REFUSED_*``)."""

    address: str
    port: int
    reason: str
    detail: str = ""

    def __post_init__(self) -> None:
        f.want_str("address", self.address, max_len=64)
        f.want_int("port", self.port, 0, 65535)
        f.want_str("reason", self.reason, max_len=64)
        f.want_str("detail", self.detail, empty_ok=True)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "address": self.address,
            "port": self.port,
            "reason": self.reason,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ListenRefused:
        return cls(
            f.get(d, "address"), f.get(d, "port"), f.get(d, "reason"), f.get(d, "detail", "")
        )


@dataclass(frozen=True)
class RespondersStart:
    """Open listeners answering the sweep's challenge, for at most ``ttl_s`` seconds.

    ``host`` is the destination's name in the topology: with each listener's
    address and port it is the identity the answers are keyed with. The set
    closes after ``max_conns`` *answered challenges* of its sweep (the name is
    protocol v1's); connections that carry none are not counted, so strangers
    cannot use up the budget that proves cells.
    """

    TYPE: ClassVar[str] = "responders_start"
    id: str
    nonce: str
    listen: Tuple[ListenSpec, ...]
    ttl_s: float = 60
    max_conns: int = 10_000
    host: str = ""

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_hex("nonce", self.nonce)
        f.want_tuple_of("listen", self.listen, ListenSpec)
        f.want_number("ttl_s", self.ttl_s, 0.001, MAX_TTL_S)
        f.want_int("max_conns", self.max_conns, 1, MAX_CONNS)
        f.want_str("host", self.host, empty_ok=True, max_len=255)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "nonce": self.nonce,
            "ttl_s": self.ttl_s,
            "max_conns": self.max_conns,
            "host": self.host,
            "listen": [spec.to_dict() for spec in self.listen],
        }

    def __repr__(self) -> str:
        # Never let the nonce reach a log line through a repr.
        return (
            f"RespondersStart(id={self.id!r}, nonce=<redacted>, listen={self.listen!r}, "
            f"ttl_s={self.ttl_s!r}, max_conns={self.max_conns!r}, host={self.host!r})"
        )

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> RespondersStart:
        items = f.get_list(d, "listen")
        listen = tuple(f.nested("listen", i, x, ListenSpec.from_dict) for i, x in enumerate(items))
        return cls(
            f.get(d, "id"),
            f.get(d, "nonce"),
            listen,
            f.get(d, "ttl_s", 60),
            f.get(d, "max_conns", 10_000),
            f.get(d, "host", ""),
        )


@dataclass(frozen=True)
class RespondersReady:
    """Which listeners of a set are open (with their actual ports) and which are not."""

    TYPE: ClassVar[str] = "responders_ready"
    id: str
    listening: Tuple[ListenSpec, ...]
    refused: Tuple[ListenRefused, ...] = ()

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_tuple_of("listening", self.listening, ListenSpec)
        f.want_tuple_of("refused", self.refused, ListenRefused)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "listening": [spec.to_dict() for spec in self.listening],
            "refused": [r.to_dict() for r in self.refused],
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> RespondersReady:
        listening = tuple(
            f.nested("listening", i, x, ListenSpec.from_dict)
            for i, x in enumerate(f.get_list(d, "listening"))
        )
        refused = tuple(
            f.nested("refused", i, x, ListenRefused.from_dict)
            for i, x in enumerate(f.get_list(d, "refused"))
        )
        return cls(f.get(d, "id"), listening, refused)


@dataclass(frozen=True)
class RespondersStop:
    """Close a responder set now."""

    TYPE: ClassVar[str] = "responders_stop"
    id: str

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE, "id": self.id}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> RespondersStop:
        return cls(f.get(d, "id"))


@dataclass(frozen=True)
class RespondersStopped:
    """A responder set is closed: connections accepted and challenges answered (``proven``).

    Sent in reply to :class:`RespondersStop`, and unprompted when the set
    closed by itself (``reason`` ``ttl`` or ``max_conns``).
    """

    TYPE: ClassVar[str] = "responders_stopped"
    id: str
    connections: int
    proven: int
    reason: str = STOPPED_REQUESTED

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_int("connections", self.connections, 0, 2**63)
        f.want_int("proven", self.proven, 0, 2**63)
        f.want_str("reason", self.reason, max_len=64)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "connections": self.connections,
            "proven": self.proven,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> RespondersStopped:
        return cls(
            f.get(d, "id"),
            f.get(d, "connections"),
            f.get(d, "proven"),
            f.get(d, "reason", STOPPED_REQUESTED),
        )
