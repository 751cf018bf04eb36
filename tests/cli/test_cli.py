"""The `netcheck` command end to end, as a user runs it: real processes, real sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import wait_for_stored_results

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "topologies" / "local-demo.yaml"
FAULTS = ROOT / "topologies" / "local-demo-faults.yaml"


def netcheck(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_demo_sweep_is_green_and_every_cell_proven_end_to_end() -> None:
    proc = netcheck("sweep", str(DEMO), "--format", "json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads(proc.stdout)
    assert report["verdict"] == "go"
    assert report["partial"] is False
    assert report["summary"]["cells"] == len(report["cells"]) == 13
    for cell in report["cells"]:
        assert cell["verdict"] == "open", cell
        assert cell["passed"] is True
        assert cell["sent"] == 3 and cell["loss_pct"] == 0
        # our responder answered the per-sweep challenge on every attempt
        assert all(s["proven"] for s in cell["samples"]), cell
        if sys.platform == "linux":
            assert cell["rtt_source"] == "tcp_info"
        assert cell["rtt_ms"]["min"] <= cell["rtt_ms"]["p50"] <= cell["rtt_ms"]["max"]
    states = {r["state"] for r in report["responders"]}
    assert states == {"responder"}


def test_demo_sweep_table_shows_matrix_and_go() -> None:
    proc = netcheck("sweep", str(DEMO), "--no-progress", env={"COLUMNS": "160"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("GO: 13 of 13 cells pass\n")
    lines = out.splitlines()
    # a row per source NIC; the CS is a source on its source NIC only (a destination on both)
    rows = [ln.split()[0] for ln in lines[lines.index("") + 4 :] if ln and not ln.startswith("ok")]
    assert rows[:5] == ["vm-app01", "vm-app02", "cs01/source", "ps-azure", "mt01"]
    header = lines[lines.index("") + 1].split()[3:]
    assert "cs01/failback" in header and "cs01/source" in header
    assert "REFUSED" not in out and "FILTERED" not in out
    assert proc.stderr == ""  # no progress line when stderr is not a terminal


def test_faults_demo_is_no_go_and_names_each_failing_cell() -> None:
    proc = netcheck("sweep", str(FAULTS), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "no-go"
    by_key = {(c["source_host"], c["dest_host"], c["port"]): c for c in report["cells"]}
    refused = by_key[("ps-azure", "mt01", 9443)]
    assert refused["verdict"] == "refused"
    assert "9443" in refused["hint"] and refused["evidence"] == "inferred"
    for src in ("cs01", "mt01"):
        if (src, "vcenter", 10443) in by_key:
            assert by_key[(src, "vcenter", 10443)]["verdict"] == "filtered"
    assert by_key[("cs01", "vcenter", 10443)]["verdict"] == "filtered"
    rdp = by_key[("vm-app01", "ps-azure", 13389)]
    assert rdp["expect"] == "blocked" and rdp["verdict"] == "open" and rdp["passed"] is False
    for cell in report["cells"]:
        if not cell["passed"]:
            assert cell["hint"], cell
            assert cell["reason"], cell


def test_faults_demo_table_lists_failures_with_hints() -> None:
    proc = netcheck("sweep", str(FAULTS))
    assert proc.returncode == 1
    out = proc.stdout
    assert "NO-GO" in out
    assert "REFUSED" in out and "FILTERED" in out and "OPEN!" in out
    assert "Failing (4):" in out
    assert "fix:  Allow the replication data port" in out
    assert (
        "doc:  https://learn.microsoft.com/azure/site-recovery/vmware-azure-prepare-failback" in out
    )


def test_real_service_on_a_port_is_probed_instead_of_a_responder() -> None:
    # Something else already listens on vcenter's port: the responder must not take
    # it over, and the probe targets the real service (open, but not nonce-proven).
    service = socket.socket()
    service.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    service.bind(("127.0.2.30", 10443))
    service.listen(64)
    try:
        proc = netcheck("sweep", str(DEMO), "--format", "json")
    finally:
        service.close()
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    held = [r for r in report["responders"] if r["host"] == "vcenter"]
    assert held and all(r["state"] == "service" for r in held)
    to_vcenter = [c for c in report["cells"] if c["dest_host"] == "vcenter"]
    assert to_vcenter
    for cell in to_vcenter:
        assert cell["verdict"] == "open"
        assert not any(s["proven"] for s in cell["samples"])


def test_ctrl_c_prints_a_partial_report_and_exits_130(tmp_path: Path) -> None:
    env = dict(os.environ)
    db = tmp_path / "nc.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netcheck",
            "sweep",
            str(FAULTS),
            "--db",
            str(db),
            "--format",
            "json",
            "--samples",
            "20",
            "--timeout-ms",
            "1000",
            "--interval-ms",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    # the open cells finish in ~2 s; the filtered ones need 20 s: interrupt in between
    assert wait_for_stored_results(db, at_least=1) >= 1, "no cell finished"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    report = json.loads(out)
    assert report["partial"] is True
    assert report["verdict"] == "no-go"
    statuses = {c["status"] for c in report["cells"]}
    assert "measured" in statuses  # what was measured is kept
    assert "not_run" in statuses
    measured = [c for c in report["cells"] if c["status"] == "measured"]
    assert all(len(c["samples"]) == 20 for c in measured)


def test_bad_topology_is_exit_2_with_position_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nname: x\nsites:\n  a: {networks: {lan: 198.18.0.0/33}}\nhosts: {}\n"
    )
    proc = netcheck("sweep", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:4:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_file_and_unwritable_output(tmp_path: Path) -> None:
    proc = netcheck("validate", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert "file not found" in proc.stderr
    proc = netcheck("sweep", str(DEMO), "-o", str(tmp_path / "no" / "such" / "dir.txt"))
    assert proc.returncode == 2
    assert "cannot write the report" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_output_file_gets_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = netcheck("sweep", str(DEMO), "--format", "json", "-o", str(out))
    assert proc.returncode == 0
    assert json.loads(out.read_text())["verdict"] == "go"
    assert "GO: report written to" in proc.stderr


def test_plan_prints_without_sending_and_usage_errors() -> None:
    proc = netcheck("plan", str(DEMO), "--format", "json")
    assert proc.returncode == 0
    plan = json.loads(proc.stdout)
    assert len(plan["cells"]) == 13
    proc = netcheck("sweep", str(DEMO), "--samples", "0")
    assert proc.returncode == 2
    assert "argument --samples: expected an integer from 1 to 100, got 0" in proc.stderr
    proc = netcheck("frobnicate")
    assert proc.returncode == 2


@pytest.mark.parametrize("cmd", [["--help"], ["sweep", "--help"], ["plan", "--help"]])
def test_help_teaches(cmd: list[str]) -> None:
    proc = netcheck(*cmd)
    assert proc.returncode == 0
    assert "exit codes" in proc.stdout or "topology" in proc.stdout


def test_report_that_cannot_be_written_goes_to_stdout_and_says_so() -> None:
    # /dev/full opens fine and fails on write (ENOSPC): the disk-full case, for real
    proc = netcheck("sweep", str(DEMO), "--format", "json", "-o", "/dev/full")
    assert proc.returncode == 2
    assert "could not write /dev/full" in proc.stderr
    assert "the report is above" in proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "go"  # nothing measured is lost
    assert "Traceback" not in proc.stderr
