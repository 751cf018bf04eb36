"""Readiness in the reports: the JSON object matches docs/report-json.md field for field,
the terminal section, and readiness joining the sweep's go / no-go."""

from __future__ import annotations

import json
import re
from pathlib import Path

from netcheck.plan import build_plan
from netcheck.readiness import LiveStatus, Verdict, evaluate
from netcheck.report import render_json, render_table, sweep_to_dict
from netcheck.report.readiness_report import render_readiness_json, render_readiness_table
from netcheck.report.table import Detail
from netcheck.result.model import SweepResult
from netcheck.topology import load_topology_text

DOC = Path(__file__).resolve().parents[3] / "docs" / "report-json.md"

TOPO = load_topology_text(
    """\
version: 1
name: rr
sites: {onprem: {networks: {lan: 198.18.2.0/24}}}
hosts:
  cs01: {site: onprem, roles: [config_server], address: 198.18.2.10}
  mt01:
    site: onprem
    roles: [master_target]
    os: linux
    address: 198.18.2.20
    inventory: {snapshots: true, retention: {path: /mnt/retention, filesystem: ext4}}
""",
    "rr.yaml",
)


def _documented(heading: str) -> list[str]:
    level = "##" if heading == "`readiness`" else "###"
    text = DOC.read_text(encoding="utf-8").split(f"{level} {heading}\n", 1)[1]
    section = re.split(r"\n#+ ", text, maxsplit=1)[0]
    return re.findall(r"^\| `([a-z_0-9]+)` \|", section, flags=re.M)


def result(**kw: object) -> SweepResult:
    return SweepResult(
        sweep_id="sw-r",
        plan=build_plan(TOPO),
        results=(),
        agents=(),
        responders=(),
        started_at=1_700_000_000.0,
        finished_at=1_700_000_001.0,
        **kw,  # type: ignore[arg-type]
    )


def test_the_document_lists_every_readiness_field() -> None:
    r = evaluate(TOPO, {}, [LiveStatus("mt01", "unavailable", "ssh: refused")], True)
    doc = sweep_to_dict(result(readiness=r))["readiness"]
    assert _documented("`readiness`") == list(doc)
    assert _documented("`readiness.live[]`") == list(doc["live"][0])
    assert _documented("`readiness.findings[]`") == list(doc["findings"][0])
    assert _documented("`readiness.findings[].facts[]`") == list(doc["findings"][0]["facts"][0])
    standalone = json.loads(render_readiness_json(r, TOPO))
    assert list(standalone)[:3] == ["schema", "schema_version", "topology"]
    assert list(standalone)[3:] == list(doc)


def test_a_failing_check_makes_the_sweep_no_go() -> None:
    r = evaluate(TOPO)
    assert not r.go  # snapshots: true
    sweep = result(readiness=r)
    assert not sweep.go
    assert json.loads(render_json(sweep))["verdict"] == "no-go"
    text = render_table(sweep, width=400)
    assert text.startswith("NO-GO: 0 of 0 cells pass; readiness: 1 failing check")
    assert "  1. FAIL  readiness mt-snapshots on mt01" in text  # the failing item
    assert "readiness: NO-GO (1 fail" in text  # the section's line
    text = render_table(sweep, width=400, detail=Detail.FULL)
    assert "Failback readiness: NO-GO" in text
    assert "[fail] mt-snapshots on mt01: the master target has snapshots" in text
    assert "     facts: mt01.snapshots=yes (declared)" in text
    # without readiness the sweep verdict is the cells' alone, and the key is null
    assert result().go
    assert json.loads(render_json(result()))["readiness"] is None
    assert "readiness" not in render_table(result(), detail=Detail.FULL)


def test_the_table_says_where_live_facts_came_from() -> None:
    r = evaluate(TOPO, {}, [LiveStatus("mt01", "unavailable", "no ssh transport")], True)
    text = render_readiness_table(r, TOPO)
    assert "no live facts from mt01: no ssh transport (declared facts used)" in text
    assert "declared facts only" in render_readiness_table(evaluate(TOPO), TOPO)


def test_the_command_on_the_examples(capsys: object) -> None:
    """Declared facts only (no --live): opens no connection."""
    from netcheck.cli import main
    from tests.conftest import TOPOLOGIES

    assert main(["readiness", str(TOPOLOGIES / "asr-failback-vpn.yaml")]) == 0
    assert main(["readiness", str(TOPOLOGIES / "asr-failback-expressroute.yaml")]) == 1
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "Failback readiness: GO (35 pass)" in out
    assert "replication group 'shop' mixes Windows and Linux" in out


def test_each_check_is_listed_once() -> None:
    # `netcheck readiness` listed every unknown twice (the list, then the details)
    r = evaluate(TOPO)
    text = render_readiness_table(r, TOPO)
    assert r.count(Verdict.UNKNOWN) >= 2
    for f in r.findings:
        mentions = [
            ln for ln in text.splitlines() if f" {f.check} " in f"{ln} " and f.subject in ln
        ]
        assert len(mentions) == 1, (f.check, f.subject, mentions)
