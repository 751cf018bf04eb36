"""Topology format v1's optional inventory: parsed values, and errors at file:line:column."""

from __future__ import annotations

import pytest

from netcheck.errors import ConfigError
from netcheck.topology import load_topology, load_topology_text
from netcheck.topology.inventory import DatastoreKind, FailbackPolicy, ScsiController
from tests.conftest import TOPOLOGIES

HEAD = """\
version: 1
name: inv
sites:
  onprem: {networks: {lan: 198.18.2.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24}}
hosts:
  esxi01: {site: onprem, roles: [esxi], address: 198.18.2.31, agent: none}
  vm1: {site: azure, roles: [protected_vm], groups: [g], address: 198.19.1.10}
  mt01:
    site: onprem
    roles: [master_target]
    address: 198.18.2.20
"""


def load(extra: str) -> object:
    return load_topology_text(HEAD + extra, "inv.yaml")


def error(extra: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load(extra)
    return str(exc.value)


def test_values_are_parsed() -> None:
    topo = load_topology_text(
        HEAD
        + """\
    inventory:
      os_version: '2019'
      disks: 2
      scsi_controller: LSI Logic SAS
      esxi_host: esxi01
      retention: 'R:'
failback:
  groups: {g: mt01}
  policy: {rpo_threshold_min: 15}
""",
        "inv.yaml",
    )
    inv = topo.host("mt01").inventory
    assert inv.declared and inv.os_version == "2019" and inv.disks == 2
    assert inv.scsi_controller is ScsiController.LSI_LOGIC_SAS
    assert inv.retention is not None and inv.retention.path == "R:"
    assert topo.failback.groups == (("g", "mt01"),)
    assert topo.failback.policy == FailbackPolicy(rpo_threshold_min=15.0)
    assert not topo.host("vm1").inventory.declared


def test_the_examples_carry_inventories() -> None:
    vpn = load_topology(TOPOLOGIES / "asr-failback-vpn.yaml")
    assert vpn.host("esxi01").inventory.datastores[0] == ("ds-vmfs-01", DatastoreKind.VMFS)
    assert vpn.failback.master_target_of_group("erp") == "mt02"
    er = load_topology(TOPOLOGIES / "asr-failback-expressroute.yaml")
    assert er.host("mt01").inventory.retention is not None


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "    inventory: {snapshot: false}\n",
            "inv.yaml:13:17: hosts.mt01.inventory.snapshot: unknown key 'snapshot' "
            "(did you mean 'snapshots'?); expected one of: disk_enable_uuid, disks, esxi_host, os_version, retention, "
            "scsi_controller, snapshots, storage_vmotion_excluded, vmware_tools",
        ),
        (
            "    inventory: {datastores: {a: vmfs}}\n",
            "inv.yaml:13:17: hosts.mt01.inventory.datastores: 'datastores' is an inventory key "
            "of role esxi, and this host's roles are master_target",
        ),
        (
            "    inventory: {os_version: 8.10}\n",
            "inv.yaml:13:29: hosts.mt01.inventory.os_version: write the version as a string, "
            "e.g. '8.1' in quotes (a YAML number loses trailing zeros: 8.10 becomes 8.1)",
        ),
        (
            "    inventory: {scsi_controller: nvme}\n",
            "inv.yaml:13:34: hosts.mt01.inventory.scsi_controller: unknown SCSI controller "
            "'nvme'; expected one of: lsilogic, lsilogic_sas, paravirtual, buslogic",
        ),
        (
            "    inventory: {retention: {path: /r, capacity_gb: -1}}\n",
            "inv.yaml:13:52: hosts.mt01.inventory.retention.capacity_gb: -1 is too small; "
            "expected at least 0",
        ),
        (
            "    inventory: {esxi_host: vm1}\n",
            "inv.yaml:13:28: hosts.mt01.inventory.esxi_host: host 'vm1' does not have role "
            "esxi; esxi_host must name one",
        ),
        (
            "    inventory: {esxi_host: esx99}\n",
            "inv.yaml:13:28: hosts.mt01.inventory.esxi_host: unknown host 'esx99'; esxi_host "
            "names a host of this topology",
        ),
        (
            "failback: {groups: {nope: mt01}}\n",
            "inv.yaml:13:27: failback.groups.nope: no host is in replication group 'nope'; "
            "groups in use: g",
        ),
        (
            "failback: {grups: {}}\n",
            "inv.yaml:13:12: failback.grups: unknown key 'grups' (did you mean 'groups'?); "
            "expected one of: groups, policy",
        ),
    ],
)
def test_errors_name_file_line_column_and_field(extra: str, expected: str) -> None:
    assert error(extra) == expected


def test_a_vm_whose_master_target_contradicts_its_group_is_an_error() -> None:
    text = HEAD.replace(
        "  vm1: {site: azure, roles: [protected_vm], groups: [g], address: 198.19.1.10}\n",
        "  vm1: {site: azure, roles: [protected_vm], groups: [g], address: 198.19.1.10,\n"
        "        inventory: {master_target: mt02}}\n",
    ) + (
        "  mt02: {site: onprem, roles: [master_target], address: 198.18.2.21}\n"
        "failback: {groups: {g: mt01}}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_topology_text(text, "inv.yaml")
    assert str(exc.value) == (
        "inv.yaml:9:36: hosts.vm1.inventory.master_target: vm1 is in replication group 'g', "
        "which failback.groups gives to 'mt01': every VM of a group must use the same master "
        "target"
    )
