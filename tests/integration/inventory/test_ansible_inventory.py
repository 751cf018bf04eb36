"""Ansible inventories → host drafts: INI and YAML through a real `ansible-inventory --list`
(ansible-core is a test dependency), and `--list` JSON as saved by a user."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from netcheck.inventory_import import InventoryError, hosts_from_inventory, load_ansible
from netcheck.inventory_import.ansible import _ansible_inventory
from netcheck.inventory_import.model import HostDraft
from tests.conftest import require

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "inventory" / "ansible"


@pytest.fixture
def ansible() -> str:
    exe = _ansible_inventory()
    require(exe is not None, "ansible-inventory (ansible-core, in the test extra) not installed")
    assert exe is not None
    return exe


def drafts(path: Path) -> dict[str, HostDraft]:
    return {h.name: h for h in hosts_from_inventory(load_ansible(path))}


def agent(h: HostDraft) -> dict[str, Any]:
    return {k: s.value for k, s in h.agent}


@pytest.mark.parametrize("inventory", ["hosts.ini", "hosts.yaml"])
def test_ini_and_yaml_through_ansible_core(ansible: str, inventory: str) -> None:
    hosts = drafts(FIXTURES / inventory)
    mt = hosts["mt01"]
    # groups of groups: asr_mt's parents asr and datacenter come along
    assert set(mt.groups) == {"asr_mt", "asr", "datacenter"}
    assert [(n.name, n.address) for n in mt.nics] == [("nic0", "198.18.2.20")]
    assert agent(mt) == {
        "transport": "ssh",
        "user": "ops",
        "port": 2222,
        "python": "/usr/bin/python3",  # a group var of datacenter
        "identity": "~/.ssh/failback_ed25519",
    }
    assert "ansible_port" in dict(mt.agent)["port"].origin
    esxi = hosts["esxi-02"]
    assert esxi.nics[0].address == "198.18.2.32"  # host_vars/esxi-02.yml beside the INI
    assert set(esxi.groups) == {"vmware_esxi", "vmware", "datacenter"}
    # auto_silent: interpreter discovery, the child group's var wins over datacenter's
    assert "python" not in agent(esxi)
    assert agent(esxi)["user"] == "root"
    # Ansible drives vCenter from the controller: a destination without an agent
    assert agent(hosts["vcenter01"]) == {"transport": "none"}
    assert all(not h.roles and h.site is None for h in hosts.values())


def test_yaml_host_with_a_dns_name_is_a_todo(ansible: str) -> None:
    printer = drafts(FIXTURES / "hosts.yaml")["printer01"]
    assert printer.nics == ()
    assert "'printer01.corp.example', not an IP address" in printer.todos[0]


def test_list_json_saved_by_the_user_needs_no_ansible(ansible: str, tmp_path: Path) -> None:
    listed = subprocess.run(
        [ansible, "-i", str(FIXTURES / "hosts.ini"), "--list"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    saved = tmp_path / "inventory.json"
    saved.write_text(listed)
    from_json = drafts(saved)
    from_ini = drafts(FIXTURES / "hosts.ini")
    assert [(h.name, h.nics, agent(h), set(h.groups)) for h in from_json.values()] == [
        (h.name, h.nics, agent(h), set(h.groups)) for h in from_ini.values()
    ]


def test_export_style_json_applies_group_vars_general_to_specific(tmp_path: Path) -> None:
    doc = {
        "_meta": {"hostvars": {"db01": {"ansible_host": "198.18.2.50"}}},
        "all": {"children": ["linux"], "vars": {"ansible_user": "everyone", "ansible_port": 22}},
        "linux": {"children": ["db"], "vars": {"ansible_user": "linuxadm"}},
        "db": {"hosts": ["db01"], "vars": {"ansible_port": "2200"}},
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc))
    db = drafts(path)["db01"]
    assert agent(db) == {"transport": "ssh", "user": "linuxadm", "port": 2200}
    assert "group linux vars" in dict(db.agent)["user"].origin


def test_winrm_hosts_and_bad_ports_are_todos(tmp_path: Path) -> None:
    doc = {
        "_meta": {
            "hostvars": {
                "win01": {"ansible_host": "198.18.2.60", "ansible_connection": "winrm"},
                "odd01": {"ansible_host": "198.18.2.61", "ansible_port": "ssh"},
            }
        },
        "all": {"children": ["ungrouped"]},
        "ungrouped": {"hosts": ["win01", "odd01"]},
    }
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(doc))
    hosts = drafts(path)
    assert "ansible_connection=winrm" in hosts["win01"].todos[0]
    assert "ansible_port='ssh'" in hosts["odd01"].todos[0]
    assert hosts["odd01"].groups == ()


def test_an_inventory_ansible_cannot_parse_is_an_error(ansible: str, tmp_path: Path) -> None:
    bad = tmp_path / "broken.ini"
    bad.write_text("[web\nhost1 ansible_host=198.18.2.9\n")
    with pytest.raises(InventoryError, match=r"broken\.ini: ansible-inventory could not parse it"):
        load_ansible(bad)


def test_missing_inventory_and_no_ansible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InventoryError, match=r"nope\.ini: Ansible inventory not found"):
        load_ansible(tmp_path / "nope.ini")
    ini = tmp_path / "hosts.ini"
    shutil.copy(FIXTURES / "hosts.ini", ini)
    monkeypatch.setattr("netcheck.inventory_import.ansible._ansible_inventory", lambda: None)
    with pytest.raises(InventoryError, match=r"ansible-core is not installed .*--list"):
        load_ansible(ini)


def test_json_without_hosts_says_what_was_expected(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"_meta": {"hostvars": {}}, "all": {"children": []}}))
    with pytest.raises(InventoryError, match=r"no host in the inventory; expected the output"):
        hosts_from_inventory(load_ansible(path))
