"""The lab as values: namespaces, veth links, routes and switchable faults.

A `Lab` is what a lab file means once validated; it carries no handles to the
kernel. The builder turns it into namespaces, and nothing here runs a command.

Every address a lab may use lies in 198.18.0.0/15 (RFC 2544's benchmarking
range). The check sits in `Lab.__post_init__` as well as in the loader, so a
lab built in code cannot route or address anything the machine might reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Literal

__all__ = [
    "DEFAULT_ROUTE",
    "FAULT_ACTIONS",
    "IFNAMSIZ",
    "LAB_RANGE",
    "NFT_ACTIONS",
    "ROUTE_ACTIONS",
    "Fault",
    "FaultAction",
    "Lab",
    "Link",
    "LinkEnd",
    "Match",
    "Namespace",
    "NsKind",
    "Proto",
    "Route",
    "Shaping",
    "in_lab_range",
]

LAB_RANGE = IPv4Network("198.18.0.0/15")
DEFAULT_ROUTE = IPv4Network("0.0.0.0/0")
# Linux interface names hold at most 15 characters (IFNAMSIZ 16 with the NUL).
IFNAMSIZ = 15

NsKind = Literal["host", "router", "switch"]
Proto = Literal["tcp", "udp", "icmp"]
FaultAction = Literal[
    "drop", "reject_tcp_reset", "reject_admin_prohibited", "reroute", "add_route", "address"
]
FAULT_ACTIONS: tuple[FaultAction, ...] = (
    "drop",
    "reject_tcp_reset",
    "reject_admin_prohibited",
    "reroute",
    "add_route",  # routes that exist only while the fault is on (removed when off)
    "address",  # an extra address on an interface (a duplicate IP, an overlapping subnet)
)
NFT_ACTIONS: frozenset[str] = frozenset(FAULT_ACTIONS) - {"reroute", "add_route", "address"}
ROUTE_ACTIONS: frozenset[str] = frozenset({"reroute", "add_route"})

NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
DEV_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
# nft identifiers allow no '-', and fault names become nft table names.
FAULT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def in_lab_range(net: IPv4Network | IPv4Address | IPv4Interface) -> bool:
    """True when every address of `net` lies in 198.18.0.0/15."""
    if isinstance(net, IPv4Address):
        return net in LAB_RANGE
    if isinstance(net, IPv4Interface):
        return net.ip in LAB_RANGE
    return net.subnet_of(LAB_RANGE)


@dataclass(frozen=True, slots=True)
class Shaping:
    """A `tc tbf` on one end's egress: the rate a VPN gateway would allow."""

    rate_bit: int
    burst_bytes: int
    latency_ms: int

    def __post_init__(self) -> None:
        if self.rate_bit <= 0 or self.burst_bytes <= 0 or self.latency_ms <= 0:
            raise ValueError(f"shaping values must be positive: {self}")


@dataclass(frozen=True, slots=True)
class LinkEnd:
    """One side of a veth pair: the interface `dev` inside namespace `ns`."""

    ns: str
    dev: str
    address: IPv4Interface | None = None
    shape: Shaping | None = None

    def __post_init__(self) -> None:
        if not (DEV_RE.match(self.dev) and len(self.dev) <= IFNAMSIZ):
            raise ValueError(f"bad interface name {self.dev!r}")


@dataclass(frozen=True, slots=True)
class Link:
    name: str
    a: LinkEnd
    b: LinkEnd
    mtu: int = 1500

    @property
    def ends(self) -> tuple[LinkEnd, LinkEnd]:
        return (self.a, self.b)


@dataclass(frozen=True, slots=True)
class Route:
    """`to` via the next hop `via`; `to` 0.0.0.0/0 is the default route."""

    to: IPv4Network
    via: IPv4Address
    dev: str | None = None

    @property
    def is_default(self) -> bool:
        return self.to == DEFAULT_ROUTE

    def ip_args(self) -> list[str]:
        """The words after `ip route replace`."""
        args = ["default" if self.is_default else str(self.to), "via", str(self.via)]
        if self.dev is not None:
            args += ["dev", self.dev]
        return args


