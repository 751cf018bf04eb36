"""Readiness results as frozen values: verdicts, the facts behind them, where each came from."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "DOC_CAPACITY",
    "DOC_LINUX_MT",
    "DOC_PREPARE",
    "DOC_REPROTECT",
    "Fact",
    "FactValue",
    "Finding",
    "LiveStatus",
    "ReadinessResult",
    "Source",
    "Verdict",
]

DOC_PREPARE = "AS/vmware-azure-prepare-failback.md"
DOC_CAPACITY = "AS/site-recovery-plan-capacity-vmware.md"
DOC_LINUX_MT = "AS/vmware-azure-install-linux-master-target.md"
DOC_REPROTECT = "AS/vmware-azure-reprotect.md"

FactValue = str | int | float | bool | None


class Verdict(enum.Enum):
    PASS = "pass"
    WARN = "warn"  # allowed, but worth a look (or a declared value ASR ignores)
    FAIL = "fail"  # reprotect or failback will fail: makes the run NO-GO
    UNKNOWN = "unknown"  # a fact the check needs was neither declared nor read live


class Source(enum.Enum):
    """Where a fact came from."""

    DECLARED = "declared"  # the topology's inventory
    LIVE = "live"  # read on the host by its agent (wins over declared)
    DEFAULT = "default"  # the documented default (R:, /mnt/retention)
    DERIVED = "derived"  # computed from other facts (sums, the only master target, ...)
    DOCUMENTED = "documented"  # a fixed value of the documentation (the failback policy)


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    value: FactValue
    source: Source
    host: str | None = None

    def text(self) -> str:
        v = self.value
        shown = "?" if v is None else ("yes" if v is True else "no" if v is False else str(v))
        where = f"{self.host}." if self.host else ""
        return f"{where}{self.name}={shown} ({self.source.value})"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict about one subject (a host, a replication group, a network)."""

    check: str  # stable id, e.g. "mt-snapshots"
    subject: str
    verdict: Verdict
    message: str
    facts: tuple[Fact, ...] = ()
    hint: str = ""  # what to change; shown when the verdict is not pass
    doc: str = DOC_PREPARE

    def __post_init__(self) -> None:
        if not self.check or not self.subject:
            raise ValueError("a finding needs a check id and a subject")


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """Whether live facts were read on a host."""

    host: str
    state: str  # "live" | "unavailable" | "no_agent"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ReadinessResult:
    findings: tuple[Finding, ...]
    live: tuple[LiveStatus, ...] = ()
    live_requested: bool = False

    def count(self, verdict: Verdict) -> int:
        return sum(1 for f in self.findings if f.verdict is verdict)

    @property
    def go(self) -> bool:
        """No failing check (`unknown` and `warn` show but do not make no-go)."""
        return self.count(Verdict.FAIL) == 0
