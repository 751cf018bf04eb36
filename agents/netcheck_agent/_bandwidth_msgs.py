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

from dataclasses import dataclass, field
from typing import ClassVar, Optional

from ._codec import Wire, between, hex_text, ip, text
from .bounds import BW_DURATION_S, BW_INTERVAL_MS, BW_STREAMS

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


_ID = text(MAX_ID)
_TOKEN = hex_text(128, min_len=32, secret=True)  # at least 16 bytes
_SECONDS = between(0.05, MAX_SECONDS)
_ELAPSED = between(0, MAX_SECONDS * 2)
_BYTES = between(0, MAX_BYTES)
_COUNT = between(0, 2**63)


@dataclass(frozen=True)
class BandwidthListen(Wire):
    """Open a one-shot endpoint: one client, up to ``streams`` connections, bounded."""

    TYPE: ClassVar[str] = "bandwidth_listen"
    id: str = field(metadata=_ID)
    address: str = field(metadata=ip())
    port: int = field(metadata=between(0, 65535))
    token: str = field(metadata=_TOKEN)
    max_bytes: int = field(metadata=between(1, MAX_BYTES))
    max_seconds: float = field(metadata=_SECONDS)
    streams: int = field(default=1, metadata=between(1, MAX_STREAMS))
    reverse: bool = False  # the endpoint sends, its client receives
    accept_timeout_s: float = field(default=30.0, metadata=_SECONDS)  # nobody authenticated: close


@dataclass(frozen=True)
class BandwidthListening(Wire):
    """The endpoint is open on ``address``:``port`` (the actual port when 0 was asked)."""

    TYPE: ClassVar[str] = "bandwidth_listening"
    id: str = field(metadata=_ID)
    address: str = field(metadata=text(64))
    port: int = field(metadata=between(1, 65535))


@dataclass(frozen=True)
class BandwidthRun(Wire):
    """Dial an endpoint with ``streams`` connections and move data for ``duration_s``.

    Forward: this agent sends. ``reverse``: the endpoint sends, this agent receives.
    """

    TYPE: ClassVar[str] = "bandwidth_run"
    id: str = field(metadata=_ID)
    dst: str = field(metadata=ip())
    port: int = field(metadata=between(1, 65535))
    token: str = field(metadata=_TOKEN)
    src: Optional[str] = field(default=None, metadata=ip())
    streams: int = field(default=1, metadata=BW_STREAMS.meta())
    duration_s: float = field(default=10.0, metadata=BW_DURATION_S.meta())
    reverse: bool = False
    interval_ms: int = field(default=1000, metadata=BW_INTERVAL_MS.meta())
    connect_timeout_ms: int = field(default=5000, metadata=between(10, 120_000))


@dataclass(frozen=True)
class BandwidthInterval(Wire):
    """Bytes moved (and retransmissions, where TCP_INFO has them) in one interval.

    ``t`` is the interval's end in seconds since the data started flowing.
    """

    TYPE: ClassVar[str] = "bandwidth_interval"
    id: str = field(metadata=_ID)
    t: float = field(metadata=_ELAPSED)
    bytes: int = field(metadata=_BYTES)
    retrans: Optional[int] = field(default=None, metadata=_COUNT)


@dataclass(frozen=True)
class BandwidthResult(Wire):
    """The outcome of a :class:`BandwidthRun`: the figure, and why it ended."""

    TYPE: ClassVar[str] = "bandwidth_result"
    id: str = field(metadata=_ID)
    bytes: int = field(metadata=_BYTES)
    seconds: float = field(metadata=_ELAPSED)
    mbps: float = field(metadata=between(0, 1e9))
    retransmits: Optional[int] = field(metadata=_COUNT)
    streams: int = field(metadata=between(0, MAX_STREAMS))
    reason: str = field(metadata=text(512))
    source: str = field(default=SOURCE_RECEIVER, metadata=text(32))

    @property
    def completed(self) -> bool:
        return self.reason == BW_COMPLETED


@dataclass(frozen=True)
class BandwidthStop(Wire):
    """Close an endpoint, or end a run early (it still reports what it measured)."""

    TYPE: ClassVar[str] = "bandwidth_stop"
    id: str = field(metadata=_ID)


@dataclass(frozen=True)
class BandwidthClosed(Wire):
    """An endpoint closed: what it carried, how many connections it accepted and refused."""

    TYPE: ClassVar[str] = "bandwidth_closed"
    id: str = field(metadata=_ID)
    bytes: int = field(metadata=_BYTES)
    seconds: float = field(metadata=_ELAPSED)
    connections: int = field(metadata=between(0, MAX_STREAMS))
    rejected: int = field(metadata=_COUNT)
    reason: str = field(metadata=text(512))
    retransmits: Optional[int] = field(default=None, metadata=_COUNT)  # reverse: from TCP_INFO
