"""`netcheck init` through the real CLI: the topology it writes validates and plans,
every generated value says where it came from, undecided hosts are TODOs (exit 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netcheck.inventory_import.ansible import _ansible_inventory
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
INV = ROOT / "tests" / "fixtures" / "inventory"
AZURE = [
    *("--azure-vms", str(INV / "azure" / "vms.json")),
    *("--azure-nics", str(INV / "azure" / "nics.json")),
    *("--azure-vnets", str(INV / "azure" / "vnets.json")),
]
ROLES = [
    *("--role-tag", "asr-role"),
    *("--role", "protected_vm=vm-app*,jump-*"),
    *("--role", "master_target=group:asr"),
    *("--role", "vcenter=group:vmware_vcenter"),
    *("--role", "esxi=esxi-*"),
]


def netcheck(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def validate(path: Path) -> str:
    proc = netcheck("validate", str(path))
    assert proc.returncode == 0, f"{proc.stderr}\n{path.read_text()}"
    return proc.stdout


def test_azure_and_onprem_part_give_a_topology_validate_accepts(tmp_path: Path) -> None:
    out = tmp_path / "site.yaml"
    proc = netcheck("init", *AZURE, "--onprem", str(INV / "onprem.yaml"), *ROLES, "-o", str(out))
    assert proc.returncode == 0, proc.stderr + out.read_text()
    assert "5 hosts in 2 sites" in proc.stderr
    assert "OK — 5 hosts, 2 sites, 1 paths" in validate(out)
    text = out.read_text()
    doc = yaml.safe_load(text)
    assert doc["name"] == "contoso-failback"
    assert doc["hosts"]["ps-azure-01"]["nics"] == {
        "ps-azure-01-nic0": {"address": "198.19.1.4"},
        "ps-azure-01-nic1": {"address": "198.19.1.68"},
    }
    assert doc["hosts"]["vm-app01"]["os"] == "windows"
    assert doc["hosts"]["cs01"]["nics"]["failback"]["faces"] == ["azure"]  # the part, as is
    # every generated value carries its origin
    lines = text.splitlines()
    assert any(
        ln.strip().startswith("roles: [process_server]  # tag asr-role=process_server")
        for ln in lines
    )
    assert any(
        ln.strip().startswith("roles: [protected_vm]  # --role protected_vm=vm-app*,jump-*")
        for ln in lines
    )
    assert any(
        "os: linux  # vms.json $[0].storageProfile.osDisk.osType = Linux" in ln for ln in lines
    )
    generated = [
        ln for ln in lines if ln.startswith("    ") and ":" in ln and "ps-azure-01" in text
    ]
    section = text[text.index("  ps-azure-01:") : text.index("  vm-app01:")]
    for ln in section.splitlines():
        if ln.strip() and not ln.strip().startswith(("#", "nics:", "agent:")):
            assert "  # " in ln, f"no origin on {ln!r}"
    assert generated
    plan = netcheck("plan", str(out), "--format", "json")
    assert plan.returncode == 0 and json.loads(plan.stdout)["cells"]


def test_ansible_inventory_works_the_same_way(tmp_path: Path) -> None:
    require(_ansible_inventory() is not None, "ansible-core (test extra) not installed")
    out = tmp_path / "site.yaml"
    proc = netcheck(
        "init",
        *AZURE,
        *("--ansible", str(INV / "ansible" / "hosts.ini")),
        *("--onprem", str(INV / "onprem.yaml")),
        *ROLES,
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr + out.read_text()
    assert "OK — 9 hosts, 2 sites" in validate(out)
    doc = yaml.safe_load(out.read_text())
    assert doc["hosts"]["mt01"] == {
        "site": "onprem",
        "roles": ["master_target"],
        "address": "198.18.2.20",
        "agent": {
            "transport": "ssh",
            "user": "ops",
            "port": 2222,
            "python": "/usr/bin/python3",
            "identity": "~/.ssh/failback_ed25519",
        },
    }
    assert doc["hosts"]["vcenter01"]["agent"] == {"transport": "none"}
    assert "# 198.18.2.20 is in network lan of site onprem (onprem.yaml)" in out.read_text()


def test_ansible_alone_with_a_hand_written_part(tmp_path: Path) -> None:
    require(_ansible_inventory() is not None, "ansible-core (test extra) not installed")
    part = tmp_path / "onprem.yaml"
    part.write_text("sites:\n  onprem:\n    networks: {lan: 198.18.2.0/24}\n")
    out = tmp_path / "site.yaml"
    proc = netcheck(
        "init",
        *("--ansible", str(INV / "ansible" / "hosts.yaml")),
        *("--onprem", str(part)),
        *("--role", "master_target=group:asr", "--role", "vcenter=vcenter*"),
        *("--role", "esxi=group:vmware_esxi", "--name", "dc1", "-o", str(out)),
    )
    # printer01 has a DNS name and no role: written commented out, exit 1
    assert proc.returncode == 1, proc.stderr
    assert "2 TODO(s)" in proc.stderr
    text = out.read_text()
    assert "  # TODO: printer01: no role" in text
    assert "not an IP address" in text
    assert "OK — 4 hosts, 1 sites" in validate(out)
    assert "printer01" not in yaml.safe_load(text)["hosts"]


def test_undecided_hosts_are_todos_and_exit_1(tmp_path: Path) -> None:
    out = tmp_path / "site.yaml"
    proc = netcheck(
        "init",
        *AZURE,
        "--onprem",
        str(INV / "onprem.yaml"),
        "--role-tag",
        "asr-role",
        "-o",
        str(out),
    )
    assert proc.returncode == 1, proc.stderr
    text = out.read_text()
    for host in ("vm-app02", "jump-hub01"):
        assert f"  # TODO: {host}: no role: give it one with --role ROLE=PATTERN" in text
        assert f"  # {host}:  # az vm list -d -o json" in text
    assert "OK — 3 hosts" in validate(out)  # cs01, ps-azure-01, vm-app01


def test_an_address_in_no_site_is_a_todo(tmp_path: Path) -> None:
    inv = tmp_path / "inv.json"
    inv.write_text(
        json.dumps(
            {
                "_meta": {"hostvars": {"mt09": {"ansible_host": "198.18.9.9"}}},
                "all": {"children": ["ungrouped"]},
                "ungrouped": {"hosts": ["mt09"]},
            }
        )
    )
    part = tmp_path / "onprem.yaml"
    part.write_text("sites:\n  onprem:\n    networks: {lan: 198.18.2.0/24}\n")
    out = tmp_path / "site.yaml"
    proc = netcheck(
        "init",
        *("--ansible", str(inv), "--onprem", str(part)),
        *("--role", "master_target=mt*", "-o", str(out)),
    )
    assert proc.returncode == 2  # its only host is a TODO: no topology can be written
    assert "no host could be decided" in proc.stderr
    assert "TODO: mt09: no site: 198.18.9.9 is in no network of the sites" in proc.stderr
    # with a host that is decided, the file is written; --site decides a site, and then
    # the address must be inside that site
    part.write_text(
        part.read_text() + "hosts:\n  cs01: {site: onprem, roles: [config_server], "
        "address: 198.18.2.10}\n"
    )
    proc = netcheck(
        "init",
        *("--ansible", str(inv), "--onprem", str(part)),
        *("--role", "master_target=mt*", "--site", "onprem=mt09", "-o", str(out)),
    )
    assert proc.returncode == 1, proc.stderr
    assert "NIC nic0 198.18.9.9 is outside the networks of site onprem" in out.read_text()
    assert "OK — 1 hosts" in validate(out)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--azure-vms", "x.json"], "needs all three"),
        ([], "nothing to import"),
        (
            ["--onprem", "/nonexistent/onprem.yaml"],
            "onprem.yaml: hand-written topology part file not found",
        ),
        (["--ansible", "/nonexistent/inv.ini"], "inv.ini: Ansible inventory not found"),
        (["--onprem", str(INV / "onprem.yaml"), "--role", "ps=ps-*"], "unknown role 'ps'"),
        (["--onprem", str(INV / "onprem.yaml"), "--role", "esxi"], "expected ROLE=PATTERN"),
    ],
)
def test_usage_and_input_errors_are_exit_2(args: list[str], says: str) -> None:
    proc = netcheck("init", *args)
    assert proc.returncode == 2
    assert says in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_vm_whose_nic_is_missing_is_exit_2_with_the_json_path(tmp_path: Path) -> None:
    nics = json.loads((INV / "azure" / "nics.json").read_text())
    short = tmp_path / "nics.json"
    short.write_text(json.dumps([n for n in nics if n["name"] != "vm-app02-nic"]))
    args = AZURE.copy()
    args[args.index("--azure-nics") + 1] = str(short)
    proc = netcheck("init", *args)
    assert proc.returncode == 2
    assert "vms.json: $[2].networkProfile.networkInterfaces[0].id: the VM's NIC 'vm-app02-nic'" in (
        proc.stderr
    )


def test_a_hand_written_part_that_clashes_is_an_error(tmp_path: Path) -> None:
    part = tmp_path / "onprem.yaml"
    part.write_text(
        (INV / "onprem.yaml")
        .read_text()
        .replace("  cs01:", "  ps-azure-01:")
        .replace("198.18.2.10", "198.18.2.11")
    )
    proc = netcheck("init", *AZURE, "--onprem", str(part), *ROLES)
    assert proc.returncode == 2
    assert "host 'ps-azure-01' is in the hand-written part" in proc.stderr
    part.write_text("sites:\n  azure:\n    networks: {x: 198.19.9.0/24}\n")
    proc = netcheck("init", *AZURE, "--onprem", str(part), *ROLES)
    assert proc.returncode == 2 and "site 'azure' is both" in proc.stderr
    part.write_text("hosts: [a, b]\nsites: {}\n")
    assert "hosts: expected a mapping" in netcheck("init", "--onprem", str(part)).stderr
    part.write_text("sites: {onprem: {networks: {lan: 198.18.2.0/24}}}\nnope: 1\n")
    assert "unknown section 'nope'" in netcheck("init", "--onprem", str(part)).stderr
    part.write_text("sites: {onprem: {networks: {lan: 198.18.2.0/24}}\nnope: 1\n")
    assert "onprem.yaml:2:1: not YAML" in netcheck("init", "--onprem", str(part)).stderr
