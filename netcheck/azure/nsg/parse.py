"""`az network nsg|nic|vnet|route-table list -o json` → the values of `model.py`.

The `az` CLI prints each resource with its `properties` flattened into the object
(`securityRules`, `ipConfigurations`, ...); ARM templates and the REST API nest them under
`properties`. Both shapes are read: an object's `properties`, when present, is merged
under its top-level keys. Every error names the file and the JSON path of the value
(`nsgs.json: $[1].securityRules[0].destinationPortRange: ...`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar

from netcheck.azure.nsg.model import (
    ANY_PORT,
    Access,
    AddressTerm,
    AzureExport,
    Direction,
    IpConfig,
    IPNetwork,
    Nic,
    Nsg,
    PortRange,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Vnet,
    subnet_label,
)
from netcheck.errors import ConfigError, Location

__all__ = [
    "AzureExportError",
    "build_export",
    "default_rules",
    "parse_address",
    "parse_nics",
    "parse_nsgs",
    "parse_port_range",
    "parse_route_tables",
    "parse_vnets",
]

T = TypeVar("T")

# the service tags whose spelling netcheck normalises; any other tag is kept as written
KNOWN_TAGS = {
    t.lower(): t for t in ("VirtualNetwork", "Internet", "AzureLoadBalancer", "AzureCloud")
}
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)?$")
_PROTOCOLS = {"tcp", "udp", "icmp", "esp", "ah", "*"}


class AzureExportError(ConfigError):
    """An `az ... -o json` export netcheck can't use: names the file and the JSON path."""

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file = file
        self.path = path
        super().__init__(message, location=Location(file), field=path)


