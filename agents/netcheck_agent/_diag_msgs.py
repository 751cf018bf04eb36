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

from dataclasses import dataclass, field
from typing import ClassVar, Optional, Tuple

from ._codec import Wire, between, ip, one_of, text
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


_INT32 = between(0, 2**31)
_OCTET = between(0, 255)


@dataclass(frozen=True)
class DiagRequest(Wire):
    """One bounded diagnostic from this agent's host toward ``dst``:``port``.

    ``timeout_ms`` is how long one probe (or one window of traceroute probes)
    waits for its answer, ``deadline_ms`` bounds the whole diagnostic and
    ``max_packets`` the packets it may send. ``prefer`` forces a method
    (tests); ``auto`` takes scapy when usable, else the fallbacks.
    """

    TYPE: ClassVar[str] = "diag_request"
    id: str = field(metadata=text(256))
    kind: str = field(metadata=one_of(DIAG_KINDS))
    dst: str = field(metadata=ip())
    port: int = field(default=0, metadata=between(0, 65535))
    src: Optional[str] = field(default=None, metadata=ip())
    proto: str = field(default="tcp", metadata=one_of(DIAG_PROTOS))
    max_ttl: int = field(default=30, metadata=between(1, MAX_TTL))
    probes_per_hop: int = field(default=1, metadata=between(1, 3))
    count: int = field(default=5, metadata=between(1, 100))
    interval_ms: int = field(default=100, metadata=between(0, 10_000))
    timeout_ms: int = field(default=1000, metadata=between(10, 10_000))
    deadline_ms: int = field(default=20000, metadata=between(100, 120_000))
    max_mtu: int = field(default=1500, metadata=between(68, 65535))
    max_packets: int = field(default=128, metadata=between(1, MAX_PACKETS))
    prefer: str = field(default="auto", metadata=one_of(DIAG_PREFER))

    def _validate(self) -> None:
        if self.kind in ("syn", "traceroute") and self.proto == "tcp" and self.port == 0:
            # (UDP without a port probes 33434 + TTL, as traceroute does)
            raise ProtocolError(f"a {self.kind} toward tcp needs a port", "port")


@dataclass(frozen=True)
class Hop(Wire):
    """One probe's answer: the TTL it was sent with, who answered and how.

    ``icmp`` names an ICMP answer (``time-exceeded``, ``admin-prohibited``,
    ``frag-needed``, ...); ``mtu`` is a frag-needed's next-hop MTU. For echo
    ``ttl`` is the sequence number; for PMTU probes ``size`` is the probe's size.
    """

    ttl: int = field(metadata=_OCTET)
    reply: str = field(default="none", metadata=one_of(REPLIES))
    address: Optional[str] = field(default=None, metadata=ip())
    rtt_us: Optional[int] = field(default=None, metadata=between(0, 2**63))
    icmp_type: Optional[int] = field(default=None, metadata=_OCTET)
    icmp_code: Optional[int] = field(default=None, metadata=_OCTET)
    icmp: str = field(default="", metadata=text(64, empty_ok=True))
    mtu: Optional[int] = field(default=None, metadata=between(0, 65535))
    size: Optional[int] = field(default=None, metadata=between(0, 65535))  # PMTU probe, IP length

    @property
    def answered(self) -> bool:
        return self.reply != "none"


@dataclass(frozen=True)
class DiagResult(Wire):
    """The answer to a :class:`DiagRequest` (same ``id`` and ``kind``).

    traceroute: ``hops`` in TTL order (one per probe), ``reached`` when the
    target itself answered. echo: ``hops`` one per echo request (ttl = the
    sequence number), ``sent``/``received``. pmtu: ``pmtu`` (``None`` when it
    could not be told) and the probes that found it in ``hops``. syn: one hop.
    ``iface`` / ``iface_mtu``: the interface this host's route to ``dst`` leaves
    by and its MTU (Linux; ``None`` elsewhere). ``packets`` counts what was sent.
    """

    TYPE: ClassVar[str] = "diag_result"
    id: str = field(metadata=text(256))
    kind: str = field(metadata=one_of(DIAG_KINDS))
    method: str = field(metadata=one_of(DIAG_METHODS))
    detail: str = field(default="", metadata=text(empty_ok=True))
    hops: Tuple[Hop, ...] = ()
    reached: Optional[bool] = None
    sent: int = field(default=0, metadata=_INT32)
    received: int = field(default=0, metadata=_INT32)
    pmtu: Optional[int] = field(default=None, metadata=between(0, 65535))
    iface: Optional[str] = field(default=None, metadata=text(64))
    iface_mtu: Optional[int] = field(default=None, metadata=_INT32)
    packets: int = field(default=0, metadata=_INT32)
    elapsed_ms: int = field(default=0, metadata=_INT32)

    @property
    def available(self) -> bool:
        return self.method != "unavailable"
