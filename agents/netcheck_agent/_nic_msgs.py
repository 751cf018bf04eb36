"""NIC messages of protocol v1 (re-exported by :mod:`netcheck_agent.protocol`).

The dual-NIC configuration server checks ask an agent for:

- :class:`NicFactsRequest` → :class:`NicFacts`: the host's interfaces (addresses
  with prefix, MTU, default-route flag, reverse-path filter) and, for each
  destination, the source address and interface the OS would pick (a UDP
  ``connect`` + ``getsockname``: a routing decision, no packet sent).
- :class:`ArpCheckRequest` → :class:`ArpCheck`: an ARP probe on each NIC's segment
  for another machine answering for the NIC's address (raw sockets, Linux).
- :class:`CaptureStart` → :class:`CaptureReady`, then :class:`CaptureStop` →
  :class:`CaptureResult`: the TCP handshake packets to and from given peers, per
  interface, while other agents probe (to see replies arriving on the other NIC).

A check that can't run on the host answers with status ``not_run`` and says why
in ``detail``; nothing is reported as measured that was not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Optional, Tuple

from . import _fields as f
from ._fields import ProtocolError

MAX_DESTINATIONS = 4096
MAX_CAPTURE_SECONDS = 3600
MAX_CAPTURE_PACKETS = 100_000

ARP_STATUSES = frozenset({"clear", "duplicate", "not_run", "error"})
CAPTURE_STATUSES = frozenset({"capturing", "captured", "not_run", "error"})


def _want_strs(field: str, value: Any, max_items: int, ip: bool = False) -> None:
    if not isinstance(value, tuple):
        raise ProtocolError("must be a list of strings", field)
    if len(value) > max_items:
        raise ProtocolError(f"must hold at most {max_items} items, got {len(value)}", field)
    for i, item in enumerate(value):
        if ip:
            f.want_ip(f"{field}[{i}]", item)
        else:
            f.want_str(f"{field}[{i}]", item, max_len=256)


def _strs(d: Dict[str, Any], field: str, default: Any = ...) -> Tuple[str, ...]:
    raw = f.get(d, field, default)
    if not isinstance(raw, list):
        raise ProtocolError(f"must be a list, got {type(raw).__name__}", field)
    return tuple(raw)


def _objs(d: Dict[str, Any], field: str, cls: Any) -> Tuple[Any, ...]:
    return tuple(f.nested(field, i, x, cls.from_dict) for i, x in enumerate(f.get_list(d, field)))


def _opt_bool(field: str, value: Any) -> None:
    if value is not None:
        f.want_bool(field, value)


# --- interfaces and route choice ---------------------------------------------------


@dataclass(frozen=True)
class NicFactsRequest:
    """Ask for the host's interfaces and, per destination, the OS's route choice."""

    TYPE: ClassVar[str] = "nic_facts_request"
    id: str
    destinations: Tuple[str, ...] = ()  # IP literals

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        _want_strs("destinations", self.destinations, MAX_DESTINATIONS, ip=True)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, "destinations": list(self.destinations)}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> NicFactsRequest:
        return cls(f.get(d, "id"), _strs(d, "destinations", []))


@dataclass(frozen=True)
class InterfaceFacts:
    """One interface as the host sees it; ``None`` means the agent could not tell."""

    name: str
    index: Optional[int] = None
    addresses: Tuple[str, ...] = ()  # "198.18.2.10/24", "fe80::1/64"
    mtu: Optional[int] = None
    up: Optional[bool] = None
    default_route: Optional[bool] = None  # a default route leaves through it
    rp_filter: Optional[int] = None  # Linux conf/<if>/rp_filter: 0 off, 1 strict, 2 loose
    kind: str = ""  # "ether", "loopback", "other" ("" when unknown)
    mac: Optional[str] = None

    def __post_init__(self) -> None:
        f.want_str("name", self.name, max_len=256)
        f.want_opt_int("index", self.index, 0, 2**31)
        _want_strs("addresses", self.addresses, 1024)
        f.want_opt_int("mtu", self.mtu, 0, 2**31)
        _opt_bool("up", self.up)
        _opt_bool("default_route", self.default_route)
        f.want_opt_int("rp_filter", self.rp_filter, 0, 2)
        f.want_str("kind", self.kind, empty_ok=True, max_len=32)
        f.want_opt_str("mac", self.mac, max_len=64)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "addresses": list(self.addresses),
            "mtu": self.mtu,
            "up": self.up,
            "default_route": self.default_route,
            "rp_filter": self.rp_filter,
            "kind": self.kind,
            "mac": self.mac,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> InterfaceFacts:
        g = d.get
        return cls(
            f.get(d, "name"),
            g("index"),
            _strs(d, "addresses", []),
            g("mtu"),
            g("up"),
            g("default_route"),
            g("rp_filter"),
            g("kind", ""),
            g("mac"),
        )


@dataclass(frozen=True)
class RouteChoice:
    """What the OS picks to reach ``dst``: source address and interface (None: no route)."""

    dst: str
    src: Optional[str]
    iface: Optional[str]
    method: str  # "udp_connect" (+ "GetBestInterface" on Windows)
    detail: str = ""

    def __post_init__(self) -> None:
        f.want_ip("dst", self.dst)
        if self.src is not None:
            f.want_ip("src", self.src)
        f.want_opt_str("iface", self.iface, max_len=256)
        f.want_str("method", self.method, max_len=64)
        f.want_str("detail", self.detail, empty_ok=True)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "dst": self.dst,
            "src": self.src,
            "iface": self.iface,
            "method": self.method,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> RouteChoice:
        return cls(
            f.get(d, "dst"), d.get("src"), d.get("iface"), f.get(d, "method"), d.get("detail", "")
        )


@dataclass(frozen=True)
class NicFacts:
    """The reply to :class:`NicFactsRequest` (same ``id``)."""

    TYPE: ClassVar[str] = "nic_facts"
    id: str
    os_family: str
    interfaces: Tuple[InterfaceFacts, ...] = ()
    routes: Tuple[RouteChoice, ...] = ()
    rp_filter_all: Optional[int] = None  # Linux conf/all/rp_filter (the kernel uses the max)
    detail: str = ""  # what could not be read, and why

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_str("os_family", self.os_family, max_len=64)
        f.want_tuple_of("interfaces", self.interfaces, InterfaceFacts)
        f.want_tuple_of("routes", self.routes, RouteChoice)
        f.want_opt_int("rp_filter_all", self.rp_filter_all, 0, 2)
        f.want_str("detail", self.detail, empty_ok=True)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "os_family": self.os_family,
            "interfaces": [i.to_dict() for i in self.interfaces],
            "routes": [r.to_dict() for r in self.routes],
            "rp_filter_all": self.rp_filter_all,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> NicFacts:
        return cls(
            f.get(d, "id"),
            f.get(d, "os_family"),
            _objs(d, "interfaces", InterfaceFacts),
            _objs(d, "routes", RouteChoice),
            d.get("rp_filter_all"),
            d.get("detail", ""),
        )


# --- duplicate address (ARP) --------------------------------------------------------


@dataclass(frozen=True)
class ArpTarget:
    """Probe ``address`` on the interface holding it (``iface`` None: find it)."""

    address: str
    iface: Optional[str] = None

    def __post_init__(self) -> None:
        f.want_ip("address", self.address)
        f.want_opt_str("iface", self.iface, max_len=256)

    def to_dict(self) -> Dict[str, Any]:
        return {"address": self.address, "iface": self.iface}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ArpTarget:
        return cls(f.get(d, "address"), d.get("iface"))


@dataclass(frozen=True)
class ArpCheckRequest:
    TYPE: ClassVar[str] = "arp_check_request"
    id: str
    targets: Tuple[ArpTarget, ...]
    timeout_ms: int = 1500
    probes: int = 2  # ARP probes per target, 200 ms apart (RFC 5227 sends 3)

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_tuple_of("targets", self.targets, ArpTarget)
        if len(self.targets) > 64:
            raise ProtocolError("must hold at most 64 targets", "targets")
        f.want_int("timeout_ms", self.timeout_ms, 100, 10_000)
        f.want_int("probes", self.probes, 1, 5)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "targets": [t.to_dict() for t in self.targets],
            "timeout_ms": self.timeout_ms,
            "probes": self.probes,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ArpCheckRequest:
        return cls(
            f.get(d, "id"),
            _objs(d, "targets", ArpTarget),
            d.get("timeout_ms", 1500),
            d.get("probes", 2),
        )


@dataclass(frozen=True)
class ArpResult:
    """``duplicate``: another MAC answered for ``address``; ``clear``: none did."""

    address: str
    iface: Optional[str]
    status: str
    own_mac: Optional[str] = None
    macs: Tuple[str, ...] = ()  # the other machines' MACs that answered
    detail: str = ""

    def __post_init__(self) -> None:
        f.want_ip("address", self.address)
        f.want_opt_str("iface", self.iface, max_len=256)
        f.want_choice("status", self.status, ARP_STATUSES)
        f.want_opt_str("own_mac", self.own_mac, max_len=64)
        _want_strs("macs", self.macs, 64)
        f.want_str("detail", self.detail, empty_ok=True)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "address": self.address,
            "iface": self.iface,
            "status": self.status,
            "own_mac": self.own_mac,
            "macs": list(self.macs),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ArpResult:
        return cls(
            f.get(d, "address"),
            d.get("iface"),
            f.get(d, "status"),
            d.get("own_mac"),
            _strs(d, "macs", []),
            d.get("detail", ""),
        )


@dataclass(frozen=True)
class ArpCheck:
    TYPE: ClassVar[str] = "arp_check"
    id: str
    results: Tuple[ArpResult, ...]

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_tuple_of("results", self.results, ArpResult)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, "results": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ArpCheck:
        return cls(f.get(d, "id"), _objs(d, "results", ArpResult))


# --- reply-interface capture ---------------------------------------------------------


@dataclass(frozen=True)
class CaptureStart:
    """Capture TCP SYN / SYN-ACK / RST to and from ``peers`` on every interface."""

    TYPE: ClassVar[str] = "capture_start"
    id: str
    peers: Tuple[str, ...]
    max_seconds: int = 120  # the capture stops by itself after this
    max_packets: int = 5000

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        _want_strs("peers", self.peers, MAX_DESTINATIONS, ip=True)
        f.want_int("max_seconds", self.max_seconds, 1, MAX_CAPTURE_SECONDS)
        f.want_int("max_packets", self.max_packets, 1, MAX_CAPTURE_PACKETS)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "peers": list(self.peers),
            "max_seconds": self.max_seconds,
            "max_packets": self.max_packets,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> CaptureStart:
        return cls(
            f.get(d, "id"),
            _strs(d, "peers"),
            d.get("max_seconds", 120),
            d.get("max_packets", 5000),
        )


@dataclass(frozen=True)
class CaptureReady:
    TYPE: ClassVar[str] = "capture_ready"
    id: str
    status: str  # "capturing" | "not_run" | "error"
    ifaces: Tuple[str, ...] = ()
    detail: str = ""

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_choice("status", self.status, CAPTURE_STATUSES)
        _want_strs("ifaces", self.ifaces, 1024)
        f.want_str("detail", self.detail, empty_ok=True)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "status": self.status,
            "ifaces": list(self.ifaces),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> CaptureReady:
        return cls(f.get(d, "id"), f.get(d, "status"), _strs(d, "ifaces", []), d.get("detail", ""))


@dataclass(frozen=True)
class CaptureStop:
    TYPE: ClassVar[str] = "capture_stop"
    id: str

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE, "id": self.id}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> CaptureStop:
        return cls(f.get(d, "id"))


@dataclass(frozen=True)
class CapturedPacket:
    """One TCP packet seen on ``iface``; ``flags`` as tcpdump writes them ("S", "SA", "R")."""

    iface: str
    src: str
    dst: str
    sport: int
    dport: int
    flags: str
    t: float

    def __post_init__(self) -> None:
        f.want_str("iface", self.iface, max_len=256)
        f.want_ip("src", self.src)
        f.want_ip("dst", self.dst)
        f.want_int("sport", self.sport, 0, 65535)
        f.want_int("dport", self.dport, 0, 65535)
        f.want_str("flags", self.flags, empty_ok=True, max_len=16)
        f.want_number("t", self.t, 0, 2**40)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "iface": self.iface,
            "src": self.src,
            "dst": self.dst,
            "sport": self.sport,
            "dport": self.dport,
            "flags": self.flags,
            "t": self.t,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> CapturedPacket:
        return cls(
            f.get(d, "iface"),
            f.get(d, "src"),
            f.get(d, "dst"),
            f.get(d, "sport"),
            f.get(d, "dport"),
            f.get(d, "flags"),
            f.get(d, "t"),
        )


@dataclass(frozen=True)
class CaptureResult:
    TYPE: ClassVar[str] = "capture_result"
    id: str
    status: str  # "captured" | "not_run" | "error"
    packets: Tuple[CapturedPacket, ...] = ()
    truncated: bool = False  # max_packets or max_seconds was reached
    detail: str = ""

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_choice("status", self.status, CAPTURE_STATUSES)
        f.want_tuple_of("packets", self.packets, CapturedPacket)
        f.want_bool("truncated", self.truncated)
        f.want_str("detail", self.detail, empty_ok=True)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "status": self.status,
            "packets": [p.to_dict() for p in self.packets],
            "truncated": self.truncated,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> CaptureResult:
        return cls(
            f.get(d, "id"),
            f.get(d, "status"),
            _objs(d, "packets", CapturedPacket),
            d.get("truncated", False),
            d.get("detail", ""),
        )


NIC_MESSAGES = (
    NicFactsRequest,
    NicFacts,
    ArpCheckRequest,
    ArpCheck,
    CaptureStart,
    CaptureReady,
    CaptureStop,
    CaptureResult,
)
