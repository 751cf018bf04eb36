"""Sites and hosts from the JSON the Azure CLI prints; netcheck never calls Azure.

    az network vnet list -o json > vnets.json   # sites: VNets joined by peering, subnets
    az network nic list -o json  > nics.json    # each NIC's private address and subnet
    az vm list -d -o json        > vms.json     # hosts: name, tags, OS, NIC ids, admin user

VNets joined by peering are one routing domain, so they make one site (a hub and
its spokes); its networks are the subnets, named VNET.SUBNET. Resource ids are
compared case-insensitively: the CLI prints a resource group in the case it was
created with in one place and upper-cased in another.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from netcheck.inventory_import.jsondoc import J
from netcheck.inventory_import.model import (
    ROLE_NAMES,
    HostDraft,
    NetworkDraft,
    NicDraft,
    SiteDraft,
    Sourced,
)

__all__ = ["AzureImport", "import_azure"]

VNETS_CMD = "az network vnet list -o json"
NICS_CMD = "az network nic list -o json"
VMS_CMD = "az vm list -d -o json"


@dataclass(frozen=True, slots=True)
class AzureImport:
    sites: tuple[SiteDraft, ...]
    hosts: tuple[HostDraft, ...]


def _rid(text: str) -> str:
    return text.strip().rstrip("/").lower()


def _last(rid: str) -> str:
    return rid.rstrip("/").rsplit("/", 1)[-1]


def _prefixes(subnet: J) -> list[J]:
    """A subnet's prefixes: `addressPrefix`, or `addressPrefixes` (several, newer API)."""
    if subnet.has("addressPrefix"):
        return [subnet.key("addressPrefix")]
    if subnet.has("addressPrefixes"):
        return subnet.key("addressPrefixes").elements()
    subnet.fail("a subnet needs 'addressPrefix' or 'addressPrefixes'")


def _cidr(node: J) -> str:
    text = node.text()
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        node.fail(f"{text!r} is not a CIDR prefix")


