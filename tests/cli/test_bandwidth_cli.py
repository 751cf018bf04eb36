"""`netcheck bandwidth` and a sweep's `bandwidth:` section end to end, on loopback.

Real processes, real agents (local transport), real sockets to 127.0.0.0/8 only.
The sweep variant lives in its own 127.56.x range so it never holds the ports of a
demo sweep another test runs at the same time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "topologies" / "local-demo.yaml"


def netcheck(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_bandwidth_forward_on_the_demo_is_measured_end_to_end() -> None:
    proc = netcheck(
        "bandwidth", str(DEMO), "--from", "ps-azure", "--to", "mt01",
        "--duration", "1.5", "--streams", "2", "--interval-ms", "500", "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "netcheck.bandwidth" and doc["verdict"] == "go"
    (t,) = doc["tests"]
    assert t["status"] == "measured" and t["reason"] == "completed" and t["passed"]
    assert t["source_address"] == "127.0.4.4" and t["dest_address"] == "127.0.2.20"
    assert t["path"] == "s2s-vpn" and t["streams"] == 2 and t["figure_source"] == "receiver"
    assert t["mbps"] > 100  # loopback: anything real is far above this
    assert len(t["intervals"]) == 3
    assert t["endpoint"]["reason"] == "completed" and t["endpoint"]["connections"] == 2
    assert t["bytes"] == t["endpoint"]["bytes"]


def test_bandwidth_reverse_as_a_table() -> None:
    proc = netcheck(
        "bandwidth", str(DEMO), "--from", "mt01", "--to", "ps-azure", "--reverse",
        "--duration", "1", "--streams", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[1] == "GO: 1 of 1 bandwidth tests pass"
    row = next(line for line in lines if line.startswith("s2s-vpn"))
    assert "ps-azure → mt01 (rev)" in row and row.endswith("ok")


def test_bandwidth_usage_errors_name_the_host() -> None:
    proc = netcheck("bandwidth", str(DEMO), "--from", "ps-azure", "--to", "mt99")
    assert proc.returncode == 2
    assert "--to 'mt99': no such host in" in proc.stderr
    proc = netcheck("bandwidth", str(DEMO), "--from", "ps-azure")
    assert proc.returncode == 2 and "give both --from HOST and --to HOST" in proc.stderr
    proc = netcheck("bandwidth", str(DEMO))
    assert proc.returncode == 2 and "has no bandwidth: section" in proc.stderr


def _variant(tmp_path: Path, edit: Any) -> Path:
    text = DEMO.read_text().replace("127.0.", "127.56.")
    doc = yaml.safe_load(text)
    edit(doc)
    out = tmp_path / "bw-demo.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def test_a_sweep_runs_the_bandwidth_section_after_the_probes(tmp_path: Path) -> None:
    def edit(doc: Any) -> None:
        doc["bandwidth"] = [
            {"from": "ps-azure", "to": "mt01", "duration_s": 1, "streams": 2},
            {"from": "mt01", "to": "ps-azure", "duration_s": 1, "streams": 1, "reverse": True},
        ]
        doc["hosts"]["vm-app01"]["inventory"] = {"churn_gb_per_day": 500, "peak_churn_mb_s": 20}

    topo = _variant(tmp_path, edit)
    proc = netcheck("sweep", str(topo), "--format", "json", "--no-progress")
    report = json.loads(proc.stdout)
    assert [c for c in report["cells"] if not c["passed"]] == []
    fwd, rev = report["bandwidth"]
    for b in (fwd, rev):
        assert b["reason"] == "completed" and b["passed"], b
        assert b["sender"] == "ps-azure" and b["receiver"] == "mt01"
        assert b["churn"]["hosts"] == ["vm-app01"]
        assert b["needed_mbps"] == 128.0  # 20 MB/s peak hour: 160 x 60/75
        assert b["headroom_mbps"] == round(b["mbps"] - 128.0, 3)
    assert "bandwidth_s" in report["phases_s"]
    assert proc.returncode in (0, 1)  # readiness findings of the demo may decide the rest


def test_a_link_too_slow_for_the_declared_churn_is_no_go(tmp_path: Path) -> None:
    def edit(doc: Any) -> None:
        doc["bandwidth"] = [{"from": "ps-azure", "to": "mt01", "duration_s": 0.5, "streams": 1}]
        # a floor no loopback reaches: the bandwidth verdict must turn the sweep no-go
        doc["paths"]["s2s-vpn"]["expect"]["min_mbps"] = 10_000_000

    proc = netcheck("sweep", str(_variant(tmp_path, edit)), "--no-progress", "--details")
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "NO-GO" in proc.stdout.splitlines()[0]
    row = next(line for line in proc.stdout.splitlines() if line.startswith("s2s-vpn"))
    assert row.endswith("SLOW")
    words = " ".join(proc.stdout.split())  # the sentence may wrap at the terminal's width
    assert "below the 10000000.0 Mbit/s path s2s-vpn must give (expect.min_mbps)" in words
