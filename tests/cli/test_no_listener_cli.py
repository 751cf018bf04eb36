"""Cells to a host whose agent could not start are "no listener", not "refused" (issue 14).

Nothing of ours listens where the destination's agent should have opened its responder,
so a reset there says nothing about firewalls: the cell is not proven, its reason names
the agent and why it is unavailable, and its fix is that agent, never an NSG change. In
every format. The demo on a loopback range of its own; mt01's agent is an SSH agent on a
port nothing serves, so it cannot start.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from tests.conftest import require
from tests.integration.private_demo import private_copy

ROOT = Path(__file__).resolve().parents[2]


def _topology(tmp_path: Path) -> Path:
    path = private_copy("local-demo.yaml", tmp_path / "demo.yaml", 213)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["hosts"]["mt01"]["agent"] = {"transport": "ssh", "user": "netcheck", "port": 1}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _sweep(topology: Path, tmp_path: Path, fmt: str) -> subprocess.CompletedProcess[str]:
    known = tmp_path / "known_hosts"
    known.touch()
    return subprocess.run(
        [
            *(sys.executable, "-m", "netcheck", "sweep", str(topology), "--format", fmt),
            *("--no-store", "--no-progress", "--no-diagnose", "--known-hosts", str(known)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_cells_to_a_host_without_its_agent_are_no_listener_in_every_format(
    tmp_path: Path,
) -> None:
    topology = _topology(tmp_path)
    live = _sweep(topology, tmp_path, "json")
    assert live.returncode == 1, live.stderr
    doc = json.loads(live.stdout)
    assert doc["verdict"] == "no-go"
    (mt01,) = [a for a in doc["agents"] if a["host"] == "mt01"]
    assert not mt01["available"], mt01
    to_mt01 = [c for c in doc["cells"] if c["dest_host"] == "mt01"]
    assert to_mt01, "the demo probes mt01"
    for c in to_mt01:
        assert (c["status"], c["verdict"], c["passed"]) == ("no_listener", "no-listener", False), c
        assert c["reason"].startswith("no listener: agent on mt01 unavailable: "), c["reason"]
        assert "start netcheck's agent on mt01" in c["hint"], c["hint"]
        assert "NSG" not in c["hint"] and "firewall" not in c["hint"].lower(), c["hint"]
        assert c["sent"] > 0  # probed: the resets are kept as evidence
    failing = {f["subject"]: f for f in doc["findings"] if f["verdict"] == "fail"}
    for c in to_mt01:
        (f,) = [f for f in doc["findings"] if f["id"].endswith(c["cell_id"])]
        assert f["verdict"] == "fail" and "NSG" not in f["hint"], f
    assert failing

    table = _sweep(topology, tmp_path, "table")
    assert table.returncode == 1 and "NO-LISTENER" in table.stdout, table.stdout
    failing_cells = table.stdout.split("Failing (", 1)[1].split("\n\n", 1)[0]
    assert ". NO-LISTENER  " in failing_cells and ". REFUSED  " not in failing_cells, failing_cells
    assert "fix:  start netcheck's agent on mt01" in table.stdout

    junit = _sweep(topology, tmp_path, "junit")
    assert junit.returncode == 1
    types = {
        case.get("name", ""): fail.get("type")
        for case in ET.fromstring(junit.stdout).iter("testcase")
        for fail in case.iter("failure")
    }
    assert "no-listener" in types.values(), types
    assert "refused" not in types.values(), types

    html = _sweep(topology, tmp_path, "html")
    assert html.returncode == 1 and "NO-LISTENER" in html.stdout


def test_a_responder_that_could_not_open_its_port_is_no_listener_with_its_fix(
    tmp_path: Path,
) -> None:
    """The agent is up but may not bind below 1024 (no CAP_NET_BIND_SERVICE, as an
    unprivileged login): the cells to that port are NO-LISTENER, their fix is that
    privilege, never a firewall (issue 14)."""
    require(shutil.which("setpriv") is not None, "setpriv (util-linux) is not installed")
    path = private_copy("local-demo.yaml", tmp_path / "demo.yaml", 97)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["ports"]["remap"].pop(443)  # cs01's 443 as documented: a privileged port
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    proc = subprocess.run(
        [
            *("setpriv", "--bounding-set", "-net_bind_service"),
            *(sys.executable, "-m", "netcheck", "sweep", str(path), "--format", "json"),
            *("--no-store", "--no-progress", "--no-diagnose"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    to_443 = [c for c in report["cells"] if c["dest_host"] == "cs01" and c["port"] == 443]
    assert to_443, "the demo probes cs01 on 443"
    for c in to_443:
        assert (c["status"], c["verdict"]) == ("no_listener", "no-listener"), c
        assert c["reason"].startswith("no listener: netcheck's responder could not open"), c
        assert "443 on cs01: EACCES" in c["reason"], c["reason"]
        assert "CAP_NET_BIND_SERVICE" in c["hint"] and "NSG" not in c["hint"], c["hint"]
    others = [c for c in report["cells"] if c["port"] != 443 and c["dest_host"] != "vcenter"]
    assert others and all(c["verdict"] != "no-listener" for c in others)
