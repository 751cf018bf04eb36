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

from dataclasses import dataclass, field
from typing import ClassVar, Optional, Tuple

from ._codec import Wire, between, ip, items, one_of, required, text

MAX_DESTINATIONS = 4096
MAX_CAPTURE_SECONDS = 3600
MAX_CAPTURE_PACKETS = 100_000

ARP_STATUSES = frozenset({"clear", "duplicate", "not_run", "error"})
CAPTURE_STATUSES = frozenset({"capturing", "captured", "not_run", "error"})


_ID = text(256)
_NAME = text(256)
_DETAIL = text(empty_ok=True)
_RP_FILTER = between(0, 2)  # Linux rp_filter: 0 off, 1 strict, 2 loose


# --- interfaces and route choice ---------------------------------------------------


@dataclass(frozen=True)
class NicFactsRequest(Wire):
    """Ask for the host's interfaces and, per destination, the OS's route choice."""

    TYPE: ClassVar[str] = "nic_facts_request"
    id: str = field(metadata=_ID)
    destinations: Tuple[str, ...] = field(default=(), metadata=items(MAX_DESTINATIONS, ip=True))


@dataclass(frozen=True)
class InterfaceFacts(Wire):
    """One interface as the host sees it; ``None`` means the agent could not tell."""

    name: str = field(metadata=_NAME)
    index: Optional[int] = field(default=None, metadata=between(0, 2**31))
    #: "198.18.2.10/24", "fe80::1/64"
    addresses: Tuple[str, ...] = field(default=(), metadata=items(1024))
    mtu: Optional[int] = field(default=None, metadata=between(0, 2**31))
    up: Optional[bool] = None
    default_route: Optional[bool] = None  # a default route leaves through it
    rp_filter: Optional[int] = field(default=None, metadata=_RP_FILTER)  # conf/<if>/rp_filter
    kind: str = field(default="", metadata=text(32, empty_ok=True))  # ether, loopback, other
    mac: Optional[str] = field(default=None, metadata=text(64))


@dataclass(frozen=True)
class RouteChoice(Wire):
    """What the OS picks to reach ``dst``: source address and interface (None: no route)."""

    dst: str = field(metadata=ip())
    src: Optional[str] = field(metadata=ip())
    iface: Optional[str] = field(metadata=_NAME)
    method: str = field(metadata=text(64))  # "udp_connect" (+ "GetBestInterface" on Windows)
    detail: str = field(default="", metadata=_DETAIL)


@dataclass(frozen=True)
class NicFacts(Wire):
    """The reply to :class:`NicFactsRequest` (same ``id``)."""

    TYPE: ClassVar[str] = "nic_facts"
    id: str = field(metadata=_ID)
    os_family: str = field(metadata=text(64))
    interfaces: Tuple[InterfaceFacts, ...] = field(default=(), metadata=required())
    routes: Tuple[RouteChoice, ...] = field(default=(), metadata=required())
    #: Linux conf/all/rp_filter (the kernel uses the max of it and the interface's)
    rp_filter_all: Optional[int] = field(default=None, metadata=_RP_FILTER)
    detail: str = field(default="", metadata=_DETAIL)  # what could not be read, and why


# --- duplicate address (ARP) --------------------------------------------------------


@dataclass(frozen=True)
class ArpTarget(Wire):
    """Probe ``address`` on the interface holding it (``iface`` None: find it)."""

    address: str = field(metadata=ip())
    iface: Optional[str] = field(default=None, metadata=_NAME)


@dataclass(frozen=True)
class ArpCheckRequest(Wire):
    TYPE: ClassVar[str] = "arp_check_request"
    id: str = field(metadata=_ID)
    targets: Tuple[ArpTarget, ...] = field(metadata=items(64))
    timeout_ms: int = field(default=1500, metadata=between(100, 10_000))
    #: ARP probes per target, 200 ms apart (RFC 5227 sends 3)
    probes: int = field(default=2, metadata=between(1, 5))


@dataclass(frozen=True)
class ArpResult(Wire):
    """``duplicate``: another MAC answered for ``address``; ``clear``: none did."""

    address: str = field(metadata=ip())
    iface: Optional[str] = field(metadata=_NAME)
    status: str = field(metadata=one_of(ARP_STATUSES))
    own_mac: Optional[str] = field(default=None, metadata=text(64))
    macs: Tuple[str, ...] = field(default=(), metadata=items(64))  # the others that answered
    detail: str = field(default="", metadata=_DETAIL)


@dataclass(frozen=True)
class ArpCheck(Wire):
    TYPE: ClassVar[str] = "arp_check"
    id: str = field(metadata=_ID)
    results: Tuple[ArpResult, ...]


# --- reply-interface capture ---------------------------------------------------------


@dataclass(frozen=True)
class CaptureStart(Wire):
    """Capture TCP SYN / SYN-ACK / RST to and from ``peers`` on every interface."""

    TYPE: ClassVar[str] = "capture_start"
    id: str = field(metadata=_ID)
    peers: Tuple[str, ...] = field(metadata=items(MAX_DESTINATIONS, ip=True))
    #: the capture stops by itself after this
    max_seconds: int = field(default=120, metadata=between(1, MAX_CAPTURE_SECONDS))
    max_packets: int = field(default=5000, metadata=between(1, MAX_CAPTURE_PACKETS))


@dataclass(frozen=True)
class CaptureReady(Wire):
    TYPE: ClassVar[str] = "capture_ready"
    id: str = field(metadata=_ID)
    status: str = field(metadata=one_of(CAPTURE_STATUSES))  # capturing | not_run | error
    ifaces: Tuple[str, ...] = field(default=(), metadata=items(1024))
    detail: str = field(default="", metadata=_DETAIL)


@dataclass(frozen=True)
class CaptureStop(Wire):
    TYPE: ClassVar[str] = "capture_stop"
    id: str = field(metadata=_ID)


@dataclass(frozen=True)
class CapturedPacket(Wire):
    """One TCP packet seen on ``iface``; ``flags`` as tcpdump writes them ("S", "SA", "R")."""

    iface: str = field(metadata=_NAME)
    src: str = field(metadata=ip())
    dst: str = field(metadata=ip())
    sport: int = field(metadata=between(0, 65535))
    dport: int = field(metadata=between(0, 65535))
    flags: str = field(metadata=text(16, empty_ok=True))
    t: float = field(metadata=between(0, 2**40))


@dataclass(frozen=True)
class CaptureResult(Wire):
    TYPE: ClassVar[str] = "capture_result"
    id: str = field(metadata=_ID)
    status: str = field(metadata=one_of(CAPTURE_STATUSES))  # captured | not_run | error
    packets: Tuple[CapturedPacket, ...] = field(default=(), metadata=required())
    truncated: bool = False  # max_packets or max_seconds was reached
    detail: str = field(default="", metadata=_DETAIL)


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
