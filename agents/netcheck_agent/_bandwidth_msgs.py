"""Bandwidth messages of protocol v1 (re-exported by :mod:`netcheck_agent.protocol`).

A bandwidth test joins two agents. The coordinator asks the destination
agent for a one-shot endpoint (:class:`BandwidthListen` →
:class:`BandwidthListening`), then asks the source agent to dial it
(:class:`BandwidthRun`), which streams :class:`BandwidthInterval` samples and
ends with one :class:`BandwidthResult`. The endpoint reports
:class:`BandwidthClosed` when it closes, whether asked to
(:class:`BandwidthStop`) or by itself (its client finished, nobody came, or
its seconds or bytes ran out).

Tokens are secrets: every message that carries one redacts it in ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Optional

from . import _fields as f

#: ``BandwidthResult.reason`` / ``BandwidthClosed.reason`` words; a vanished
#: peer reads ``"peer vanished after 3.2 s"`` (:data:`BW_PEER_VANISHED` + time).
BW_COMPLETED = "completed"
BW_REFUSED = "refused"
BW_NOT_ACCEPTED = "not accepted"
BW_TIMEOUT = "connect timeout"
BW_UNREACHABLE = "unreachable"
BW_PEER_VANISHED = "peer vanished"
BW_STOPPED = "stopped"
BW_NO_CLIENT = "no client"
BW_MAX_SECONDS = "max_seconds"
BW_MAX_BYTES = "max_bytes"
BW_ERROR = "error"

#: Where a result's byte count comes from (``BandwidthResult.source``).
SOURCE_RECEIVER = "receiver"  # counted by the receiving side (as iperf3's receiver line)
SOURCE_SENDER_ACKED = "sender_acked"  # TCP_INFO tcpi_bytes_acked on the sender
SOURCE_SENDER = "sender"  # bytes handed to the kernel (may include unsent buffer)

MAX_STREAMS = 128
MAX_SECONDS = 3600.0
MAX_BYTES = 2**50
MAX_ID = 256


def _token(field: str, value: Any) -> None:
    f.want_hex(field, value, max_len=128)
    if len(value) < 32:
        raise f.ProtocolError("must be at least 16 bytes (32 hex digits)", field)


@dataclass(frozen=True)
class BandwidthListen:
    """Open a one-shot endpoint: one client, up to ``streams`` connections, bounded."""

    TYPE: ClassVar[str] = "bandwidth_listen"
    id: str
    address: str
    port: int
    token: str
    max_bytes: int
    max_seconds: float
    streams: int = 1
    reverse: bool = False  # the endpoint sends, its client receives
    accept_timeout_s: float = 30.0  # nobody authenticated by then: close

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=MAX_ID)
        f.want_ip("address", self.address)
        f.want_int("port", self.port, 0, 65535)
        _token("token", self.token)
        f.want_int("max_bytes", self.max_bytes, 1, MAX_BYTES)
        f.want_number("max_seconds", self.max_seconds, 0.05, MAX_SECONDS)
        f.want_int("streams", self.streams, 1, MAX_STREAMS)
        f.want_bool("reverse", self.reverse)
        f.want_number("accept_timeout_s", self.accept_timeout_s, 0.05, MAX_SECONDS)

    def __repr__(self) -> str:
        return (
            f"BandwidthListen(id={self.id!r}, address={self.address!r}, port={self.port!r}, "
            f"token=<redacted>, max_bytes={self.max_bytes!r}, "
            f"max_seconds={self.max_seconds!r}, streams={self.streams!r}, "
            f"reverse={self.reverse!r}, accept_timeout_s={self.accept_timeout_s!r})"
        )

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "address": self.address,
            "port": self.port,
            "token": self.token,
            "max_bytes": self.max_bytes,
            "max_seconds": self.max_seconds,
            "streams": self.streams,
            "reverse": self.reverse,
            "accept_timeout_s": self.accept_timeout_s,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> BandwidthListen:
        return cls(
            f.get(d, "id"),
            f.get(d, "address"),
            f.get(d, "port"),
            f.get(d, "token"),
            f.get(d, "max_bytes"),
            f.get(d, "max_seconds"),
            f.get(d, "streams", 1),
            f.get(d, "reverse", False),
            f.get(d, "accept_timeout_s", 30.0),
        )


@dataclass(frozen=True)
class BandwidthListening:
    """The endpoint is open on ``address``:``port`` (the actual port when 0 was asked)."""

    TYPE: ClassVar[str] = "bandwidth_listening"
    id: str
    address: str
    port: int

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=MAX_ID)
        f.want_str("address", self.address, max_len=64)
        f.want_int("port", self.port, 1, 65535)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, "address": self.address, "port": self.port}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> BandwidthListening:
        return cls(f.get(d, "id"), f.get(d, "address"), f.get(d, "port"))


@dataclass(frozen=True)
class BandwidthRun:
    """Dial an endpoint with ``streams`` connections and move data for ``duration_s``.

    Forward: this agent sends. ``reverse``: the endpoint sends, this agent receives.
    """

    TYPE: ClassVar[str] = "bandwidth_run"
    id: str
    dst: str
    port: int
    token: str
    src: Optional[str] = None
    streams: int = 1
    duration_s: float = 10.0
    reverse: bool = False
    interval_ms: int = 1000
    connect_timeout_ms: int = 5000

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=MAX_ID)
        f.want_ip("dst", self.dst)
        f.want_int("port", self.port, 1, 65535)
        _token("token", self.token)
        if self.src is not None:
            f.want_ip("src", self.src)
        f.want_int("streams", self.streams, 1, MAX_STREAMS)
        f.want_number("duration_s", self.duration_s, 0.05, MAX_SECONDS)
        f.want_bool("reverse", self.reverse)
        f.want_int("interval_ms", self.interval_ms, 10, 60_000)
        f.want_int("connect_timeout_ms", self.connect_timeout_ms, 10, 120_000)

    def __repr__(self) -> str:
        return (
            f"BandwidthRun(id={self.id!r}, dst={self.dst!r}, port={self.port!r}, "
            f"token=<redacted>, src={self.src!r}, streams={self.streams!r}, "
            f"duration_s={self.duration_s!r}, reverse={self.reverse!r}, "
            f"interval_ms={self.interval_ms!r})"
        )

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "dst": self.dst,
            "port": self.port,
            "token": self.token,
            "src": self.src,
            "streams": self.streams,
            "duration_s": self.duration_s,
            "reverse": self.reverse,
            "interval_ms": self.interval_ms,
            "connect_timeout_ms": self.connect_timeout_ms,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> BandwidthRun:
        return cls(
            f.get(d, "id"),
            f.get(d, "dst"),
            f.get(d, "port"),
            f.get(d, "token"),
            f.get(d, "src", None),
            f.get(d, "streams", 1),
            f.get(d, "duration_s", 10.0),
            f.get(d, "reverse", False),
            f.get(d, "interval_ms", 1000),
            f.get(d, "connect_timeout_ms", 5000),
        )


@dataclass(frozen=True)
class BandwidthInterval:
    """Bytes moved (and retransmissions, where TCP_INFO has them) in one interval.

    ``t`` is the interval's end in seconds since the data started flowing.
    """

    TYPE: ClassVar[str] = "bandwidth_interval"
    id: str
    t: float
    bytes: int
    retrans: Optional[int] = None

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=MAX_ID)
        f.want_number("t", self.t, 0, MAX_SECONDS * 2)
        f.want_int("bytes", self.bytes, 0, MAX_BYTES)
        f.want_opt_int("retrans", self.retrans, 0, 2**63)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "t": self.t,
            "bytes": self.bytes,
            "retrans": self.retrans,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> BandwidthInterval:
        return cls(f.get(d, "id"), f.get(d, "t"), f.get(d, "bytes"), f.get(d, "retrans", None))


@dataclass(frozen=True)
class BandwidthResult:
    """The outcome of a :class:`BandwidthRun`: the figure, and why it ended."""

    TYPE: ClassVar[str] = "bandwidth_result"
    id: str
    bytes: int
    seconds: float
    mbps: float
    retransmits: Optional[int]
    streams: int
    reason: str
    source: str = SOURCE_RECEIVER

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=MAX_ID)
        f.want_int("bytes", self.bytes, 0, MAX_BYTES)
        f.want_number("seconds", self.seconds, 0, MAX_SECONDS * 2)
        f.want_number("mbps", self.mbps, 0, 1e9)
        f.want_opt_int("retransmits", self.retransmits, 0, 2**63)
        f.want_int("streams", self.streams, 0, MAX_STREAMS)
        f.want_str("reason", self.reason, max_len=512)
        f.want_str("source", self.source, max_len=32)

    @property
    def completed(self) -> bool:
        return self.reason == BW_COMPLETED

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "bytes": self.bytes,
            "seconds": self.seconds,
            "mbps": self.mbps,
            "retransmits": self.retransmits,
            "streams": self.streams,
            "reason": self.reason,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> BandwidthResult:
        return cls(
            f.get(d, "id"),
            f.get(d, "bytes"),
            f.get(d, "seconds"),
            f.get(d, "mbps"),
            f.get(d, "retransmits", None),
            f.get(d, "streams"),
            f.get(d, "reason"),
            f.get(d, "source", SOURCE_RECEIVER),
        )


@dataclass(frozen=True)
class BandwidthStop:
    """Close an endpoint, or end a run early (it still reports what it measured)."""

    TYPE: ClassVar[str] = "bandwidth_stop"
    id: str

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=MAX_ID)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE, "id": self.id}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> BandwidthStop:
        return cls(f.get(d, "id"))


@dataclass(frozen=True)
class BandwidthClosed:
    """An endpoint closed: what it carried, how many connections it accepted and refused."""

    TYPE: ClassVar[str] = "bandwidth_closed"
    id: str
    bytes: int
    seconds: float
    connections: int
    rejected: int
    reason: str
    retransmits: Optional[int] = None  # when the endpoint sent (reverse), from TCP_INFO

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=MAX_ID)
        f.want_int("bytes", self.bytes, 0, MAX_BYTES)
        f.want_number("seconds", self.seconds, 0, MAX_SECONDS * 2)
        f.want_int("connections", self.connections, 0, MAX_STREAMS)
        f.want_int("rejected", self.rejected, 0, 2**63)
        f.want_str("reason", self.reason, max_len=512)
        f.want_opt_int("retransmits", self.retransmits, 0, 2**63)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "bytes": self.bytes,
            "seconds": self.seconds,
            "connections": self.connections,
            "rejected": self.rejected,
            "reason": self.reason,
            "retransmits": self.retransmits,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> BandwidthClosed:
        return cls(
            f.get(d, "id"),
            f.get(d, "bytes"),
            f.get(d, "seconds"),
            f.get(d, "connections"),
            f.get(d, "rejected"),
            f.get(d, "reason"),
            f.get(d, "retransmits", None),
        )
