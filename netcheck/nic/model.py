"""The dual-NIC report as values: per-NIC cells, what each NIC is live, and findings."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from netcheck.plan import ProbeSpec
from netcheck.stats import CellVerdict

__all__ = [
    "DOC",
    "HostNicReport",
    "NicCellResult",
    "NicFinding",
    "NicInfo",
    "NicVerdict",
    "PerNicCell",
]

DOC = "AS/vmware-azure-prepare-failback.md"


class NicVerdict(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    UNKNOWN = "unknown"  # the check could not run; the finding says why


@dataclass(frozen=True, slots=True)
class PerNicCell:
    """One cell of the per-NIC matrix: a probe from (or to) one NIC of the host.

    `expected` says the NIC-selection rule picks this NIC for this peer (so the
    cell is one the failback needs); the others show what that NIC *could*
    reach. `reverse` cells are the host → peer direction of a flow the plan only
    has peer → host (probed where the peer runs an agent).
    """

    spec: ProbeSpec
    host: str  # the multi-NIC host
    nic: str  # its NIC in this cell
    outbound: bool  # the host is the source
    expected: bool
    reverse: bool = False

    @property
    def peer(self) -> str:
        return self.spec.dest_host if self.outbound else self.spec.source_host

    @property
    def peer_address(self) -> str:
        return self.spec.dest_address if self.outbound else self.spec.source_address


@dataclass(frozen=True, slots=True)
class NicCellResult:
    cell: PerNicCell
    verdict: CellVerdict | None  # None: not probed (the sweep was interrupted)
    path_note: str = ""  # what the capture saw: "left eth1, reply on eth0 (rp_filter drops)"


@dataclass(frozen=True, slots=True)
class NicInfo:
    """One NIC of the host: declared, and as the host itself sees it (None: unknown)."""

    name: str
    address: str
    faces: tuple[str, ...]
    iface: str | None = None
    subnet: str | None = None  # the live prefix holding the address, e.g. 198.18.3.0/24
    default_route: bool | None = None
    rp_filter: int | None = None  # effective: max(conf/all, conf/<if>)
    mtu: int | None = None
    mac: str | None = None


@dataclass(frozen=True, slots=True)
class NicFinding:
    check: str  # stable id: nic-route-choice, nic-rp-filter, nic-overlap-topology, ...
    subject: str  # "cs01", "cs01/failback", "cs01 → ps-azure"
    verdict: NicVerdict
    message: str
    hint: str = ""
    doc: str = DOC


@dataclass(frozen=True, slots=True)
class HostNicReport:
    host: str
    live: str  # "live" or why the host's facts could not be read
    nics: tuple[NicInfo, ...]
    cells: tuple[NicCellResult, ...]
    findings: tuple[NicFinding, ...]

    def count(self, verdict: NicVerdict) -> int:
        return sum(1 for f in self.findings if f.verdict is verdict)

    @property
    def clean(self) -> bool:
        """No finding fails and every cell the NIC-selection rule needs passes."""
        return self.count(NicVerdict.FAIL) == 0 and all(
            c.verdict is not None and c.verdict.passed for c in self.cells if c.cell.expected
        )

    @property
    def go(self) -> bool:
        """What the sweep verdict takes from this report: no failing finding."""
        return self.count(NicVerdict.FAIL) == 0

    def reaches(self, nic: str) -> tuple[list[str], list[str]]:
        """(peers this NIC reached, peers it did not) over its measured cells."""
        ok: list[str] = []
        bad: list[str] = []
        for c in self.cells:
            if c.cell.nic != nic or c.verdict is None:
                continue
            s = c.cell.spec
            arrow = "→" if c.cell.outbound else "←"
            label = f"{arrow} {c.cell.peer}:{s.port}"
            (ok if c.verdict.verdict.value == "open" else bad).append(label)
        return ok, bad
