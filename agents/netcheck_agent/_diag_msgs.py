"""Path-diagnostic messages of protocol v1 (re-exported by :mod:`netcheck_agent.protocol`).

A red cell says *that* a port is unreachable; a :class:`DiagRequest` asks the
source's agent *where* and *why*: a traceroute toward that very port, an ICMP
echo series, a path-MTU search, or one half-open SYN. The agent answers with
one :class:`DiagResult` (same ``id``) that names the method it used
(``scapy`` raw packets, Linux ``recverr`` error-queue sockets, an unprivileged
``icmp_dgram`` socket) or ``unavailable`` with the reason, never a silent
success. Every request carries its own packet budget and deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Optional, Tuple

from . import _fields as f
from ._fields import ProtocolError

DIAG_KINDS = frozenset({"traceroute", "echo", "pmtu", "syn"})
DIAG_PROTOS = frozenset({"tcp", "udp", "icmp"})
#: How a diagnostic was measured; ``unavailable`` carries the reason in ``detail``.
DIAG_METHODS = frozenset({"scapy", "recverr", "icmp_dgram", "unavailable"})
DIAG_PREFER = frozenset({"auto", "scapy", "recverr", "icmp_dgram"})
#: What came back for one probe (or nothing: ``none``).
REPLIES = frozenset(
    {
        "none",  # no answer within the timeout (a silent hop / dropped)
        "syn-ack",  # the target's TCP accepted: open
        "rst",  # the target reset: closed
        "echo-reply",
        "answer",  # the target answered a UDP probe with data
        "time-exceeded",  # a router on the way (TTL ran out)
        "unreachable",  # ICMP destination unreachable (``icmp`` names the code)
        "local-error",  # this host refused to send (e.g. EMSGSIZE from a known PMTU)
        "other",
    }
)
MAX_TTL = 64
MAX_PACKETS = 512


@dataclass(frozen=True)
class DiagRequest:
    """One bounded diagnostic from this agent's host toward ``dst``:``port``.

    ``timeout_ms`` is how long one probe (or one window of traceroute probes)
    waits for its answer, ``deadline_ms`` bounds the whole diagnostic and
    ``max_packets`` the packets it may send. ``prefer`` forces a method
    (tests); ``auto`` takes scapy when usable, else the fallbacks.
    """

    TYPE: ClassVar[str] = "diag_request"
    id: str
    kind: str
    dst: str
    port: int = 0
    src: Optional[str] = None
    proto: str = "tcp"
    max_ttl: int = 30
    probes_per_hop: int = 1
    count: int = 5
    interval_ms: int = 100
    timeout_ms: int = 1000
    deadline_ms: int = 20000
    max_mtu: int = 1500
    max_packets: int = 128
    prefer: str = "auto"

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_choice("kind", self.kind, DIAG_KINDS)
        f.want_ip("dst", self.dst)
        f.want_int("port", self.port, 0, 65535)
        if self.src is not None:
            f.want_ip("src", self.src)
        f.want_choice("proto", self.proto, DIAG_PROTOS)
        f.want_int("max_ttl", self.max_ttl, 1, MAX_TTL)
        f.want_int("probes_per_hop", self.probes_per_hop, 1, 3)
        f.want_int("count", self.count, 1, 100)
        f.want_int("interval_ms", self.interval_ms, 0, 10_000)
        f.want_int("timeout_ms", self.timeout_ms, 10, 10_000)
        f.want_int("deadline_ms", self.deadline_ms, 100, 120_000)
        f.want_int("max_mtu", self.max_mtu, 68, 65535)
        f.want_int("max_packets", self.max_packets, 1, MAX_PACKETS)
        f.want_choice("prefer", self.prefer, DIAG_PREFER)
        if self.kind in ("syn", "traceroute") and self.proto == "tcp" and self.port == 0:
            # (UDP without a port probes 33434 + TTL, as traceroute does)
            raise ProtocolError(f"a {self.kind} toward tcp needs a port", "port")

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "kind": self.kind,
            "dst": self.dst,
            "port": self.port,
            "src": self.src,
            "proto": self.proto,
            "max_ttl": self.max_ttl,
            "probes_per_hop": self.probes_per_hop,
            "count": self.count,
            "interval_ms": self.interval_ms,
            "timeout_ms": self.timeout_ms,
            "deadline_ms": self.deadline_ms,
            "max_mtu": self.max_mtu,
            "max_packets": self.max_packets,
            "prefer": self.prefer,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> DiagRequest:
        g = f.get
        return cls(
            g(d, "id"),
            g(d, "kind"),
            g(d, "dst"),
            g(d, "port", 0),
            g(d, "src", None),
            g(d, "proto", "tcp"),
            g(d, "max_ttl", 30),
            g(d, "probes_per_hop", 1),
            g(d, "count", 5),
            g(d, "interval_ms", 100),
            g(d, "timeout_ms", 1000),
            g(d, "deadline_ms", 20000),
            g(d, "max_mtu", 1500),
            g(d, "max_packets", 128),
            g(d, "prefer", "auto"),
        )


@dataclass(frozen=True)
class Hop:
    """One probe's answer: the TTL it was sent with, who answered and how.

    ``icmp`` names an ICMP answer (``time-exceeded``, ``admin-prohibited``,
    ``frag-needed``, ...); ``mtu`` is a frag-needed's next-hop MTU. For echo
    ``ttl`` is the sequence number; for PMTU probes ``size`` is the probe's size.
    """

    ttl: int
    reply: str = "none"
    address: Optional[str] = None
    rtt_us: Optional[int] = None
    icmp_type: Optional[int] = None
    icmp_code: Optional[int] = None
    icmp: str = ""
    mtu: Optional[int] = None
    size: Optional[int] = None  # a PMTU probe's size in bytes (IP total length)

    def __post_init__(self) -> None:
        f.want_int("ttl", self.ttl, 0, 255)
        f.want_choice("reply", self.reply, REPLIES)
        if self.address is not None:
            f.want_ip("address", self.address)
        f.want_opt_int("rtt_us", self.rtt_us, 0, 2**63)
        f.want_opt_int("icmp_type", self.icmp_type, 0, 255)
        f.want_opt_int("icmp_code", self.icmp_code, 0, 255)
        f.want_str("icmp", self.icmp, empty_ok=True, max_len=64)
        f.want_opt_int("mtu", self.mtu, 0, 65535)
        f.want_opt_int("size", self.size, 0, 65535)

    @property
    def answered(self) -> bool:
        return self.reply != "none"

    def to_dict(self) -> Dict[str, Any]:
        return {
            "ttl": self.ttl,
            "reply": self.reply,
            "address": self.address,
            "rtt_us": self.rtt_us,
            "icmp_type": self.icmp_type,
            "icmp_code": self.icmp_code,
            "icmp": self.icmp,
            "mtu": self.mtu,
            "size": self.size,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Hop:
        g = f.get
        return cls(
            g(d, "ttl"),
            g(d, "reply", "none"),
            g(d, "address", None),
            g(d, "rtt_us", None),
            g(d, "icmp_type", None),
            g(d, "icmp_code", None),
            g(d, "icmp", ""),
            g(d, "mtu", None),
            g(d, "size", None),
        )


@dataclass(frozen=True)
class DiagResult:
    """The answer to a :class:`DiagRequest` (same ``id`` and ``kind``).

    traceroute: ``hops`` in TTL order (one per probe), ``reached`` when the
    target itself answered. echo: ``hops`` one per echo request (ttl = the
    sequence number), ``sent``/``received``. pmtu: ``pmtu`` (``None`` when it
    could not be told) and the probes that found it in ``hops``. syn: one hop.
    ``iface`` / ``iface_mtu``: the interface this host's route to ``dst`` leaves
    by and its MTU (Linux; ``None`` elsewhere). ``packets`` counts what was sent.
    """

    TYPE: ClassVar[str] = "diag_result"
    id: str
    kind: str
    method: str
    detail: str = ""
    hops: Tuple[Hop, ...] = ()
    reached: Optional[bool] = None
    sent: int = 0
    received: int = 0
    pmtu: Optional[int] = None
    iface: Optional[str] = None
    iface_mtu: Optional[int] = None
    packets: int = 0
    elapsed_ms: int = 0

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_choice("kind", self.kind, DIAG_KINDS)
        f.want_choice("method", self.method, DIAG_METHODS)
        f.want_str("detail", self.detail, empty_ok=True)
        f.want_tuple_of("hops", self.hops, Hop)
        if self.reached is not None:
            f.want_bool("reached", self.reached)
        f.want_int("sent", self.sent, 0, 2**31)
        f.want_int("received", self.received, 0, 2**31)
        f.want_opt_int("pmtu", self.pmtu, 0, 65535)
        f.want_opt_str("iface", self.iface, max_len=64)
        f.want_opt_int("iface_mtu", self.iface_mtu, 0, 2**31)
        f.want_int("packets", self.packets, 0, 2**31)
        f.want_int("elapsed_ms", self.elapsed_ms, 0, 2**31)

    @property
    def available(self) -> bool:
        return self.method != "unavailable"

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "kind": self.kind,
            "method": self.method,
            "detail": self.detail,
            "hops": [h.to_dict() for h in self.hops],
            "reached": self.reached,
            "sent": self.sent,
            "received": self.received,
            "pmtu": self.pmtu,
            "iface": self.iface,
            "iface_mtu": self.iface_mtu,
            "packets": self.packets,
            "elapsed_ms": self.elapsed_ms,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> DiagResult:
        items = f.get_list(d, "hops") if "hops" in d else []
        hops = tuple(f.nested("hops", i, h, Hop.from_dict) for i, h in enumerate(items))
        g = f.get
        return cls(
            g(d, "id"),
            g(d, "kind"),
            g(d, "method"),
            g(d, "detail", ""),
            hops,
            g(d, "reached", None),
            g(d, "sent", 0),
            g(d, "received", 0),
            g(d, "pmtu", None),
            g(d, "iface", None),
            g(d, "iface_mtu", None),
            g(d, "packets", 0),
            g(d, "elapsed_ms", 0),
        )
