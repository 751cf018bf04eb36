"""The topology's `azure.nsg_export` key."""

from __future__ import annotations

import pytest

from netcheck.errors import ConfigError
from netcheck.topology import load_topology_text
from netcheck.topology.services import NsgExportFiles

BASE = """\
version: 1
name: t
sites:
  azure: {networks: {vnet: 198.19.1.0/24}}
hosts:
  ps-azure: {site: azure, roles: [process_server], address: 198.19.1.4}
"""


def test_mapping_and_shorthand() -> None:
    topo = load_topology_text(BASE + "azure:\n  nsg_export: {nsgs: a.json, vnets: b.json}\n")
    assert topo.azure.nsg_export == NsgExportFiles(nsgs="a.json", vnets="b.json")
    assert not topo.azure.declared  # the endpoint checks stay off
    topo = load_topology_text(BASE + "azure:\n  nsg_export: a.json\n  cloud: public\n")
    assert topo.azure.nsg_export == NsgExportFiles(nsgs="a.json")
    assert topo.azure.declared


def test_nsgs_file_required_and_unknown_keys_rejected() -> None:
    with pytest.raises(ConfigError, match=r"azure.nsg_export: give 'nsgs'"):
        load_topology_text(BASE + "azure:\n  nsg_export: {nics: n.json}\n")
    with pytest.raises(ConfigError, match="unknown key 'nic'"):
        load_topology_text(BASE + "azure:\n  nsg_export: {nsgs: a.json, nic: n.json}\n")
