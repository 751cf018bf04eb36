"""What came back for a raw or error-queue probe: pure classification.

Two kinds of evidence reach the agent. With scapy, the reply packet itself
(a SYN-ACK, a RST, an ICMP error quoting our probe); without it, the kernel's
``struct sock_extended_err`` from ``recvmsg(MSG_ERRQUEUE)`` on a socket with
``IP_RECVERR``. Both end as a :class:`Reply`: the answer's kind, who sent it
and the ICMP type/code with its name. No sockets and no scapy import here:
packets are read through scapy's own ``getlayer(name)`` so the functions take
crafted packets in unit tests and this module imports on any Python 3.9.
"""

from __future__ import annotations

import socket
import struct
from typing import Any, NamedTuple, Optional

from .._diag_msgs import Hop

#: ICMP destination unreachable (type 3) codes, as the report names them (RFC 792, 1122, 1812).
UNREACH_NAMES = {
    0: "net-unreachable",
    1: "host-unreachable",
    2: "protocol-unreachable",
    3: "port-unreachable",
    4: "frag-needed",
    5: "source-route-failed",
    6: "net-unknown",
    7: "host-unknown",
    8: "source-host-isolated",
    9: "net-prohibited",
    10: "host-prohibited",
    11: "net-tos-unreachable",
    12: "host-tos-unreachable",
    13: "admin-prohibited",
    14: "host-precedence-violation",
    15: "precedence-cutoff",
}
ICMP_ECHO_REPLY = 0
ICMP_UNREACH = 3
ICMP_ECHO = 8
ICMP_TIME_EXCEEDED = 11
ICMP_FRAG_NEEDED = 4

_TCP_SYN = 0x02
_TCP_RST = 0x04
_TCP_ACK = 0x10


def icmp_name(icmp_type: int, code: int) -> str:
    """``admin-prohibited``, ``time-exceeded``, ``echo-reply``, ... or ``icmp-T/C``."""
    if icmp_type == ICMP_UNREACH:
        return UNREACH_NAMES.get(code, f"unreachable-code-{code}")
    if icmp_type == ICMP_TIME_EXCEEDED:
        return "time-exceeded" if code == 0 else "reassembly-time-exceeded"
    if icmp_type == ICMP_ECHO_REPLY:
        return "echo-reply"
    if icmp_type == 12:
        return "parameter-problem"
    if icmp_type == 5:
        return "redirect"
    return f"icmp-{icmp_type}/{code}"


class Reply(NamedTuple):
    """One answer: ``reply`` is a :data:`~netcheck_agent.protocol.REPLIES` value."""

    reply: str
    address: Optional[str] = None
    icmp_type: Optional[int] = None
    icmp_code: Optional[int] = None
    icmp: str = ""
    mtu: Optional[int] = None  # a frag-needed's next-hop MTU (0: the router did not say)

    @property
    def from_target(self) -> bool:
        """The probed host itself answered (its TCP, or its own port-unreachable)."""
        return (
            self.reply in ("syn-ack", "rst", "echo-reply", "answer")
            or self.icmp == "port-unreachable"
        )


NO_REPLY = Reply("none")


def _icmp_reply(src: Optional[str], icmp_type: int, code: int, mtu: Optional[int]) -> Reply:
    if icmp_type == ICMP_TIME_EXCEEDED:
        kind = "time-exceeded"
    elif icmp_type == ICMP_UNREACH:
        kind = "unreachable"
    elif icmp_type == ICMP_ECHO_REPLY:
        kind = "echo-reply"
    else:
        kind = "other"
    if not (icmp_type == ICMP_UNREACH and code == ICMP_FRAG_NEEDED):
        mtu = None
    return Reply(kind, src, icmp_type, code, icmp_name(icmp_type, code), mtu)


