"""Findings: every check of a sweep in one shape, and GO / NO-GO computed in one place.

Each check kind contributes findings — connectivity cells (`cell`), the Azure NSG
prediction of each Azure cell checked against its measurement (`nsg`), application
probes (`app`: TLS, DNS, NTP, endpoints), bandwidth tests (`bandwidth`), path
diagnostics (`path`: MTU, RTT, loss, path taken), dual-NIC checks (`nic`) and
failback readiness checks (`readiness`). Every renderer lists them the same way,
so a new check kind only adds findings here; no renderer needs to know it.

A finding's `id` is stable across formats and between the live and the stored
report of one sweep, holds no whitespace, and is unique within the sweep.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netcheck.azure.nsg.compare import NsgFinding
from netcheck.bandwidth.model import BandwidthOutcome
from netcheck.bandwidth.verdict import BandwidthVerdict
from netcheck.diagnose.model import Diagnostics, FindingLevel
from netcheck.nic.model import HostNicReport, NicFinding
from netcheck.plan import ProbeSpec
from netcheck.readiness.model import Finding as ReadinessFinding
from netcheck.readiness.model import ReadinessResult
from netcheck.result.cells import RESPONDER_NOT_OPENED, CellResult
from netcheck.stats import CellVerdict, Verdict

if TYPE_CHECKING:
    from netcheck.result.model import SweepResult

__all__ = [
    "KINDS",
    "Finding",
    "FindingVerdict",
    "cell_hint",
    "failing",
    "finding_id",
    "is_go",
    "sweep_findings",
]

#: The check kinds, in the order reports list them.
KINDS = ("cell", "nsg", "app", "bandwidth", "path", "nic", "readiness")
_KIND_SET = frozenset(KINDS)


class FindingVerdict(enum.Enum):
    PASS = "pass"
    FAIL = "fail"  # makes the sweep NO-GO
    WARN = "warn"  # shown; does not change the verdict
    UNKNOWN = "unknown"  # could not be checked; shown, never green


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict about one subject."""

    id: str  # "readiness:mt-scsi-controller:mt01", "cell:cs01/eth0>ps/eth0:tcp/9443"
    kind: str  # one of KINDS
    check: str  # the check's stable id: a rule id, "nic-rp-filter", "pmtu-below-expect", ...
    subject: str  # what it is about, in the topology's words (never an address alone)
    verdict: FindingVerdict
    reason: str
    hint: str = ""
    doc: str = ""
    group: str = ""  # where a report lists it: a cell's source host, a path, a host

    def __post_init__(self) -> None:
        if not self.id or _SPACE.search(self.id):
            raise ValueError(f"finding id {self.id!r}: must be non-empty, without whitespace")
        if self.kind not in _KIND_SET:
            raise ValueError(f"finding {self.id}: unknown kind {self.kind!r}")

    @property
    def failed(self) -> bool:
        return self.verdict is FindingVerdict.FAIL


_SPACE = re.compile(r"\s")
_SLUG_ARROW = re.compile(r"\s*[→←]\s*")
_SLUG_SPACE = re.compile(r"\s+")
_NEEDS_SLUG = re.compile(r"[\s→←]")


def finding_id(kind: str, *parts: str) -> str:
    """`kind:part:part`, each part without whitespace ("cs01 → ps" becomes "cs01>ps")."""
    out = [kind]
    for part in parts:
        if part and not _NEEDS_SLUG.search(part):  # the common case: a name, a cell id
            out.append(part)
            continue
        p = _SLUG_ARROW.sub(">", part.strip())
        out.append(_SLUG_SPACE.sub("_", p) or "-")
    return ":".join(out)


def is_go(findings: Iterable[Finding], *, partial: bool) -> bool:
    """GO: no failing finding and the sweep not partial. The one definition."""
    return not partial and not any(f.failed for f in findings)


