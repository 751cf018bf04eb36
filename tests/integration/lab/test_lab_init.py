"""Issue 16's done-when, for real: the lab's hosts exported as an Ansible INI inventory,
`netcheck init --ansible` with a small hand-written part (the sites, the paths and the
dual-NIC configuration server, which one `ansible_host` can't describe), then a real
sweep of the generated topology over SSH from the lab's management namespace: GO.

Every agent logs in with the key the inventory names (`ansible_ssh_private_key_file`
→ `agent.identity`): the sweep is run without `-i`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from netcheck.inventory_import.ansible import _ansible_inventory
from netcheck.lab import Lab, LabState, lab_exec
from netcheck.plan import build_plan
from netcheck.topology import load_topology
from tests.conftest import require

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[3]
TOPOLOGY = ROOT / "topologies" / "lab" / "failback-topology.yaml"
# the Ansible groups an operations team would keep the lab's machines in
GROUPS = {
    "ps-azure": "azure_ps",
    "vm-app01": "azure_vms",
    "vm-app02": "azure_vms",
    "mt01": "asr_mt",
    "vcenter": "vmware_vcenter",
    "esxi01": "vmware_esxi",
}
PARENTS = {"azure": ["azure_ps", "azure_vms"], "vmware": ["vmware_vcenter", "vmware_esxi"]}
PARENTS["onprem"] = ["asr_mt", "vmware"]  # a group of groups of groups
DECISIONS = [
    *("--role", "process_server=group:azure_ps"),
    *("--role", "protected_vm=group:azure_vms"),
    *("--role", "master_target=group:asr_mt"),
    *("--role", "vcenter=group:vmware_vcenter"),
    *("--role", "esxi=group:vmware_esxi"),
    *("--replication-group", "app=group:azure_vms"),
]
NOT_IN_INVENTORY = {"mgmt", "cs01"}  # the coordinator's workstation; the dual-NIC CS


def export_inventory(lab: Lab, key: Path, dest: Path) -> Path:
    """The lab's SSH hosts as an INI inventory: one ansible_host each, groups of groups."""
    members: dict[str, list[str]] = {}
    for ns in lab.hosts:
        if not ns.sshd or ns.name in NOT_IN_INVENTORY:
            continue
        assert ns.name in GROUPS, f"lab host {ns.name} has no Ansible group in this test"
        address = lab.addresses(ns.name)[0].ip
        members.setdefault(GROUPS[ns.name], []).append(f"{ns.name} ansible_host={address}")
    lines: list[str] = []
    for group, hosts in members.items():
        lines += [f"[{group}]", *hosts, ""]
    for parent, children in PARENTS.items():
        lines += [f"[{parent}:children]", *children, ""]
    lines += [
        "[all:vars]",
        "ansible_user=root",
        "ansible_python_interpreter=python3",
        f"ansible_ssh_private_key_file={key}",
    ]
    dest.write_text("\n".join(lines) + "\n")
    return dest


def hand_written_part(key: Path, dest: Path) -> Path:
    """What no inventory holds: the sites, the paths, the sweep settings, and cs01."""
    topo = yaml.safe_load(TOPOLOGY.read_text())
    part: dict[str, Any] = {k: topo[k] for k in ("name", "ports", "sweep", "sites", "paths")}
    cs01 = dict(topo["hosts"]["cs01"])
    cs01["agent"] = {"transport": "ssh", "user": "root", "identity": str(key)}
    part["hosts"] = {"cs01": cs01}
    dest.write_text(yaml.safe_dump(part, sort_keys=False))
    return dest


def sweep_json(lab: Lab, state: LabState, topology: Path, *extra: str) -> tuple[int, Any]:
    argv = [
        *(sys.executable, "-m", "netcheck", "sweep", str(topology)),
        *("--known-hosts", str(state.known_hosts), "--format", "json", "--no-progress"),
        *("--no-store", *extra),
    ]
    proc = lab_exec(lab, "mgmt", argv, capture_output=True, text=True, timeout=90)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    return proc.returncode, json.loads(proc.stdout)


def test_the_lab_from_its_ansible_inventory_sweeps_go(
    lab: Lab, lab_state: LabState, tmp_path: Path
) -> None:
    require(_ansible_inventory() is not None, "ansible-core (test extra) not installed")
    key = lab_state.client_key
    inventory = export_inventory(lab, key, tmp_path / "hosts.ini")
    part = hand_written_part(key, tmp_path / "onprem.yaml")
    generated = tmp_path / "lab-from-ansible.yaml"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "netcheck", "init", "--ansible", str(inventory)),
            *("--onprem", str(part), *DECISIONS, "-o", str(generated)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr + generated.read_text()
    text = generated.read_text()
    assert "TODO" not in text
    assert f"identity: {key}  # ansible_ssh_private_key_file" in text
    # the generated topology asks for exactly the cells of the hand-written lab topology
    cells = {s.cell_id for s in build_plan(load_topology(generated)).specs}
    assert cells == {s.cell_id for s in build_plan(load_topology(TOPOLOGY)).specs}

    code, report = sweep_json(lab, lab_state, generated)
    failing = {c["cell_id"]: c["reason"] for c in report["cells"] if not c["passed"]}
    assert failing == {}
    assert (code, report["verdict"], report["partial"]) == (0, "go", False)
    assert report["summary"]["cells"] == len(cells) == 13
    assert {a["host"] for a in report["agents"]} == set(GROUPS) | {"cs01"}
    assert all(a["available"] and a["transport"] == "ssh" for a in report["agents"])
    assert {r["state"] for r in report["responders"]} == {"responder"}

    # and limited to the replication group: only the cells from or to its VMs, still GO
    code, limited = sweep_json(lab, lab_state, generated, "--limit", "group:app")
    assert (code, limited["verdict"], limited["settings"]["limit"]) == (0, "go", "group:app")
    assert 0 < limited["summary"]["cells"] < 13
    for c in limited["cells"]:
        assert {"vm-app01", "vm-app02"} & {c["source_host"], c["dest_host"]}, c["cell_id"]