def classify_packet(pkt: Any) -> Reply:
    """Classify a scapy reply to one of our probes (SYN, UDP, ICMP echo).

    A TCP SYN-ACK is ``syn-ack`` (open), a RST ``rst`` (closed), an ICMP
    error is named by type and code (the quoted probe inside is not needed:
    scapy's ``sr`` matched it to our probe already). ``None`` is no reply.
    """
    if pkt is None:
        return NO_REPLY
    ip = pkt.getlayer("IP")
    src = str(ip.src) if ip is not None else None
    icmp = pkt.getlayer("ICMP")
    if icmp is not None:
        mtu = getattr(icmp, "nexthopmtu", None)
        return _icmp_reply(src, int(icmp.type), int(icmp.code), None if mtu is None else int(mtu))
    tcp = pkt.getlayer("TCP")
    if tcp is not None:
        flags = int(tcp.flags)
        if flags & _TCP_RST:
            return Reply("rst", src)
        if flags & _TCP_SYN and flags & _TCP_ACK:
            return Reply("syn-ack", src)
        return Reply("other", src)
    return Reply("other", src)


def syn_outcome(reply: Reply) -> str:
    """A half-open SYN's outcome: ``open``, ``closed``, ``filtered`` or ``unreachable``."""
    if reply.reply == "syn-ack":
        return "open"
    if reply.reply == "rst":
        return "closed"
    if reply.reply == "unreachable":
        return "unreachable"
    if reply.reply == "none":
        return "filtered"
    return "unreachable" if reply.reply == "time-exceeded" else "filtered"


# --- the kernel's error queue (IP_RECVERR) -----------------------------------------

#: ``struct sock_extended_err`` (linux/errqueue.h): errno, origin, type, code, pad, info, data.
_EE = struct.Struct("=IBBBBII")
SO_EE_ORIGIN_NONE = 0
SO_EE_ORIGIN_LOCAL = 1
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3


class ExtendedErr(NamedTuple):
    """A decoded ``sock_extended_err`` plus the offender address (``SO_EE_OFFENDER``)."""

    errno: int
    origin: int
    icmp_type: int
    icmp_code: int
    info: int  # for frag-needed / EMSGSIZE: the MTU
    data: int
    offender: Optional[str]


def parse_extended_err(data: bytes) -> ExtendedErr:
    """Decode the payload of an ``IP_RECVERR`` control message.

    The offender ``sockaddr_in`` follows the struct; a family other than
    AF_INET (``AF_UNSPEC`` for local errors) means there is none.
    Raises ValueError for a payload shorter than the struct.
    """
    if len(data) < _EE.size:
        raise ValueError(f"sock_extended_err needs {_EE.size} bytes, got {len(data)}")
    err, origin, etype, code, _pad, info, edata = _EE.unpack_from(data, 0)
    offender = None
    rest = data[_EE.size :]
    if len(rest) >= 8:
        (family,) = struct.unpack_from("=H", rest, 0)
        if family == socket.AF_INET:
            offender = socket.inet_ntoa(rest[4:8])
    return ExtendedErr(err, origin, etype, code, info, edata, offender)


def classify_extended_err(ee: ExtendedErr) -> Reply:
    """The :class:`Reply` an error-queue entry stands for."""
    if ee.origin == SO_EE_ORIGIN_ICMP:
        mtu = ee.info if (ee.icmp_type, ee.icmp_code) == (ICMP_UNREACH, ICMP_FRAG_NEEDED) else None
        return _icmp_reply(ee.offender, ee.icmp_type, ee.icmp_code, mtu)
    if ee.origin == SO_EE_ORIGIN_LOCAL:
        # EMSGSIZE from our own stack: the route's known PMTU is in ee_info
        return Reply("local-error", ee.offender, None, None, "local-emsgsize", ee.info or None)
    return Reply("other", ee.offender)


def to_hop(ttl: int, reply: Reply, rtt: Optional[float], size: Optional[int] = None) -> Hop:
    """A hop of a diagnostic's result: the reply at `ttl`, its RTT in seconds when it
    came (None when it did not), and the probe's size for path-MTU searches."""
    return Hop(
        ttl=ttl,
        reply=reply.reply,
        address=reply.address,
        rtt_us=None if rtt is None else int(rtt * 1e6),
        icmp_type=reply.icmp_type,
        icmp_code=reply.icmp_code,
        icmp=reply.icmp,
        mtu=reply.mtu,
        size=size,
    )