class _Components:
    """Union-find over VNet ids: peered VNets end up in one component."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.parent = {i: i for i in ids}

    def find(self, i: str) -> str:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def _sites(doc: J, site_name: str) -> tuple[list[SiteDraft], dict[str, tuple[str, str]]]:
    """Sites from the VNets, and subnet id → (site, network name)."""
    vnets = doc.elements(f" of VNets (the output of {VNETS_CMD})")
    ids = [_rid(v.key("id").text()) for v in vnets]
    comp = _Components(ids)
    peer_count = dict.fromkeys(ids, 0)
    dangling: dict[str, list[str]] = {}
    for vid, v in zip(ids, vnets, strict=True):
        for peering in v.elements_of("virtualNetworkPeerings"):
            remote = _rid(peering.key("remoteVirtualNetwork").key("id").text())
            state = peering.mapping().get("peeringState")
            if state not in (None, "Connected"):  # Initiated, Disconnected: no route yet
                dangling.setdefault(vid, []).append(f"{_last(remote)} ({state})")
            elif remote in comp.parent:
                comp.join(vid, remote)
                peer_count[vid] += 1
            else:
                dangling.setdefault(vid, []).append(f"{_last(remote)} (not in the file)")
    groups: dict[str, list[int]] = {}
    for i, vid in enumerate(ids):
        groups.setdefault(comp.find(vid), []).append(i)
    sites: list[SiteDraft] = []
    subnet_site: dict[str, tuple[str, str]] = {}
    for members in groups.values():
        # the hub: the VNet with the most peerings in its component
        hub = max(members, key=lambda i: (peer_count[ids[i]], -i))
        name = site_name if len(groups) == 1 else f"{site_name}-{vnets[hub].key('name').text()}"
        nets: list[NetworkDraft] = []
        described = []
        for i in members:
            v = vnets[i]
            vname = v.key("name").text()
            role = " (hub)" if len(members) > 1 and i == hub else ""
            extra = f", peered with {', '.join(dangling[ids[i]])}" if ids[i] in dangling else ""
            described.append(f"{vname}{role}{extra}")
            for subnet in v.elements_of("subnets"):
                sname = subnet.key("name").text()
                net_name = f"{vname}.{sname}"
                for k, prefix in enumerate(_prefixes(subnet)):
                    nets.append(
                        NetworkDraft(
                            net_name if k == 0 else f"{net_name}.{k}", _cidr(prefix), prefix.where()
                        )
                    )
                subnet_site[_rid(subnet.key("id").text())] = (name, net_name)
        origin = f"VNets {', '.join(described)} ({doc.where().split()[0]})"
        if len(members) > 1:
            origin += "; peered VNets route to each other: one site"
        sites.append(SiteDraft(name, tuple(nets), origin))
    return sites, subnet_site


def _nic_index(doc: J) -> dict[str, J]:
    return {
        _rid(n.key("id").text()): n for n in doc.elements(f" of NICs (the output of {NICS_CMD})")
    }


def _primary_config(nic: J) -> J:
    configs = nic.key("ipConfigurations").elements()
    if not configs:
        nic.key("ipConfigurations").fail("a NIC needs at least one IP configuration")
    for c in configs:
        if c.mapping().get("primary") is True:
            return c
    return configs[0]


def _roles_from_tag(vm: J, tag: str) -> tuple[list[Sourced], list[str]]:
    tags = vm.opt("tags")
    if tags is None or tag not in tags.mapping():
        return [], []
    node = tags.key(tag)
    roles, todos = [], []
    for part in node.text().replace(";", ",").split(","):
        role = part.strip()
        if not role:
            continue
        if role in ROLE_NAMES:
            roles.append(Sourced(role, f"tag {tag}={node.value} ({node.where()})"))
        else:
            todos.append(
                f"tag {tag}={node.value!r} ({node.where()}): {role!r} is not a role; "
                f"roles: {', '.join(ROLE_NAMES)}"
            )
    return roles, todos


def _host(
    vm: J,
    nics: dict[str, J],
    nics_file: str,
    subnet_site: dict[str, tuple[str, str]],
    role_tag: str | None,
) -> HostDraft:
    name = vm.key("name").text()
    refs = vm.key("networkProfile").key("networkInterfaces").elements()
    if not refs:
        vm.key("networkProfile").key("networkInterfaces").fail("a VM needs at least one NIC")
    # the primary NIC first: it is the NIC that faces the VM's own site by default
    refs.sort(key=lambda r: r.mapping().get("primary") is not True)
    drafts: list[NicDraft] = []
    todos: list[str] = []
    notes: list[str] = []
    for ref in refs:
        rid_node = ref.key("id")
        nic = nics.get(_rid(rid_node.text()))
        if nic is None:
            rid_node.fail(
                f"the VM's NIC {_last(rid_node.text())!r} ({rid_node.text()}) is not in "
                f"{nics_file}; expected it among the NICs of `{NICS_CMD}` (export the NICs of "
                "every subscription and resource group the VMs use)"
            )
        config = _primary_config(nic)
        address = config.key("privateIPAddress")
        subnet_id = _rid(config.key("subnet").key("id").text())
        site = subnet_site.get(subnet_id)
        nic_name = nic.key("name").text()
        origin = address.where()
        if site is None:
            todos.append(
                f"NIC {nic_name} ({address.text()}): its subnet {_last(subnet_id)!r} is in no "
                "VNet of the VNet file, so its site is unknown; add that VNet to the export"
            )
        else:
            origin += f", subnet {site[1]}"
        drafts.append(NicDraft(nic_name, address.text(), origin, site[0] if site else None))
        for other in nic.key("ipConfigurations").elements():
            if other.value is not config.value and other.has("privateIPAddress"):
                notes.append(
                    f"NIC {nic_name} also has {other.key('privateIPAddress').text()} "
                    f"({other.where()}): not probed; netcheck probes one address per NIC"
                )
    os_node = vm.key("storageProfile").key("osDisk").key("osType")
    os_text = os_node.text().lower()
    if os_text not in ("linux", "windows"):
        os_node.fail(f"osType {os_node.value!r}; expected Linux or Windows")
    roles, role_todos = _roles_from_tag(vm, role_tag) if role_tag else ([], [])
    agent: list[tuple[str, Sourced]] = [("transport", Sourced("ssh", "the agent runs over SSH"))]
    profile = vm.opt("osProfile")
    if profile is not None and profile.has("adminUsername"):
        user = profile.key("adminUsername")
        agent.append(("user", Sourced(user.text(), user.where())))
    if os_text == "windows":
        notes.append(
            "Windows: set agent.python to the interpreter's path (e.g. C:\\Python311\\python.exe) "
            "and enable the OpenSSH server"
        )
    power = vm.mapping().get("powerState")
    if isinstance(power, str) and power != "VM running":
        notes.append(f"powerState at export: {power!r} (an agent needs it running)")
    primary_site = drafts[0].site
    for d in drafts[1:]:
        if d.site is not None and primary_site is not None and d.site != primary_site:
            todos.append(
                f"NIC {d.name} is in site {d.site}, the primary NIC in {primary_site}: "
                "a host's NICs must be in its own site's networks"
            )
    rg = vm.mapping().get("resourceGroup")
    return HostDraft(
        name=name,
        origin=f"{VMS_CMD}: {vm.where()}" + (f" (resource group {rg})" if rg else ""),
        nics=tuple(drafts),
        site=Sourced(primary_site, f"the VNet of its NIC {drafts[0].name}")
        if primary_site
        else None,
        roles=tuple(roles),
        os=Sourced(os_text, f"{os_node.where()} = {os_node.value}"),
        agent=tuple(agent),
        notes=tuple(notes),
        todos=tuple(todos + role_todos),
        # resource group names are case-insensitive, and the CLI upper-cases them here
        groups=tuple(dict.fromkeys((rg, rg.lower()))) if isinstance(rg, str) else (),
    )


def import_azure(
    vms: J,
    nics: J,
    vnets: J,
    *,
    site_name: str = "azure",
    role_tag: str | None = None,
) -> AzureImport:
    """Sites from the VNets, hosts from the VMs (roles from `role_tag` only; the `--role`
    patterns are applied with the other sources' hosts, `group:` matching resource groups)."""
    sites, subnet_site = _sites(vnets, site_name)
    index = _nic_index(nics)
    hosts = [
        _host(vm, index, nics.file, subnet_site, role_tag)
        for vm in vms.elements(f" of VMs (the output of {VMS_CMD})")
    ]
    return AzureImport(tuple(sites), tuple(hosts))
