"""What a bandwidth test measured, as frozen values (no I/O)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from netcheck.topology.bandwidth import BandwidthCheck

__all__ = ["BandwidthOutcome", "BandwidthSample", "BandwidthStatus", "EndpointReport"]


class BandwidthStatus(enum.Enum):
    MEASURED = "measured"  # data moved (possibly a partial figure: see `reason`)
    FAILED = "failed"  # no data moved: refused, not accepted, endpoint could not listen...
    AGENT_UNAVAILABLE = "agent_unavailable"
    AGENT_LOST = "agent_lost"
    NOT_RUN = "not_run"  # interrupted before its turn


@dataclass(frozen=True, slots=True)
class BandwidthSample:
    """One interval: `t` is its end in seconds since the data started, `seconds` its length."""

    t: float
    seconds: float
    bytes: int
    retrans: int | None = None

    @property
    def mbps(self) -> float:
        return self.bytes * 8 / self.seconds / 1e6 if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class EndpointReport:
    """The endpoint's own account (`bandwidth_closed`)."""

    bytes: int
    seconds: float
    connections: int
    rejected: int
    reason: str
    retransmits: int | None = None


@dataclass(frozen=True, slots=True)
class BandwidthOutcome:
    check: BandwidthCheck
    path: str | None  # the declared path between the two hosts' sites
    source_address: str  # the dialing side's bound address
    dest_address: str  # the endpoint's address
    status: BandwidthStatus
    reason: str  # "completed", "peer vanished after 3.1 s", "refused", why not measured...
    port: int | None = None  # the endpoint's actual port
    bytes: int = 0
    seconds: float = 0.0
    mbps: float | None = None
    retransmits: int | None = None  # of the sending side, from TCP_INFO; None where not offered
    streams: int = 0  # connected streams
    figure_source: str = ""  # "receiver" | "sender_acked" | "sender"
    intervals: tuple[BandwidthSample, ...] = ()
    endpoint: EndpointReport | None = None
    started_at: float | None = None

    @property
    def completed(self) -> bool:
        return self.status is BandwidthStatus.MEASURED and self.reason == "completed"

    @property
    def sender(self) -> str:
        return self.check.sender

    @property
    def receiver(self) -> str:
        return self.check.receiver
