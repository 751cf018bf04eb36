"""Prediction vs measurement: one finding per predicted cell. Pure.

The finding has the shape every check kind shares (id, kind, subject, verdict, reason,
hint, doc), so the sweep result can list it beside the others:

- predicted allow, measured filtered → the block is outside Azure's NSGs: the on-premises
  firewall, the VPN, a route (with the last hop that answered the trace, when known);
- predicted deny, measured open (or refused: the host itself answered) → the export is
  stale, or the rule is not attached where it seems;
- both agree → pass, or fail when the NSG denies a cell the failback needs (the hint then
  names the rule to change).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from netcheck.azure.nsg.evaluate import Outcome
from netcheck.azure.nsg.predict import CellPrediction, Predictions
from netcheck.stats import Verdict

__all__ = ["FINDING_KIND", "NsgFinding", "compare", "compare_cells"]

FINDING_KIND = "nsg"
VERDICTS = ("pass", "fail", "warn", "unknown")
DOC = "https://learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works"

# measured verdicts that say the packet got to the destination host (an NSG deny drops
# silently, so a RST proves it passed) / that something on the way dropped it
_REACHED = {Verdict.OPEN, Verdict.REFUSED}
_BLOCKED = {Verdict.FILTERED, Verdict.UNREACHABLE}


@dataclass(frozen=True, slots=True)
class NsgFinding:
    id: str
    subject: str  # the cell id
    verdict: str  # pass | fail | warn | unknown
    reason: str
    hint: str = ""
    doc: str = DOC
    kind: str = FINDING_KIND

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"finding verdict {self.verdict!r}")

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "verdict": self.verdict,
            "reason": self.reason,
            "hint": self.hint,
            "doc": self.doc,
        }


def compare(
    prediction: CellPrediction,
    measured: Verdict,
    *,
    expect_reachable: bool = True,
    last_hop: str | None = None,
) -> NsgFinding:
    """One finding from a cell's NSG prediction and its measured verdict.

    `last_hop`: the last hop that answered the cell's TCP traceroute ("onprem-gw
    198.18.200.6"), when the sweep ran one.
    """
    p = prediction

    def finding(verdict: str, reason: str, hint: str = "") -> NsgFinding:
        return NsgFinding(f"nsg:{p.cell_id}", p.cell_id, verdict, reason, hint)

    measured_text = measured.value
    if measured not in _REACHED | _BLOCKED:
        return finding(
            "unknown",
            f"measured {measured_text}: nothing to compare; NSG prediction: {p.reason}",
            p.hint,
        )
    reached = measured in _REACHED
    if p.outcome is Outcome.UNKNOWN:
        return finding("unknown", f"measured {measured_text}; NSG prediction {p.reason}")
    if p.outcome is Outcome.ALLOWED and reached:
        return finding("pass", f"measured {measured_text}, as predicted: {p.reason}")
    if p.outcome is Outcome.DENIED and not reached:
        if expect_reachable:
            return finding("fail", f"measured {measured_text}, as predicted: {p.reason}", p.hint)
        return finding("pass", f"measured {measured_text}, as predicted and wanted: {p.reason}")
    if p.outcome is Outcome.ALLOWED:  # and blocked
        hop = f"; the trace's last answering hop: {last_hop}" if last_hop else ""
        return finding(
            "fail" if expect_reachable else "warn",
            f"predicted allow, measured {measured_text}: outside Azure — the on-premises "
            f"firewall, the VPN, a route{hop} (the NSGs allow it: "
            f"{p.reason.removeprefix('allowed: ')})",
            "look outside Azure: the on-premises firewall and the VPN/ExpressRoute gateway's "
            "policy for this flow, and the routes both ways"
            + (f", starting after {last_hop}" if last_hop else ""),
        )
    # predicted deny, measured reached
    return finding(
        "warn",
        f"predicted deny, measured {measured_text}: the export is stale, or the rule is not "
        f"attached where it seems ({p.reason})",
        "export the NSGs, NICs and VNets again (az network nsg list -o json ...) and check "
        "the rule's attachment to the subnet / NIC",
    )


def compare_cells(
    predictions: Predictions,
    measured: Mapping[str, Verdict],
    *,
    expect_reachable: Mapping[str, bool] | None = None,
    last_hops: Mapping[str, str] | None = None,
) -> tuple[NsgFinding, ...]:
    """One finding per predicted cell that has a measured verdict, in prediction order.

    `measured`, `expect_reachable` (default True) and `last_hops` are keyed by cell id.
    """
    expect = expect_reachable or {}
    hops = last_hops or {}
    return tuple(
        compare(
            p,
            measured[p.cell_id],
            expect_reachable=expect.get(p.cell_id, True),
            last_hop=hops.get(p.cell_id),
        )
        for p in predictions.cells
        if p.cell_id in measured
    )
