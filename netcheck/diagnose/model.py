"""Path diagnostics as coordinator-side values: traces, echo series, PMTU, and what they mean.

A `Measurement` is one agent diagnostic decoded once (traceroute, echo, pmtu);
`Breakpoint` and `PathCheck` are the pure verdict functions' answers
(netcheck.diagnose.verdict). `Diagnostics` is what a sweep carries.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Breakpoint",
    "CellDiagnosis",
    "Diagnostics",
    "Finding",
    "FindingLevel",
    "Hop",
    "Measurement",
    "Method",
    "PathCheck",
    "PathDirection",
]


class Method(enum.Enum):
    """How an agent measured: raw packets, the Linux error queue, a ping socket, or not at all."""

    SCAPY = "scapy"
    RECVERR = "recverr"
    ICMP_DGRAM = "icmp_dgram"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Hop:
    """One probe's answer (traceroute: per TTL; echo: per sequence; pmtu: per size)."""

    ttl: int
    reply: str  # none | syn-ack | rst | echo-reply | answer | time-exceeded | unreachable | ...
    address: str | None = None
    rtt_ms: float | None = None
    icmp: str = ""  # time-exceeded, admin-prohibited, frag-needed, port-unreachable, ...
    icmp_type: int | None = None
    icmp_code: int | None = None
    mtu: int | None = None  # a frag-needed's next-hop MTU
    size: int | None = None  # a PMTU probe's size

    @property
    def answered(self) -> bool:
        return self.reply != "none"


@dataclass(frozen=True, slots=True)
class Measurement:
    """One diagnostic an agent ran from `source_host` toward `dest_address`."""

    kind: str  # traceroute | echo | pmtu | syn
    source_host: str
    source_address: str | None
    dest_host: str
    dest_address: str
    proto: str
    port: int
    method: Method
    detail: str = ""  # unavailable: why; otherwise a note (e.g. "stopped: gap")
    hops: tuple[Hop, ...] = ()
    reached: bool | None = None
    sent: int = 0
    received: int = 0
    pmtu: int | None = None
    iface: str | None = None  # the source's route interface toward the target
    iface_mtu: int | None = None
    packets: int = 0
    elapsed_ms: int = 0

    @property
    def available(self) -> bool:
        return self.method is not Method.UNAVAILABLE

    @property
    def not_available(self) -> str:
        """'KIND not available on HOST: reason' (empty when it ran)."""
        if self.available:
            return ""
        return (
            f"{self.kind} not available on {self.source_host}: {self.detail or 'no reason given'}"
        )

    @property
    def loss_pct(self) -> float | None:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else None

    def rtts_ms(self) -> list[float]:
        return [h.rtt_ms for h in self.hops if h.rtt_ms is not None and h.answered]


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """Where a traced flow stops, in the topology's words."""

    located: bool  # a hop was found (False: not traced, or the trace said nothing)
    message: str  # "9443 dies after vpn-rtr 198.18.200.2 (s2s-vpn), before onprem-gw ..."
    last_hop: Hop | None = None  # the last hop that answered before the break
    last_label: str = ""
    first_silent_ttl: int | None = None
    next_expected: str = ""  # the gateway the flow should have reached next
    icmp: str = ""  # the ICMP reason when a router refused (admin-prohibited, ...)
    reached: bool = False  # the trace got to the target itself


@dataclass(frozen=True, slots=True)
class CellDiagnosis:
    cell_id: str
    trace: Measurement
    where: Breakpoint


class FindingLevel(enum.Enum):
    FAIL = "fail"  # joins the verdict: no-go
    WARN = "warn"
    INFO = "info"
    UNKNOWN = "unknown"  # could not be measured (never shown green)


@dataclass(frozen=True, slots=True)
class Finding:
    level: FindingLevel
    code: str  # pmtu-below-expect, pmtu-below-interface, rtt, loss, path-mismatch, ...
    message: str


@dataclass(frozen=True, slots=True)
class PathDirection:
    """What one source host measured toward the other side of a path."""

    source_host: str
    dest_host: str
    dest_address: str
    trace: Measurement | None
    echo: Measurement | None
    pmtu: Measurement | None
    taken: str | None  # the declared path the trace's hops identify, None when unknown
    gateways_seen: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PathCheck:
    path: str
    expected: bool  # the first declared path between its sites (the one traffic should take)
    directions: tuple[PathDirection, ...]
    findings: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        return not any(f.level is FindingLevel.FAIL for f in self.findings)

    def best(self, kind: str) -> Measurement | None:
        """The first direction's measurement of `kind` that ran."""
        for d in self.directions:
            m = {"trace": d.trace, "echo": d.echo, "pmtu": d.pmtu}[kind]
            if m is not None and m.available:
                return m
        return None


@dataclass(frozen=True, slots=True)
class Diagnostics:
    cells: tuple[CellDiagnosis, ...] = ()
    paths: tuple[PathCheck, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. "12 failing cells not traced: limit 32"

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.paths)

    def for_cell(self, cell_id: str) -> CellDiagnosis | None:
        for c in self.cells:
            if c.cell_id == cell_id:
                return c
        return None
