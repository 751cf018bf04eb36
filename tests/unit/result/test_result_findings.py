"""Findings: one shape for every check kind, GO computed once, every renderer says why.

Pure: hand-built results. The end-to-end version (real sweeps, every format, live and
stored) is tests/cli/test_one_verdict_cli.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from netcheck.nic.model import HostNicReport, NicFinding, NicVerdict
from netcheck.readiness.model import Finding as ReadinessFinding
from netcheck.readiness.model import ReadinessResult, Verdict
from netcheck.report.formats import render
from netcheck.result.findings import Finding, FindingVerdict, finding_id, is_go
from tests.unit.report.reportkit import RDP, make_sweep


def _readiness_fails() -> ReadinessResult:
    return ReadinessResult(
        (
            ReadinessFinding("mt-snapshots", "mt01", Verdict.PASS, "no snapshots"),
            ReadinessFinding(
                "mt-scsi-controller",
                "mt01",
                Verdict.FAIL,
                "a Paravirtual SCSI controller: only LSI Logic is supported",
                hint="Change the SCSI controller type to LSI Logic",
            ),
        )
    )


def test_only_readiness_fails_every_format_says_no_go_and_why() -> None:
    sweep = replace(make_sweep({RDP: "refused"}), readiness=_readiness_fails())
    assert all(v.passed for _, v in sweep.verdicts())  # every cell passes
    assert not sweep.go
    assert [f.id for f in sweep.failing()] == ["readiness:mt-scsi-controller:mt01"]

    root = ET.fromstring(render(sweep, "junit").encode())
    assert root.get("failures") == "1"
    (failure,) = root.iter("failure")
    assert failure.get("type") == "readiness"
    assert (failure.text or "").startswith("finding:  readiness:mt-scsi-controller:mt01")
    readiness_suite = next(
        s for s in root.iter("testsuite") if s.get("name", "").endswith(": readiness")
    )
    assert readiness_suite.get("failures") == "1" and readiness_suite.get("tests") == "2"

    fams = {f.name: f for f in text_string_to_metric_families(render(sweep, "prom"))}
    assert fams["netcheck_sweep_go"].samples[0].value == 0
    failing = [s.labels for s in fams["netcheck_finding_failing"].samples if s.value == 1]
    assert failing == [
        {
            "topology": "report-demo",
            "kind": "readiness",
            "check": "mt-scsi-controller",
            "subject": "mt01",
            "finding": "readiness:mt-scsi-controller:mt01",
        }
    ]
    counts = {
        (s.labels["kind"], s.labels["check"]): s.value
        for s in fams["netcheck_failing_findings"].samples
    }
    assert counts[("readiness", "mt-scsi-controller")] == 1
    assert counts[("readiness", "mt-snapshots")] == 0

    table = render(sweep, "table")
    assert table.splitlines()[0].startswith("NO-GO: 6 of 6 cells pass")
    assert "failing findings: 1 readiness" in " ".join(table.split("\n", 2)[:2])  # wrapped at 80
    lines = table.splitlines()
    i = lines.index("  1. FAIL  readiness mt-scsi-controller on mt01")
    assert lines[i + 1].startswith("     why:  a Paravirtual SCSI")
    assert "- `readiness:mt-scsi-controller:mt01` (readiness)" in render(sweep, "md")
    assert "<code>readiness:mt-scsi-controller:mt01</code>" in render(sweep, "html")


def test_a_nic_finding_alone_makes_no_go_and_warnings_do_not() -> None:
    warn = NicFinding("nic-rp-filter", "cs01", NicVerdict.WARN, "rp_filter strict on eth1")
    fail = NicFinding("nic-route-choice", "cs01 → ps-azure", NicVerdict.FAIL, "leaves eth0")
    base = make_sweep({RDP: "refused"})
    warned = replace(base, nics=(HostNicReport("cs01", "live", (), (), (warn,)),))
    assert warned.go and not warned.failing()
    failed = replace(base, nics=(HostNicReport("cs01", "live", (), (), (warn, fail)),))
    assert not failed.go
    assert [f.id for f in failed.failing()] == ["nic:nic-route-choice:cs01>ps-azure"]


def test_go_is_no_failing_finding_and_not_partial() -> None:
    ok = Finding("cell:a", "cell", "r", "a", FindingVerdict.PASS, "open")
    warn = Finding("path:p:rtt", "path", "rtt", "p", FindingVerdict.WARN, "slow")
    bad = Finding("nic:x:h", "nic", "x", "h", FindingVerdict.FAIL, "no")
    assert is_go([ok, warn], partial=False)
    assert not is_go([ok, warn], partial=True)
    assert not is_go([ok, bad], partial=False)


def test_ids_hold_no_whitespace_and_repeat_ids_are_numbered() -> None:
    assert finding_id("nic", "nic-route-choice", "cs01 → ps azure") == (
        "nic:nic-route-choice:cs01>ps_azure"
    )
    with pytest.raises(ValueError, match="without whitespace"):
        Finding("a b", "cell", "r", "a", FindingVerdict.PASS, "")
    with pytest.raises(ValueError, match="unknown kind"):
        Finding("x:y", "other", "r", "a", FindingVerdict.PASS, "")
    twice = ReadinessResult(
        (
            ReadinessFinding("mt-disks", "mt01", Verdict.FAIL, "61 disks"),
            ReadinessFinding("mt-disks", "mt01", Verdict.FAIL, "62 disks"),
        )
    )
    sweep = replace(make_sweep({RDP: "refused"}), readiness=twice)
    assert [f.id for f in sweep.failing()] == [
        "readiness:mt-disks:mt01",
        "readiness:mt-disks:mt01#2",
    ]