class _Node:
    """A JSON value with its file and path, like `yamlsource.Node` for YAML."""

    __slots__ = ("file", "path", "value")

    def __init__(self, value: Any, file: str, path: str = "$") -> None:
        self.value = value
        self.file = file
        self.path = path

    def fail(self, message: str) -> NoReturn:
        raise AzureExportError(self.file, self.path, message)

    def obj(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            self.fail(f"expected a JSON object, found {_kind(self.value)}")
        merged = dict(self.value)
        props = merged.pop("properties", None)
        if isinstance(props, dict):
            for k, v in props.items():
                merged.setdefault(k, v)
        return merged

    def get(self, key: str) -> _Node | None:
        value = self.obj().get(key)
        return None if value is None else _Node(value, self.file, f"{self.path}.{key}")

    def need(self, key: str) -> _Node:
        child = self.get(key)
        if child is None:
            self.fail(f"missing {key!r}")
        return child

    def items(self) -> list[_Node]:
        if not isinstance(self.value, list):
            self.fail(f"expected a JSON array, found {_kind(self.value)}")
        return [_Node(v, self.file, f"{self.path}[{i}]") for i, v in enumerate(self.value)]

    def text(self) -> str:
        if not isinstance(self.value, str):
            self.fail(f"expected a string, found {_kind(self.value)}")
        return self.value

    def ref_id(self) -> str:
        """A `{"id": ...}` reference, lower-cased (Azure ids are case-insensitive)."""
        return self.need("id").text().lower()


def _kind(v: object) -> str:
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "an array"
    return f"{type(v).__name__} {v!r}"


def _text_or(node: _Node, key: str, default: str) -> str:
    child = node.get(key)
    return default if child is None else child.text()


def _list_or_one(doc: _Node) -> list[_Node]:
    """`az ... list` gives an array; `az ... show` one object: accept both."""
    return doc.items() if isinstance(doc.value, list) else [doc]


def _opt_list(node: _Node, key: str) -> list[_Node]:
    child = node.get(key)
    return [] if child is None else child.items()


# --- NSGs ------------------------------------------------------------------------


def parse_nsgs(doc: Any, file: str) -> tuple[Nsg, ...]:
    root = _Node(doc, file)
    items = _list_or_one(root)
    out = []
    for item in items:
        if not isinstance(item.value, dict):
            item.fail(
                f"not a network security group (found {_kind(item.value)}); give the output "
                "of `az network nsg list -o json`"
            )
        o = item.obj()
        if "securityRules" not in o and "defaultSecurityRules" not in o:
            what = o.get("type") or ("an object with " + ", ".join(sorted(o)[:6]) if o else "{}")
            item.fail(
                f"not a network security group (found {what}); give the output of "
                "`az network nsg list -o json`"
            )
        out.append(_nsg(item))
    names: dict[str, str] = {}
    for nsg in out:
        if nsg.id in names:
            raise AzureExportError(file, nsg.where, f"NSG {nsg.name!r} appears twice")
        names[nsg.id] = nsg.where
    return tuple(out)


def _nsg(node: _Node) -> Nsg:
    name = node.need("name").text()
    nsg_id = _text_or(node, "id", f"nsg/{name}").lower()
    custom = [_rule(r, name, default=False) for r in _opt_list(node, "securityRules")]
    given_defaults = _opt_list(node, "defaultSecurityRules")
    defaults = [_rule(r, name, default=True) for r in given_defaults] or list(default_rules(name))
    seen: dict[tuple[Direction, int], SecurityRule] = {}
    for r in custom:
        other = seen.get((r.direction, r.priority))
        if other is not None:
            raise AzureExportError(
                node.file,
                r.where,
                f"rules {other.name!r} and {r.name!r} of NSG {name!r} share priority "
                f"{r.priority} ({r.direction.label}); Azure does not allow that",
            )
        seen[(r.direction, r.priority)] = r
    rules = sorted(custom + defaults, key=lambda r: (r.direction.value, r.priority))
    return Nsg(
        name=name,
        id=nsg_id,
        rules=tuple(rules),
        subnet_ids=tuple(s.ref_id() for s in _opt_list(node, "subnets")),
        nic_ids=tuple(n.ref_id() for n in _opt_list(node, "networkInterfaces")),
        defaults_assumed=not given_defaults,
        where=node.path,
    )


def _enum(node: _Node, choices: Iterable[T], label: Callable[[T], str]) -> T:
    text = node.text()
    for c in choices:
        if label(c).lower() == text.lower():
            return c
    node.fail(f"{text!r} is not one of {', '.join(label(c) for c in choices)}")


def _rule(node: _Node, nsg: str, *, default: bool) -> SecurityRule:
    name = node.need("name").text()
    prio_node = node.need("priority")
    prio = prio_node.value
    if isinstance(prio, bool) or not isinstance(prio, int):
        prio_node.fail(f"expected an integer priority, found {_kind(prio)}")
    lo, hi = (65000, 65500) if default else (100, 4096)
    if not lo <= prio <= hi:
        prio_node.fail(f"priority {prio} of rule {name!r} is outside {lo}..{hi}")
    protocol = node.need("protocol").text().lower()
    if protocol not in _PROTOCOLS:
        node.need("protocol").fail(f"unknown protocol {protocol!r}; expected Tcp, Udp, Icmp or *")
    return SecurityRule(
        nsg=nsg,
        name=name,
        priority=prio,
        direction=_enum(node.need("direction"), list(Direction), lambda d: d.value),
        access=_enum(node.need("access"), list(Access), lambda a: a.value),
        protocol=protocol,
        sources=_addresses(node, "source"),
        source_ports=_ports(node, "sourcePortRange"),
        destinations=_addresses(node, "destination"),
        destination_ports=_ports(node, "destinationPortRange"),
        default=default,
        where=node.path,
    )


def _ports(node: _Node, key: str) -> tuple[PortRange, ...]:
    """`destinationPortRange` ("*", "443", "100-200") and/or `destinationPortRanges` (a list)."""
    out = []
    one = node.get(key)
    if one is not None and one.value != "":
        out.append(parse_port_range(one))
    for item in _opt_list(node, key + "s"):
        out.append(parse_port_range(item))
    if not out:
        if key == "sourcePortRange":
            return (ANY_PORT,)  # some ARM templates leave it out; Azure's default is *
        node.fail(f"rule has neither {key!r} nor {key + 's'!r}")
    return tuple(out)


def parse_port_range(node: _Node) -> PortRange:
    value = node.value
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        node.fail(f"expected a port range string, found {_kind(value)}")
    text = value.strip()
    if text in ("*", "Any", "any"):
        return ANY_PORT
    lo_text, sep, hi_text = text.partition("-")
    if not lo_text.strip().isdigit() or (sep and not hi_text.strip().isdigit()):
        node.fail(f"malformed port range {value!r}; expected *, a port (443) or a range (100-200)")
    lo = int(lo_text)
    hi = int(hi_text) if sep else lo
    if not 0 <= lo <= hi <= 65535:
        node.fail(f"port range {value!r} is outside 0-65535 or reversed")
    return PortRange(lo, hi)


def _addresses(node: _Node, side: str) -> tuple[AddressTerm, ...]:
    out: list[AddressTerm] = []
    one = node.get(f"{side}AddressPrefix")
    if one is not None and one.value != "":
        out.append(parse_address(one))
    out += [parse_address(n) for n in _opt_list(node, f"{side}AddressPrefixes")]
    out += [
        AddressTerm(asg=n.ref_id()) for n in _opt_list(node, f"{side}ApplicationSecurityGroups")
    ]
    if not out:
        node.fail(
            f"rule has no {side}: neither {side}AddressPrefix(es) nor "
            f"{side}ApplicationSecurityGroups"
        )
    return tuple(out)


def parse_address(node: _Node) -> AddressTerm:
    text = node.text().strip()
    if text in ("*", "Any", "any", "0.0.0.0/0"):
        return AddressTerm(any=True)
    try:
        return AddressTerm(prefix=ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    if _TAG.match(text):
        return AddressTerm(tag=KNOWN_TAGS.get(text.lower(), text))
    node.fail(f"{text!r} is neither an address prefix, *, nor a service tag")


def default_rules(nsg: str) -> tuple[SecurityRule, ...]:
    """Azure's documented default rules, for an export that leaves them out."""
    vnet = (AddressTerm(tag="VirtualNetwork"),)
    anyw = (AddressTerm(any=True),)
    allp = (ANY_PORT,)

    def r(name: str, prio: int, d: Direction, a: Access, src: Any, dst: Any) -> SecurityRule:
        return SecurityRule(nsg, name, prio, d, a, "*", src, allp, dst, allp, default=True)

    inb, outb = Direction.INBOUND, Direction.OUTBOUND
    return (
        r("AllowVnetInBound", 65000, inb, Access.ALLOW, vnet, vnet),
        r(
            "AllowAzureLoadBalancerInBound",
            65001,
            inb,
            Access.ALLOW,
            (AddressTerm(tag="AzureLoadBalancer"),),
            anyw,
        ),
        r("DenyAllInBound", 65500, inb, Access.DENY, anyw, anyw),
        r("AllowVnetOutBound", 65000, outb, Access.ALLOW, vnet, vnet),
        r("AllowInternetOutBound", 65001, outb, Access.ALLOW, anyw, (AddressTerm(tag="Internet"),)),
        r("DenyAllOutBound", 65500, outb, Access.DENY, anyw, anyw),
    )


# --- NICs, VNets, route tables ------------------------------------------------------------


def _ip(node: _Node | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if node is None:
        return None
    try:
        return ipaddress.ip_address(node.text())
    except ValueError:
        node.fail(f"{node.value!r} is not an IP address")


def _net(node: _Node) -> IPNetwork:
    try:
        return ipaddress.ip_network(node.text(), strict=False)
    except ValueError:
        node.fail(f"{node.value!r} is not an address prefix")


def _ref(node: _Node, key: str) -> str | None:
    child = node.get(key)
    return None if child is None else child.ref_id()


def _need_kind(doc: _Node, key: str, command: str) -> list[_Node]:
    items = _list_or_one(doc)
    for item in items:
        if key not in item.obj():
            item.fail(f"no {key!r}: not the output of `{command} -o json`")
    return items


def parse_nics(doc: Any, file: str) -> tuple[Nic, ...]:
    out = []
    for item in _need_kind(_Node(doc, file), "ipConfigurations", "az network nic list"):
        configs = tuple(
            IpConfig(
                name=_text_or(c, "name", f"ipconfig{i + 1}"),
                address=_ip(c.get("privateIPAddress") or c.get("privateIpAddress")),
                subnet_id=_ref(c, "subnet"),
                asg_ids=tuple(a.ref_id() for a in _opt_list(c, "applicationSecurityGroups")),
            )
            for i, c in enumerate(item.need("ipConfigurations").items())
        )
        name = item.need("name").text()
        out.append(
            Nic(
                name=name,
                id=_text_or(item, "id", f"nic/{name}").lower(),
                ip_configs=configs,
                nsg_id=_ref(item, "networkSecurityGroup"),
                where=item.path,
            )
        )
    return tuple(out)


def parse_vnets(doc: Any, file: str) -> tuple[Vnet, ...]:
    out = []
    for item in _need_kind(_Node(doc, file), "addressSpace", "az network vnet list"):
        name = item.need("name").text()
        vnet_id = _text_or(item, "id", f"vnet/{name}").lower()
        space = tuple(_net(p) for p in item.need("addressSpace").need("addressPrefixes").items())
        subnets = []
        for s in _opt_list(item, "subnets"):
            s_name = s.need("name").text()
            prefixes = [_net(p) for p in _opt_list(s, "addressPrefixes")]
            if s.get("addressPrefix") is not None:
                prefixes.insert(0, _net(s.need("addressPrefix")))
            subnets.append(
                Subnet(
                    name=s_name,
                    id=_text_or(s, "id", f"{vnet_id}/subnets/{s_name}").lower(),
                    vnet=name,
                    prefixes=tuple(prefixes),
                    nsg_id=_ref(s, "networkSecurityGroup"),
                    route_table_id=_ref(s, "routeTable"),
                )
            )
        peers = []
        for p in _opt_list(item, "virtualNetworkPeerings"):
            state = p.get("peeringState")
            if state is not None and state.text().lower() not in ("connected",):
                continue  # an initiated or disconnected peering carries no traffic
            space_node = p.get("remoteAddressSpace") or p.get("remoteVirtualNetworkAddressSpace")
            if space_node is None:
                continue
            nets = tuple(_net(x) for x in _opt_list(space_node, "addressPrefixes"))
            peers.append((p.need("name").text(), nets))
        out.append(Vnet(name, vnet_id, space, tuple(subnets), tuple(peers)))
    return tuple(out)


_NEXT_HOPS = ("VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None")


def parse_route_tables(doc: Any, file: str) -> tuple[RouteTable, ...]:
    out = []
    for item in _need_kind(_Node(doc, file), "routes", "az network route-table list"):
        routes = []
        for r in item.need("routes").items():
            prefix_node = r.need("addressPrefix")
            text = prefix_node.text()
            try:
                prefix: IPNetwork | None = ipaddress.ip_network(text, strict=False)
            except ValueError:
                prefix = None  # a service-tag route
            hop = _enum(r.need("nextHopType"), _NEXT_HOPS, lambda h: h)
            ip = r.get("nextHopIpAddress")
            routes.append(
                Route(r.need("name").text(), prefix, text, hop, ip.text() if ip else None)
            )
        name = item.need("name").text()
        out.append(
            RouteTable(
                name=name,
                id=_text_or(item, "id", f"routetable/{name}").lower(),
                routes=tuple(routes),
                subnet_ids=tuple(s.ref_id() for s in _opt_list(item, "subnets")),
            )
        )
    return tuple(out)


# --- the whole export --------------------------------------------------------------


def build_export(
    nsgs: tuple[Nsg, ...],
    nics: tuple[Nic, ...] | None = None,
    vnets: tuple[Vnet, ...] | None = None,
    route_tables: tuple[RouteTable, ...] | None = None,
    files: dict[str, str] | None = None,
) -> AzureExport:
    """Cross-check the references between the files, then one `AzureExport`.

    `files` names the file of each part ("nsgs", "nics", "vnets", "route_tables") for
    the messages. With the VNet export given, every subnet an NSG, a NIC or a route table
    names must be one of its subnets: a reference to an unknown subnet means the files
    come from different subscriptions or different times, and a prediction from them
    would be wrong without saying so.
    """
    files = files or {}
    if vnets is not None:
        known = {s.id for v in vnets for s in v.subnets}
        vnet_file = files.get("vnets", "the VNet export")

        def check(subnet_id: str | None, file: str, where: str, who: str) -> None:
            if subnet_id is not None and subnet_id not in known:
                raise AzureExportError(
                    file,
                    where,
                    f"{who} references subnet {subnet_label(subnet_id)!r}, which is not in "
                    f"{vnet_file}; export the NSGs, NICs and VNets from the same subscription "
                    "at the same time",
                )

        for nsg in nsgs:
            for i, sid in enumerate(nsg.subnet_ids):
                check(
                    sid,
                    files.get("nsgs", "NSG export"),
                    f"{nsg.where}.subnets[{i}].id",
                    f"NSG {nsg.name!r}",
                )
        for nic in nics or ():
            for j, cfg in enumerate(nic.ip_configs):
                check(
                    cfg.subnet_id,
                    files.get("nics", "NIC export"),
                    f"{nic.where}.ipConfigurations[{j}].subnet.id",
                    f"NIC {nic.name!r}",
                )
        for rt in route_tables or ():
            for sid in rt.subnet_ids:
                check(
                    sid,
                    files.get("route_tables", "route-table export"),
                    rt.name,
                    f"route table {rt.name!r}",
                )
    return AzureExport(
        nsgs=nsgs,
        nics=nics,
        vnets=vnets,
        route_tables=route_tables,
        files=tuple(files.values()),
    )
