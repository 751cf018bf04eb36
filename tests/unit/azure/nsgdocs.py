"""NSG, NIC and VNet documents in the shape `az network ... list -o json` prints them
(properties flattened into each object), written small for the tests."""

from __future__ import annotations

from typing import Any

from netcheck.azure.nsg.evaluate import TagScope
from netcheck.azure.nsg.model import AzureExport
from netcheck.azure.nsg.parse import build_export, parse_nics, parse_nsgs, parse_vnets
from netcheck.azure.nsg.predict import CellPrediction, predict_flow

Doc = dict[str, Any]
NET = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network"
VNET = f"{NET}/virtualNetworks/vnet1"
SUBNET_A = f"{VNET}/subnets/app"  # 198.19.1.0/25
SUBNET_B = f"{VNET}/subnets/ps"  # 198.19.1.128/25
ASG_VMS = f"{NET}/applicationSecurityGroups/asg-vms"

# the lab's on-premises ranges, reached over the gateway
ONPREM = "198.18.2.0/23"


def rule(
    name: str,
    priority: int,
    access: str = "Deny",
    direction: str = "Inbound",
    protocol: str = "Tcp",
    src: str | list[str] = "*",
    dst: str | list[str] = "*",
    ports: str | list[str] = "*",
    src_ports: str = "*",
    src_asgs: list[str] | None = None,
    dst_asgs: list[str] | None = None,
) -> Doc:
    """One security rule; a list gives the plural field (`...Prefixes`, `...Ranges`)."""

    def pair(key: str, value: str | list[str] | None) -> Doc:
        plural = key + ("es" if key.endswith("x") else "s")
        if isinstance(value, list):
            return {key: None, plural: value}
        return {key: value, plural: []}

    r: Doc = {"name": name, "priority": priority, "access": access, "direction": direction}
    r["protocol"] = protocol
    r.update(pair("sourceAddressPrefix", None if src_asgs else src))
    r.update(pair("destinationAddressPrefix", None if dst_asgs else dst))
    r.update(pair("destinationPortRange", ports))
    r.update(pair("sourcePortRange", src_ports))
    if src_asgs:
        r["sourceApplicationSecurityGroups"] = [{"id": a} for a in src_asgs]
    if dst_asgs:
        r["destinationApplicationSecurityGroups"] = [{"id": a} for a in dst_asgs]
    return r


def nsg(
    name: str, rules: list[Doc], subnets: tuple[str, ...] = (), nics: tuple[str, ...] = ()
) -> Doc:
    """An NSG as `az network nsg list` shows it (defaultSecurityRules left to the parser's
    documented defaults unless a test gives them)."""
    return {
        "name": name,
        "id": f"{NET}/networkSecurityGroups/{name}",
        "securityRules": rules,
        "subnets": [{"id": s, "resourceGroup": "rg"} for s in subnets],
        "networkInterfaces": [{"id": f"{NET}/networkInterfaces/{n}"} for n in nics],
    }


def nic(name: str, address: str, subnet: str, asgs: tuple[str, ...] = ()) -> Doc:
    return {
        "name": name,
        "id": f"{NET}/networkInterfaces/{name}",
        "ipConfigurations": [
            {
                "name": "ipconfig1",
                "privateIPAddress": address,
                "subnet": {"id": subnet},
                "applicationSecurityGroups": [{"id": a} for a in asgs] or None,
            }
        ],
    }


def vnet(peers: tuple[str, ...] = ()) -> Doc:
    return {
        "name": "vnet1",
        "id": VNET,
        "addressSpace": {"addressPrefixes": ["198.19.1.0/24"]},
        "subnets": [
            {"name": "app", "id": SUBNET_A, "addressPrefix": "198.19.1.0/25"},
            {"name": "ps", "id": SUBNET_B, "addressPrefix": "198.19.1.128/25"},
        ],
        "virtualNetworkPeerings": [
            {
                "name": f"peer{i}",
                "peeringState": "Connected",
                "remoteAddressSpace": {"addressPrefixes": [p]},
            }
            for i, p in enumerate(peers)
        ],
    }


# the hosts of the tests: vm1 and vm2 in subnet app, ps1 in subnet ps
VM1, VM2, PS1 = "198.19.1.10", "198.19.1.11", "198.19.1.132"
CS = "198.18.3.10"  # on-premises, over the VPN


def default_nics() -> list[Doc]:
    return [
        nic("nic-vm1", VM1, SUBNET_A, (ASG_VMS,)),
        nic("nic-vm2", VM2, SUBNET_A, (ASG_VMS,)),
        nic("nic-ps1", PS1, SUBNET_B),
    ]


def export(
    nsgs: list[Doc],
    nics: list[Doc] | None = None,
    vnets: list[Doc] | None = None,
    with_nics: bool = True,
    with_vnets: bool = True,
) -> AzureExport:
    return build_export(
        parse_nsgs(nsgs, "nsgs.json"),
        parse_nics(nics if nics is not None else default_nics(), "nics.json")
        if with_nics
        else None,
        parse_vnets(vnets if vnets is not None else [vnet()], "vnets.json") if with_vnets else None,
    )


def scope(ex: AzureExport, extra: tuple[str, ...] = (ONPREM,)) -> TagScope:
    """VirtualNetwork = the VNets, their peers, and the on-premises ranges `extra`."""
    import ipaddress

    ranges = [n for v in ex.vnets or () for n in v.address_space]
    ranges += [n for v in ex.vnets or () for _p, nets in v.peered_spaces for n in nets]
    ranges += [ipaddress.ip_network(e) for e in extra]
    complete = ex.vnets is not None
    return TagScope(tuple(ranges), complete, "" if complete else "no VNet export")


def predict(
    ex: AzureExport, src: str, dst: str, port: int = 9443, proto: str = "tcp"
) -> CellPrediction:
    p = predict_flow(src, dst, proto, port, ex, scope(ex))
    assert p is not None, "neither end in Azure"
    return p
