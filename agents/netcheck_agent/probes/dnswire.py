"""DNS messages by hand (RFC 1035): one question out, the answer section in. Pure.

The agent is stdlib only, so no dnspython: a query is 12 header bytes, the
name's labels and the type/class; a response is read back with name
compression followed (bounded, loop-safe). Anything malformed raises
:class:`DnsError`; nothing else escapes (the parser is fuzzed).
"""

from __future__ import annotations

import ipaddress
import struct
from typing import List, NamedTuple, Tuple

__all__ = [
    "QTYPE_A",
    "QTYPE_AAAA",
    "RCODES",
    "DnsAnswer",
    "DnsError",
    "build_query",
    "encode_name",
    "frame_tcp",
    "parse_response",
    "rcode_name",
]

QTYPE_A = 1
QTYPE_CNAME = 5
QTYPE_AAAA = 28
CLASS_IN = 1
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QTAIL = struct.Struct("!HH")
MAX_POINTERS = 32  # a name whose compression chain is longer is malformed (or a loop)

RCODES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
}


class DnsError(ValueError):
    """A name we cannot put in a query, or a response we cannot read."""


class DnsAnswer(NamedTuple):
    qid: int
    rcode: int
    truncated: bool
    authoritative: bool
    recursion_available: bool
    question: str  # the name the response says it answers
    answers: Tuple[str, ...]  # A/AAAA addresses and "CNAME target" entries, in order


def rcode_name(rcode: int) -> str:
    return RCODES.get(rcode, f"RCODE{rcode}")


def encode_name(name: str) -> bytes:
    """``www.example.com`` → length-prefixed labels; DnsError if not a valid host name."""
    text = name.rstrip(".")
    if not text:
        raise DnsError("empty name")
    try:
        raw = text.encode("idna") if not text.isascii() else text.encode("ascii")
    except UnicodeError as exc:
        raise DnsError(f"{name!r} is not a valid name: {exc}") from None
    out = bytearray()
    for label in raw.split(b"."):
        if not 1 <= len(label) <= 63:
            raise DnsError(f"{name!r}: every label must have 1..63 characters")
        out.append(len(label))
        out += label
    out.append(0)
    if len(out) > 255:
        raise DnsError(f"{name!r} is longer than 255 bytes")
    return bytes(out)


def build_query(name: str, qid: int, qtype: int = QTYPE_A) -> bytes:
    """A standard recursive query (RD set) for one name."""
    if not 0 <= qid <= 0xFFFF:
        raise DnsError(f"query id {qid} out of range")
    return _HEADER.pack(qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + _QTAIL.pack(qtype, CLASS_IN)


def frame_tcp(message: bytes) -> bytes:
    """DNS over TCP prefixes each message with its two-byte length (RFC 1035 4.2.2)."""
    return struct.pack("!H", len(message)) + message


def _read_name(data: bytes, pos: int) -> Tuple[str, int]:
    """The name at ``pos`` and the position after it (after the first pointer, if any)."""
    labels: List[str] = []
    end = -1
    jumps = 0
    total = 0
    while True:
        if pos >= len(data):
            raise DnsError("name runs past the message")
        length = data[pos]
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise DnsError("truncated compression pointer")
            if end < 0:
                end = pos + 2
            jumps += 1
            if jumps > MAX_POINTERS:
                raise DnsError("compression pointer loop")
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            continue
        if length & 0xC0:
            raise DnsError(f"unknown label type 0x{length:02x}")
        pos += 1
        if length == 0:
            break
        if pos + length > len(data):
            raise DnsError("label runs past the message")
        total += length + 1
        if total > 255:
            raise DnsError("name longer than 255 bytes")
        labels.append(data[pos : pos + length].decode("ascii", "replace"))
        pos += length
    return ".".join(labels), (end if end >= 0 else pos)


def parse_response(data: bytes) -> DnsAnswer:
    """Header, question name and the answer section of a response."""
    if len(data) < _HEADER.size:
        raise DnsError(f"response of {len(data)} bytes is shorter than a DNS header")
    qid, flags, qd, an, _ns, _ar = _HEADER.unpack_from(data)
    if not flags & 0x8000:
        raise DnsError("not a response (QR bit clear)")
    pos = _HEADER.size
    question = ""
    for i in range(qd):
        name, pos = _read_name(data, pos)
        if i == 0:
            question = name
        pos += _QTAIL.size
        if pos > len(data):
            raise DnsError("question runs past the message")
    answers: List[str] = []
    truncated = bool(flags & 0x0200)
    for _ in range(an):
        if pos >= len(data) and truncated:
            break
        _, pos = _read_name(data, pos)
        if pos + _RR.size > len(data):
            raise DnsError("answer record runs past the message")
        rtype, _rclass, _ttl, rdlen = _RR.unpack_from(data, pos)
        pos += _RR.size
        if pos + rdlen > len(data):
            raise DnsError("answer data runs past the message")
        rdata = data[pos : pos + rdlen]
        if rtype == QTYPE_A and rdlen == 4:
            answers.append(str(ipaddress.IPv4Address(rdata)))
        elif rtype == QTYPE_AAAA and rdlen == 16:
            answers.append(str(ipaddress.IPv6Address(rdata)))
        elif rtype == QTYPE_CNAME:
            target, _ = _read_name(data, pos)
            answers.append(f"CNAME {target}")
        pos += rdlen
        if len(answers) >= 64:
            break
    return DnsAnswer(
        qid=qid,
        rcode=flags & 0x000F,
        truncated=truncated,
        authoritative=bool(flags & 0x0400),
        recursion_available=bool(flags & 0x0080),
        question=question,
        answers=tuple(answers),
    )


def addresses(answer: DnsAnswer) -> List[str]:
    """The A/AAAA addresses of an answer (CNAME entries left out)."""
    return [a for a in answer.answers if not a.startswith("CNAME ")]
