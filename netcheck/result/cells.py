"""What a sweep measured, as coordinator-side values (decoded once from agent messages)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from netcheck.plan import ProbeSpec

__all__ = ["AgentInfo", "CellResult", "CellStatus", "FactValue", "Outcome", "Sample"]

#: A value an application probe reports (TLS version, days to expiry, DNS answers, ...).
FactValue = str | int | float | bool | list[str] | None


class Outcome(enum.Enum):
    """The result of one probe attempt, as the agent classified it."""

    OPEN = "open"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    HANDSHAKE_ONLY = "handshake_only"
    ERROR = "error"


class CellStatus(enum.Enum):
    """Whether a cell was measured, and if not, why not."""

    MEASURED = "measured"
    AGENT_UNAVAILABLE = "agent_unavailable"  # the source's agent never started
    AGENT_LOST = "agent_lost"  # the agent died before it reported this cell
    NOT_RUN = "not_run"  # the sweep was interrupted before this cell
    # probed, but nothing of ours could listen: the destination's agent, which opens the
    # responder there, was unavailable, and the port refused (no real service either)
    NO_LISTENER = "no_listener"


@dataclass(frozen=True, slots=True)
class Sample:
    outcome: Outcome
    rtt_us: int | None = None
    rtt_source: str | None = None  # "tcp_info" (kernel) or "monotonic" (agent clock)
    errno: int | None = None
    detail: str = ""
    proven: bool = False  # our responder answered the per-sweep challenge
    t: float = 0.0
    facts: dict[str, FactValue] | None = None  # what an application probe learned

    def __post_init__(self) -> None:
        if self.rtt_us is not None and self.rtt_us < 0:
            raise ValueError(f"negative RTT {self.rtt_us}")


@dataclass(frozen=True, slots=True)
class CellResult:
    spec: ProbeSpec
    status: CellStatus
    samples: tuple[Sample, ...] = ()
    reason: str = ""  # why not measured

    def __post_init__(self) -> None:
        if self.status is CellStatus.MEASURED and not self.samples:
            raise ValueError(f"{self.spec.cell_id}: measured without samples")


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """One source host's agent as the sweep saw it."""

    host: str
    transport: str
    available: bool
    reason: str = ""  # why unavailable or lost
    agent_version: str | None = None
    python: str | None = None
    platform: str | None = None
    capabilities: dict[str, bool] = field(default_factory=dict)
    lost: bool = False
    pid: int | None = None  # the agent's process id on its host
    timings: dict[str, float] = field(default_factory=dict)  # connect_s, upload_s, ready_s, ...


@dataclass(frozen=True, slots=True)
class ProbeQueuing:
    """Probe attempts that waited for a free slot behind an agent's in-flight limit
    (the sweep's `concurrency`, or the agent's own cap from its descriptor limit):
    their timeouts ran in turn, not all at once, and the sweep took longer."""

    agent: str  # the agent's host (a shared agent: the hosts it served)
    cells: int  # the cells of its batch
    queued: int  # attempts that waited
    limit: int  # attempts in flight at most


#: How a NO-LISTENER cell's reason starts when the destination's agent was there but
#: its responder could not open the port (no permission below 1024, address missing).
RESPONDER_NOT_OPENED = "no listener: netcheck's responder could not open"


def agent_down_reason(host: str, why: str) -> str:
    """A NO-LISTENER cell's reason: the destination's agent is unavailable."""
    return f"no listener: agent on {host} unavailable: {why}"


def responder_not_opened_reason(host: str, address: str, port: int, why: str) -> str:
    """A NO-LISTENER cell's reason: the responder could not open the port on `host`."""
    return f"{RESPONDER_NOT_OPENED} {address}:{port} on {host}: {why}"