def failing(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(f for f in findings if f.failed)


def sweep_findings(sweep: SweepResult) -> tuple[Finding, ...]:
    """Every finding of the sweep: cells and application probes in plan order, then
    bandwidth tests, path checks, NIC checks and readiness checks."""
    found: list[Finding] = []
    found += _cell_findings(sweep, sweep.verdicts())
    found += _nsg_findings(sweep.nsg)
    found += _bandwidth_findings(sweep.bandwidth_verdicts())
    if sweep.diagnostics is not None:
        found += _path_findings(sweep.diagnostics)
    for nic in sweep.nics:
        found += _nic_findings(nic)
    if sweep.readiness is not None:
        found += _readiness_findings(sweep.readiness)
    return tuple(_unique(found))


def _unique(found: list[Finding]) -> Iterator[Finding]:
    """Two checks with the same id (a subject named twice) get #2, #3, ..."""
    seen: dict[str, int] = {}
    for f in found:
        n = seen.get(f.id, 0) + 1
        seen[f.id] = n
        if n == 1:
            yield f
        else:
            yield Finding(
                f"{f.id}#{n}",
                f.kind,
                f.check,
                f.subject,
                f.verdict,
                f.reason,
                f.hint,
                f.doc,
                f.group,
            )


PASS, FAIL = FindingVerdict.PASS, FindingVerdict.FAIL


def _nsg_findings(nsg: Iterable[NsgFinding]) -> Iterator[Finding]:
    """A failing one only where its cell fails too (netcheck.azure.nsg.compare): it names
    the NSG rule that denies the cell, or says the cause lies outside Azure."""
    for f in nsg:
        yield Finding(
            f.id,
            "nsg",
            "nsg-prediction",
            f.subject,
            FindingVerdict(f.verdict),
            f.reason,
            f.hint,
            f.doc,
            f.subject.split("/", 1)[0],  # listed with the cell's source host
        )


def _pass_fail(passed: bool) -> FindingVerdict:
    return FindingVerdict.PASS if passed else FindingVerdict.FAIL


def _cell_findings(sweep: SweepResult, rows: list[tuple[CellResult, CellVerdict]]) -> list[Finding]:
    """One finding per cell (a 5,000-cell sweep makes 5,000: kept cheap)."""
    rules = {x.id: x for x in sweep.plan.rules}  # plan.rule() rebuilds the list each call
    out = []
    for r, v in rows:
        s = r.spec
        rule_id = s.rule_ids[0]
        rule = rules[rule_id]
        kind = "cell" if s.kind == "tcp_connect" else "app"
        cell_id = s.cell_id
        fid = f"{kind}:{cell_id}" if not _NEEDS_SLUG.search(cell_id) else finding_id(kind, cell_id)
        subject = f"{s.source_host}/{s.source_nic} → {s.dest_host}/{s.dest_nic} {s.proto}/{s.port}"
        if v.passed:
            reason = v.reason or ("open" if s.expect_reachable else "blocked, as the rule requires")
            out.append(
                Finding(fid, kind, rule_id, subject, PASS, reason, "", rule.doc, s.source_host)
            )
            continue
        hint, doc = cell_hint(rule.hint, s, v), rule.doc
        app = v.app
        if app is not None and app.failed:
            hint, doc = app.hint or hint, app.doc or doc
        out.append(Finding(fid, kind, rule_id, subject, FAIL, v.reason, hint, doc, s.source_host))
    return out


def cell_hint(rule_hint: str, spec: ProbeSpec, v: CellVerdict) -> str:
    """What to change for a failing cell: the rule's fix, except where nothing of ours
    could listen (the destination's agent was unavailable): then the fix is the agent,
    not a firewall, and no firewall hint sends the user to the wrong team."""
    if v.verdict is Verdict.NO_LISTENER and v.reason.startswith(RESPONDER_NOT_OPENED):
        return (
            f"let netcheck's responder listen on {spec.dest_host} {spec.proto}/{spec.port}: "
            "below port 1024 run its agent as root or with CAP_NET_BIND_SERVICE, and the "
            "address must be one of the host's; the reason says which. Until a responder "
            "listens there, nothing proves or disproves the path"
        )
    if v.verdict is Verdict.NO_LISTENER:
        return (
            f"start netcheck's agent on {spec.dest_host} (its reason is in the agents list) "
            f"and sweep again: until a responder listens on {spec.proto}/{spec.port}, "
            "nothing proves or disproves the path"
        )
    return rule_hint


def _bandwidth_findings(
    rows: list[tuple[BandwidthOutcome, BandwidthVerdict]],
) -> Iterator[Finding]:
    for o, v in rows:
        c = o.check
        subject = f"{c.source} → {c.dest}" + (" (reverse)" if c.reverse else "")
        yield Finding(
            id=finding_id("bandwidth", subject),
            kind="bandwidth",
            check="bandwidth",
            subject=subject,
            verdict=_pass_fail(v.passed),
            reason=v.reason,
            hint=""
            if v.passed
            else "see the bandwidth section: the path's min_mbps, the churn it must carry, "
            "and what limited the test",
            doc="AS/site-recovery-plan-capacity-vmware.md",
            group=o.path or "",
        )


_LEVEL = {
    FindingLevel.FAIL: FindingVerdict.FAIL,
    FindingLevel.WARN: FindingVerdict.WARN,
    FindingLevel.INFO: FindingVerdict.PASS,
    FindingLevel.UNKNOWN: FindingVerdict.UNKNOWN,
}


def _path_findings(d: Diagnostics) -> Iterator[Finding]:
    for p in d.paths:
        if not p.findings:
            yield Finding(
                id=finding_id("path", p.path),
                kind="path",
                check="path",
                subject=p.path,
                verdict=FindingVerdict.PASS,
                reason="measured; nothing to report",
                group=p.path,
            )
        for f in p.findings:
            yield Finding(
                id=finding_id("path", p.path, f.code),
                kind="path",
                check=f.code,
                subject=p.path,
                verdict=_LEVEL[f.level],
                reason=f.message,
                hint="see the path diagnostics: the path taken, its MTU, RTT and loss",
                group=p.path,
            )


def _nic_findings(n: HostNicReport) -> Iterator[Finding]:
    return (_checked("nic", f, group=n.host) for f in n.findings)


def _readiness_findings(r: ReadinessResult) -> Iterator[Finding]:
    return (_checked("readiness", f, group=f.subject) for f in r.findings)


def _checked(kind: str, f: NicFinding | ReadinessFinding, group: str) -> Finding:
    """A NIC or readiness check's finding: both carry check, subject, verdict (the
    same four words), message, hint and doc."""
    return Finding(
        id=finding_id(kind, f.check, f.subject),
        kind=kind,
        check=f.check,
        subject=f.subject,
        verdict=FindingVerdict(f.verdict.value),
        reason=f.message,
        hint=f.hint,
        doc=f.doc,
        group=group,
    )