@dataclass(frozen=True, slots=True)
class Namespace:
    """A network namespace: a host (may run sshd), a router, or a switch.

    A switch holds one Linux bridge, `br0`, to which every link end in it is
    attached; it has no addresses and no routes.
    """

    name: str
    kind: NsKind
    sshd: bool = False
    sysctls: tuple[tuple[str, str], ...] = ()
    routes: tuple[Route, ...] = ()

    def effective_sysctls(self) -> tuple[tuple[str, str], ...]:
        """Declared sysctls, with ip_forward=1 first on routers unless declared."""
        declared = dict(self.sysctls)
        if self.kind == "router" and "net.ipv4.ip_forward" not in declared:
            return (("net.ipv4.ip_forward", "1"), *self.sysctls)
        return self.sysctls


@dataclass(frozen=True, slots=True)
class Match:
    """Which packets an nft fault catches; an unset field matches anything."""

    src: IPv4Network | None = None
    dst: IPv4Network | None = None
    proto: Proto | None = None
    ports: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Fault:
    """A named deviation from the healthy lab, switched on and off at will.

    nft actions put one rule in each namespace of `at` (the forward hook on a
    router, the input hook on a host); `reroute` replaces routes, and
    switching it off puts back the namespace's own route for the same prefix.
    """

    name: str
    action: FaultAction
    description: str = ""
    at: tuple[str, ...] = ()
    match: Match = field(default_factory=Match)
    routes: tuple[tuple[str, Route], ...] = ()
    addresses: tuple[tuple[str, str, IPv4Interface], ...] = ()  # (namespace, dev, address)


@dataclass(frozen=True, slots=True)
class Lab:
    name: str
    prefix: str
    namespaces: tuple[Namespace, ...]
    links: tuple[Link, ...]
    faults: tuple[Fault, ...] = ()
    source: str = "<code>"

    def __post_init__(self) -> None:
        extra = tuple(a for f in self.faults for _, _, a in f.addresses)
        for addr in (*self.all_addresses(), *extra):
            if not in_lab_range(addr):
                raise ValueError(f"lab address {addr} is outside {LAB_RANGE}")
        for ns, route in self.all_routes():
            if not route.is_default and not in_lab_range(route.to):
                raise ValueError(f"{ns}: route to {route.to} is outside {LAB_RANGE}")
            if not in_lab_range(route.via):
                raise ValueError(f"{ns}: next hop {route.via} is outside {LAB_RANGE}")

    # --- lookups ----------------------------------------------------------
    def netns(self, name: str) -> str:
        """The kernel's name for lab namespace `name` (prefix included)."""
        return self.prefix + name

    def namespace(self, name: str) -> Namespace:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        raise KeyError(name)

    def fault(self, name: str) -> Fault:
        for f in self.faults:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def hosts(self) -> tuple[Namespace, ...]:
        return tuple(ns for ns in self.namespaces if ns.kind == "host")

    def ends_in(self, ns: str) -> tuple[LinkEnd, ...]:
        return tuple(end for link in self.links for end in link.ends if end.ns == ns)

    def addresses(self, ns: str) -> tuple[IPv4Interface, ...]:
        """The addresses of `ns` in link order (the first is its primary NIC)."""
        return tuple(end.address for end in self.ends_in(ns) if end.address is not None)

    def all_addresses(self) -> tuple[IPv4Interface, ...]:
        return tuple(
            end.address for link in self.links for end in link.ends if end.address is not None
        )

    def all_routes(self) -> tuple[tuple[str, Route], ...]:
        base = tuple((ns.name, r) for ns in self.namespaces for r in ns.routes)
        return base + tuple(pair for f in self.faults for pair in f.routes)
