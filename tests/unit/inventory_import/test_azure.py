"""Azure CLI JSON → sites and host drafts (pure, on the fixture documents in the CLI's shape)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netcheck.inventory_import import InventoryError, J, import_azure
from netcheck.inventory_import.azure import AzureImport

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "inventory" / "azure"


def docs() -> tuple[Any, Any, Any]:
    return tuple(  # type: ignore[return-value]
        json.loads((FIXTURES / f).read_text()) for f in ("vms.json", "nics.json", "vnets.json")
    )


def run(vms: Any, nics: Any, vnets: Any, **kw: Any) -> AzureImport:
    return import_azure(J(vms, "vms.json"), J(nics, "nics.json"), J(vnets, "vnets.json"), **kw)


def test_peered_vnets_make_one_site_with_every_subnet() -> None:
    result = run(*docs())
    (site,) = result.sites
    assert site.name == "azure"
    assert [(n.name, n.cidr) for n in site.networks] == [
        ("vnet-hub.GatewaySubnet", "198.19.0.0/27"),
        ("vnet-hub.snet-shared", "198.19.0.64/26"),
        ("vnet-asr.snet-ps", "198.19.1.0/26"),
        ("vnet-asr.snet-replication", "198.19.1.64/26"),
        ("vnet-app.snet-app", "198.19.2.0/25"),  # from addressPrefixes (newer API shape)
    ]
    assert "vnet-hub (hub)" in site.origin
    assert site.networks[4].origin == "vnets.json $[2].subnets[0].addressPrefixes[0]"


def test_unpeered_vnets_are_sites_of_their_own() -> None:
    vms, nics, vnets = docs()
    for v in vnets:
        v["virtualNetworkPeerings"] = []
    names = [s.name for s in run(vms, nics, vnets, site_name="az").sites]
    assert names == ["az-vnet-hub", "az-vnet-asr", "az-vnet-app"]


def test_a_peering_that_is_not_connected_joins_nothing() -> None:
    vms, nics, vnets = docs()
    for v in vnets:
        if v["name"] in ("vnet-app", "vnet-hub"):
            for p in v["virtualNetworkPeerings"]:
                if "app" in p["name"]:
                    p["peeringState"] = "Disconnected"
    sites = run(vms, nics, vnets).sites
    assert [s.name for s in sites] == ["azure-vnet-hub", "azure-vnet-app"]
    assert "peered with vnet-hub (Disconnected)" in sites[1].origin


def test_hosts_nics_os_roles_and_agent_from_the_vms() -> None:
    hosts = {h.name: h for h in run(*docs(), role_tag="asr-role").hosts}
    assert list(hosts) == ["ps-azure-01", "vm-app01", "vm-app02", "jump-hub01"]
    ps = hosts["ps-azure-01"]
    # two NICs, the primary first; ids matched although the VM prints RG-ASR upper-cased
    assert [(n.name, n.address, n.site) for n in ps.nics] == [
        ("ps-azure-01-nic0", "198.19.1.4", "azure"),
        ("ps-azure-01-nic1", "198.19.1.68", "azure"),
    ]
    assert "nics.json $[1].ipConfigurations[0].privateIPAddress" in ps.nics[1].origin
    assert [r.value for r in ps.roles] == ["process_server"]
    assert "tag asr-role=process_server" in ps.roles[0].origin
    assert ps.os is not None and ps.os.value == "linux"
    assert dict((k, s.value) for k, s in ps.agent) == {"transport": "ssh", "user": "azureuser"}
    assert ps.groups == ("RG-ASR", "rg-asr")  # group: patterns match the resource group
    app1 = hosts["vm-app01"]
    assert app1.os is not None and app1.os.value == "windows"
    assert any("agent.python" in n for n in app1.notes)
    assert any("198.19.2.20" in n for n in app1.notes)  # the second IP configuration
    assert hosts["vm-app02"].roles == ()  # no tag: a --role pattern decides later
    assert any("VM deallocated" in n for n in hosts["vm-app02"].notes)
    assert all(not h.todos for h in hosts.values())


def test_a_tag_value_that_is_no_role_is_a_todo() -> None:
    vms, nics, vnets = docs()
    vms[0]["tags"]["asr-role"] = "process-server"
    (ps, *_) = run(vms, nics, vnets, role_tag="asr-role").hosts
    assert ps.roles == ()
    assert "'process-server' is not a role" in ps.todos[0]


def test_a_nic_in_a_subnet_of_no_exported_vnet_is_a_todo() -> None:
    vms, nics, vnets = docs()
    vnets = [v for v in vnets if v["name"] != "vnet-app"]
    hosts = {h.name: h for h in run(vms, nics, vnets).hosts}
    (todo,) = hosts["vm-app01"].todos
    assert "subnet 'snet-app' is in no VNet" in todo
    assert hosts["vm-app01"].site is None


def test_a_vm_whose_nic_is_missing_names_file_path_and_what_was_expected() -> None:
    vms, nics, vnets = docs()
    nics = [n for n in nics if n["name"] != "ps-azure-01-nic1"]
    with pytest.raises(InventoryError) as exc:
        run(vms, nics, vnets)
    text = str(exc.value)
    assert text.startswith("vms.json: $[0].networkProfile.networkInterfaces[1].id: ")
    assert "NIC 'ps-azure-01-nic1'" in text and "is not in nics.json" in text
    assert "az network nic list -o json" in text


@pytest.mark.parametrize(
    ("which", "break_it", "says"),
    [
        (0, lambda d: {"value": d}, "vms.json: $: expected a list of VMs (the output of az vm"),
        (1, lambda d: d[0], "nics.json: $: expected a list of NICs"),
        (
            0,
            lambda d: [{**d[0], "networkProfile": None}],
            "vms.json: $[0].networkProfile: expected an object, found null",
        ),
        (
            0,
            lambda d: [{k: v for k, v in d[0].items() if k != "storageProfile"}],
            "vms.json: $[0]: missing 'storageProfile'",
        ),
        (
            0,
            lambda d: [{**d[0], "storageProfile": {"osDisk": {"osType": "Plan9"}}}],
            "$[0].storageProfile.osDisk.osType: osType 'Plan9'",
        ),
        (
            2,
            lambda d: [{**d[0], "subnets": [{"name": "x", "id": "y"}]}],
            "vnets.json: $[0].subnets[0]: a subnet needs 'addressPrefix'",
        ),
        (
            2,
            lambda d: [
                {**d[0], "subnets": [{**d[0]["subnets"][0], "addressPrefix": "198.19.0/x"}]}
            ],
            "$[0].subnets[0].addressPrefix: '198.19.0/x' is not a CIDR prefix",
        ),
    ],
)
def test_json_not_of_the_expected_shape(which: int, break_it: Any, says: str) -> None:
    three = list(docs())
    three[which] = break_it(three[which])
    with pytest.raises(InventoryError) as exc:
        run(*three)
    assert says in str(exc.value)


def test_missing_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"nope\.json: az vm list -d -o json file not found"):
        J.load(tmp_path / "nope.json", "az vm list -d -o json")
    bad = tmp_path / "vms.json"
    bad.write_text("Please run 'az login' to setup account.\n")
    with pytest.raises(
        InventoryError, match=r"vms\.json:1:1: not JSON .*expected the output of az"
    ):
        J.load(bad, "az vm list -d -o json")
