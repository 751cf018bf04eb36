"""The NSG predictions of a plan (netcheck.azure.nsg) as text and as JSON values. Pure."""

from __future__ import annotations

from tabulate import tabulate

from netcheck.azure.nsg import Outcome, Predictions

__all__ = ["predictions_to_dict", "render_nsg_predictions"]

_MARK = {Outcome.ALLOWED: "allowed", Outcome.DENIED: "DENIED", Outcome.UNKNOWN: "unknown"}


def render_nsg_predictions(preds: Predictions, files: tuple[str, ...] = ()) -> str:
    """A table of the predictions, then the fix for every denied cell and the notes."""
    counts = {o: sum(1 for p in preds.cells if p.outcome is o) for o in Outcome}
    head = (
        f"NSG predictions ({', '.join(files)}): " if files else "NSG predictions: "
    ) + ", ".join(f"{counts[o]} {o.value}" for o in Outcome)
    rows = []
    for p in preds.cells:
        st = p.deciding
        where = "-"
        if st is not None and p.outcome is not Outcome.ALLOWED:
            if st.attached == "route":
                where = f"route table {st.attached_to} ({st.route.name if st.route else '?'})"
            elif st.rule is not None:
                where = (
                    f"{st.nsg} / {st.rule.name} / {st.rule.priority} / {st.direction.label} / "
                    f"{st.place}"
                )
            else:
                where = f"{st.direction.label} {st.place}"
        rows.append([p.source, p.destination, f"{p.proto}/{p.port}", _MARK[p.outcome], where])
    lines = [
        "",
        head,
        "",
        tabulate(
            rows,
            headers=["from", "to", "port", "prediction", "NSG / rule / priority / direction / on"],
            tablefmt="simple",
            disable_numparse=True,
        ),
    ]
    denied = [p for p in preds.cells if p.outcome is Outcome.DENIED]
    if denied:
        lines += ["", "Fix:"]
        seen: set[str] = set()
        for p in denied:
            if p.hint and p.hint not in seen:
                seen.add(p.hint)
                lines.append(f"  - {p.hint}")
    unknown = [p for p in preds.cells if p.outcome is Outcome.UNKNOWN]
    if unknown:
        lines += ["", "Unknown (the export does not say):"]
        lines += [
            f"  - {p.source} → {p.destination} {p.proto}/{p.port}: {p.reason}" for p in unknown
        ]
    caveats = sorted({c for p in preds.cells for c in p.caveats})
    if caveats or preds.notes:
        lines += ["", "Notes:"]
        lines += [f"  - {n}" for n in (*preds.notes, *caveats)]
    return "\n".join(lines) + "\n"


def predictions_to_dict(preds: Predictions, files: tuple[str, ...] = ()) -> dict[str, object]:
    return {
        "files": list(files),
        "notes": list(preds.notes),
        "cells": [p.to_dict() for p in preds.cells],
    }
