"""monitoring/netcheck-rules.yaml: promtool checks it and runs its unit tests, every alert
has one, and its thresholds are the ones netcheck itself judges by."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from netcheck.appverdict import MAX_CLOCK_SKEW_S
from tests.conftest import ROOT, require

MONITORING = ROOT / "monitoring"
RULES = MONITORING / "netcheck-rules.yaml"
RULE_TESTS = MONITORING / "netcheck-rules.test.yaml"


def _promtool() -> str:
    binary = shutil.which("promtool")
    require(binary is not None, "promtool is not installed (apt-get install prometheus)")
    assert binary is not None
    return binary


def _alerts() -> dict[str, dict[str, object]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}


def test_promtool_checks_the_rules_and_runs_their_tests() -> None:
    promtool = _promtool()
    check = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_every_alert_is_tested_and_the_issue_s_alerts_are_there() -> None:
    alerts = _alerts()
    assert {
        "NetcheckRequiredCellDown",
        "NetcheckForbiddenCellOpen",
        "NetcheckSweepStale",
        "NetcheckPathRttOverExpect",
        "NetcheckPathLossOverExpect",
        "NetcheckBandwidthUnderFloor",
        "NetcheckReadinessFailing",
        "NetcheckTlsCertExpiringSoon",
        "NetcheckNtpOffsetNearLimit",
    } <= set(alerts)
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    fired = {
        t["alertname"]
        for case in tests["tests"]
        for t in case.get("alert_rule_test", [])
        if t.get("exp_alerts")
    }
    assert fired == set(alerts), set(alerts) ^ fired


def test_thresholds_are_netcheck_s_own() -> None:
    alerts = _alerts()
    # the clock limit the NTP verdict applies (ACS50008) is the critical alert's
    assert str(alerts["NetcheckNtpOffsetBeyondLimit"]["expr"]).endswith(f"> {MAX_CLOCK_SKEW_S}")
    near = str(alerts["NetcheckNtpOffsetNearLimit"]["expr"])
    assert 0 < float(near.rsplit(">", 1)[1]) < MAX_CLOCK_SKEW_S
    assert "< 14 * 86400" in str(alerts["NetcheckTlsCertExpiringSoon"]["expr"])
    # the stale alert is /healthz's rule: no completed sweep within 3 intervals
    from netcheck.watch import HEALTH_STALE_INTERVALS

    stale = str(alerts["NetcheckSweepStale"]["expr"])
    assert f"> {HEALTH_STALE_INTERVALS} * netcheck_watch_interval_seconds" in stale
