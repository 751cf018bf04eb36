"""An Azure network export as typed, frozen values: NSGs and their rules, NICs, VNets and
their subnets, route tables. Built by `parse.py`; read by `evaluate.py` and `predict.py`.

Azure resource ids are case-insensitive, so every id kept here is lower-cased once, on
the way in (`parse.py`), and every lookup compares lower-cased ids.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = [
    "ANY_PORT",
    "Access",
    "AddressTerm",
    "AzureExport",
    "Direction",
    "IPAddress",
    "IPNetwork",
    "IpConfig",
    "Nic",
    "Nsg",
    "PortRange",
    "Route",
    "RouteTable",
    "SecurityRule",
    "Subnet",
    "Vnet",
    "id_name",
    "subnet_label",
]


class Direction(enum.Enum):
    INBOUND = "Inbound"
    OUTBOUND = "Outbound"

    @property
    def label(self) -> str:
        return self.value.lower()


class Access(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class PortRange:
    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not 0 <= self.lo <= self.hi <= 65535:
            raise ValueError(f"port range {self.lo}-{self.hi}")

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.lo <= port <= self.hi

    @property
    def is_any(self) -> bool:
        return self.lo == 0 and self.hi == 65535

    def __str__(self) -> str:
        if self.is_any:
            return "*"
        return str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"


ANY_PORT = PortRange(0, 65535)


@dataclass(frozen=True, slots=True)
class AddressTerm:
    """One entry of a rule's source or destination: `*`, a prefix, a service tag or an ASG.

    Exactly one of the fields is set (`any` counts as set when True).
    """

    any: bool = False
    prefix: IPNetwork | None = None
    tag: str | None = None  # canonical spelling, e.g. "VirtualNetwork"
    asg: str | None = None  # the application security group's id (lower-case)

    def __post_init__(self) -> None:
        if (
            sum((self.any, self.prefix is not None, self.tag is not None, self.asg is not None))
            != 1
        ):
            raise ValueError("an address term is exactly one of *, prefix, tag, asg")

    def __str__(self) -> str:
        if self.any:
            return "*"
        if self.prefix is not None:
            return str(self.prefix)
        if self.tag is not None:
            return self.tag
        return f"ASG {id_name(self.asg or '')}"


@dataclass(frozen=True, slots=True)
class SecurityRule:
    nsg: str  # the NSG's name
    name: str
    priority: int
    direction: Direction
    access: Access
    protocol: str  # lower-case: "tcp", "udp", "icmp", "esp", "ah", "*"
    sources: tuple[AddressTerm, ...]
    source_ports: tuple[PortRange, ...]
    destinations: tuple[AddressTerm, ...]
    destination_ports: tuple[PortRange, ...]
    default: bool = False  # one of Azure's default rules (65000/65001/65500)
    where: str = ""  # its JSON path in the export, for messages

    @property
    def source_text(self) -> str:
        return _terms_text(self.sources)

    @property
    def destination_text(self) -> str:
        return _terms_text(self.destinations)

    @property
    def ports_text(self) -> str:
        return ",".join(str(p) for p in self.destination_ports)


def _terms_text(terms: tuple[AddressTerm, ...]) -> str:
    return ",".join(str(t) for t in terms)


@dataclass(frozen=True, slots=True)
class Nsg:
    name: str
    id: str
    rules: tuple[SecurityRule, ...]  # custom and default, in priority order per direction
    subnet_ids: tuple[str, ...] = ()  # what the export says it is attached to
    nic_ids: tuple[str, ...] = ()
    defaults_assumed: bool = False  # no defaultSecurityRules in the export: Azure's documented ones
    where: str = ""

    def rules_for(self, direction: Direction) -> tuple[SecurityRule, ...]:
        return tuple(r for r in self.rules if r.direction is direction)


@dataclass(frozen=True, slots=True)
class IpConfig:
    name: str
    address: IPAddress | None
    subnet_id: str | None
    asg_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Nic:
    name: str
    id: str
    ip_configs: tuple[IpConfig, ...]
    nsg_id: str | None = None
    where: str = ""


@dataclass(frozen=True, slots=True)
class Subnet:
    name: str
    id: str
    vnet: str
    prefixes: tuple[IPNetwork, ...]
    nsg_id: str | None = None
    route_table_id: str | None = None


@dataclass(frozen=True, slots=True)
class Vnet:
    name: str
    id: str
    address_space: tuple[IPNetwork, ...]
    subnets: tuple[Subnet, ...]
    peered_spaces: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = ()  # (peering, prefixes)


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    prefix: IPNetwork | None  # None: a service-tag route netcheck can't resolve
    prefix_text: str
    next_hop_type: str  # VirtualNetworkGateway | VnetLocal | Internet | VirtualAppliance | None
    next_hop_ip: str | None = None


@dataclass(frozen=True, slots=True)
class RouteTable:
    name: str
    id: str
    routes: tuple[Route, ...]
    subnet_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AzureExport:
    """Everything read from the `az` JSON files. `None` for a file that was not given."""

    nsgs: tuple[Nsg, ...]
    nics: tuple[Nic, ...] | None = None
    vnets: tuple[Vnet, ...] | None = None
    route_tables: tuple[RouteTable, ...] | None = None
    files: tuple[str, ...] = ()  # where it was read from, for the report
    _subnet_nsg: dict[str, Nsg] = field(default_factory=dict, compare=False, repr=False)
    _nic_nsg: dict[str, Nsg] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_id = {n.id: n for n in self.nsgs}
        # the NSG's own attachment lists first; the subnet's / NIC's back-reference fills gaps
        for vnet in self.vnets or ():
            for s in vnet.subnets:
                if s.nsg_id in by_id:
                    self._subnet_nsg[s.id] = by_id[s.nsg_id]
        for nic in self.nics or ():
            if nic.nsg_id in by_id:
                self._nic_nsg[nic.id] = by_id[nic.nsg_id]
        for n in self.nsgs:
            self._subnet_nsg.update(dict.fromkeys(n.subnet_ids, n))
            self._nic_nsg.update(dict.fromkeys(n.nic_ids, n))

    def subnet_nsg(self, subnet_id: str) -> Nsg | None:
        return self._subnet_nsg.get(subnet_id)

    def nic_nsg(self, nic_id: str) -> Nsg | None:
        return self._nic_nsg.get(nic_id)

    @property
    def nsgs_on_nics(self) -> tuple[Nsg, ...]:
        """NSGs the export shows attached to some NIC."""
        ids = {n.id for n in self._nic_nsg.values()}
        return tuple(n for n in self.nsgs if n.id in ids)

    def subnet(self, subnet_id: str) -> Subnet | None:
        for vnet in self.vnets or ():
            for s in vnet.subnets:
                if s.id == subnet_id:
                    return s
        return None

    def route_table(self, subnet_id: str) -> RouteTable | None:
        s = self.subnet(subnet_id)
        for rt in self.route_tables or ():
            if subnet_id in rt.subnet_ids or (s is not None and s.route_table_id == rt.id):
                return rt
        return None


def id_name(resource_id: str) -> str:
    """The last segment of an Azure resource id (its name)."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def subnet_label(subnet_id: str) -> str:
    """`vnet/subnet` from a subnet's resource id."""
    parts = subnet_id.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-2].lower() == "subnets":
        return f"{parts[-3]}/{parts[-1]}"
    return parts[-1]
