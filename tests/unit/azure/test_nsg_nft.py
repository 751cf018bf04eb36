"""The lab's NSG stand-in: an export as nftables tables (text only; the lab test loads them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.azure.nsg import load_export
from netcheck.azure.nsg.nft import nft_tables
from netcheck.azure.nsg.predict import tag_scope
from netcheck.topology import load_topology
from tests.unit.azure.nsgdocs import SUBNET_A, export, nsg, rule, scope

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "tests" / "fixtures" / "azure" / "lab"


def test_lab_export_tables() -> None:
    ex = load_export(LAB / "nsgs.json", LAB / "nics.json", LAB / "vnets.json")
    topo = load_topology(ROOT / "topologies" / "lab" / "failback-topology.yaml")
    nic, subnet = nft_tables(ex, tag_scope(topo, ex))
    assert (nic.kind, nic.owner, nic.addresses, nic.family) == (
        "nic", "nic-ps-azure", ("198.19.1.4",), "inet",
    )  # fmt: skip
    assert (subnet.kind, subnet.addresses, subnet.family) == (
        "subnet",
        ("198.19.1.0/24",),
        "bridge",
    )
    lines = [line.strip() for line in nic.script.splitlines()]
    nsg_in = lines[lines.index("chain nsg_in {") + 1 : lines.index("chain nsg_out {") - 1]
    # priority order, allow = return (the next NSG still judges), deny = drop
    assert [line.rsplit('"', 2)[1] for line in nsg_in] == [
        "nsg-ps-nic allow-onprem-https 100",
        "nsg-ps-nic deny-replication 200",
        "nsg-ps-nic AllowVnetInBound 65000",
        "nsg-ps-nic AllowAzureLoadBalancerInBound 65001",
        "nsg-ps-nic DenyAllInBound 65500",
    ]
    assert nsg_in[1].startswith("ip saddr { 198.19.1.0/24 } tcp dport { 9443 } counter drop")
    # the ASG rule on the subnet: its members' addresses
    assert "ip saddr { 198.19.1.10/31 } ip daddr { 198.19.1.10/31 }" in subnet.script
    assert (
        nic.delete_script
        == "add table inet nsg_nic_nic_ps_azure\ndelete table inet nsg_nic_nic_ps_azure\n"
    )


def test_tag_without_address_list_is_refused() -> None:
    ex = export(
        [nsg("n", [rule("x", 100, dst="Storage", direction="Outbound")], subnets=(SUBNET_A,))]
    )
    with pytest.raises(ValueError, match="can't express Storage"):
        nft_tables(ex, scope(ex))
