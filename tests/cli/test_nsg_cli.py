"""`netcheck plan --azure-nsgs ...`: NSG predictions without a packet, as a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAB_TOPOLOGY = ROOT / "topologies" / "lab" / "failback-topology.yaml"
EXPORT = ROOT / "tests" / "fixtures" / "azure" / "lab"
FILES = (
    "--azure-nsgs", str(EXPORT / "nsgs.json"),
    "--azure-nics", str(EXPORT / "nics.json"),
    "--azure-vnets", str(EXPORT / "vnets.json"),
)  # fmt: skip


def netcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_plan_table_shows_predictions_and_fixes() -> None:
    proc = netcheck("plan", str(LAB_TOPOLOGY), *FILES)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "NSG predictions (" in out and "4 allowed, 4 denied, 0 unknown" in out
    assert "nsg-ps-nic / deny-replication / 200 / inbound / nic nic-ps-azure" in out
    assert (
        "NSG nsg-ps-nic rule deny-replication (priority 200, inbound) denies TCP 9443 from "
        "198.19.1.0/24; add an allow at priority < 200 or narrow it"
    ) in out


def test_plan_json_carries_the_predictions() -> None:
    proc = netcheck("plan", str(LAB_TOPOLOGY), "--format", "json", *FILES)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    cells = {c["cell_id"]: c for c in doc["nsg_predictions"]["cells"]}
    c = cells["vm-app01/nic0>vm-app02/nic0:tcp/20004"]
    assert (c["outcome"], c["nsg"], c["rule"], c["priority"], c["direction"]) == (
        "denied", "nsg-workloads", "deny-vm-consistency", 210, "inbound",
    )  # fmt: skip
    assert c["attached_to"] == "subnet failback-vnet/workloads"
    assert len(cells) == 8 and len(doc["cells"]) == 13


def test_without_an_export_the_plan_is_unchanged() -> None:
    proc = netcheck("plan", str(LAB_TOPOLOGY))
    assert proc.returncode == 0 and "NSG predictions" not in proc.stdout


def test_topology_nsg_export_relative_to_the_topology(tmp_path: Path) -> None:
    for name in ("nsgs.json", "nics.json", "vnets.json"):
        shutil.copy(EXPORT / name, tmp_path / name)
    text = LAB_TOPOLOGY.read_text()
    text += "\nazure:\n  nsg_export: {nsgs: nsgs.json, nics: nics.json, vnets: vnets.json}\n"
    topo = tmp_path / "site.yaml"
    topo.write_text(text)
    proc = netcheck("plan", str(topo))
    assert proc.returncode == 0, proc.stderr
    assert "4 allowed, 4 denied, 0 unknown" in proc.stdout
    # only nsg_export under azure: the Azure endpoint rules stay off
    assert "cs-to-azure-https: no azure: section" in proc.stdout


def test_bad_export_is_a_clear_error_with_file_and_json_path(tmp_path: Path) -> None:
    bad = tmp_path / "nsgs.json"
    doc = json.loads((EXPORT / "nsgs.json").read_text())
    doc[1]["securityRules"][1]["destinationPortRange"] = "9443-"
    bad.write_text(json.dumps(doc))
    proc = netcheck("plan", str(LAB_TOPOLOGY), *FILES[2:], "--azure-nsgs", str(bad))
    assert proc.returncode == 2
    assert (
        f"netcheck: error: {bad}: $[1].securityRules[1].destinationPortRange: malformed port "
        "range '9443-'"
    ) in proc.stderr


def test_nics_without_nsgs_is_a_usage_error() -> None:
    proc = netcheck("plan", str(LAB_TOPOLOGY), "--azure-nics", str(EXPORT / "nics.json"))
    assert proc.returncode == 2
    assert "--azure-nics need --azure-nsgs" in proc.stderr
