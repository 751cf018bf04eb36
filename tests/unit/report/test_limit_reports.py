"""A sweep run with --limit says so in every report format, and how it was limited."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from netcheck.limit import limit_plan
from netcheck.report.formats import FORMATS, render
from netcheck.result.model import SweepResult
from tests.unit.report.reportkit import make_sweep


def _limited() -> SweepResult:
    full = make_sweep()
    plan = limit_plan(full.plan, "ps-azure")
    assert plan.limit is not None and len(plan.specs) < len(full.plan.specs)
    return make_sweep(plan=plan)


def _said(fmt: str, text: str) -> str:
    """What the report says about the limit ('' when it says nothing)."""
    if fmt == "json":
        return json.loads(text)["settings"]["limit"] or ""
    if fmt == "junit":
        root = ET.fromstring(text.encode())
        props = {p.get("name"): p.get("value") for p in root.iter("property")}
        return props.get("limit_description") or ""
    if fmt == "prom":
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        (s,) = fams["netcheck_sweep_limited"].samples
        return s.labels["limit"] if s.value == 1 else ""
    if fmt == "csv":
        head = next(csv.DictReader(io.StringIO(text, newline="")))
        return f"{head['limit']}: {head['reason']}" if head["limit"] else ""
    if fmt == "md":
        return next((ln for ln in text.splitlines() if "LIMITED" in ln), "").replace("\\", "")
    if fmt == "html":
        start = text.find('id="limit">')
        return "" if start < 0 else text[start : text.index("</div>", start)].replace("&#x27;", "'")
    return next((ln for ln in text.splitlines() if "LIMITED" in ln), "")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_says_the_sweep_was_limited(fmt: str) -> None:
    sweep = _limited()
    said = _said(fmt, render(sweep, fmt))
    assert "ps-azure" in said, (fmt, said)
    if fmt not in ("json", "prom"):  # the prose formats say how much of the plan it kept
        assert f"{len(sweep.results)} of {sweep.plan.limit.total_cells} cells" in said  # type: ignore[union-attr]
    # and a complete sweep says nothing of the kind
    assert _said(fmt, render(make_sweep(), fmt)) == "", fmt
