"""SNTP (RFC 4330 / 5905) client packets: one request out, the reply read back. Pure.

The clock offset is what ASR cares about: a configuration or process server
whose clock is more than 15 minutes off Azure's fails authentication
(ACS50008). Offset and delay follow the usual four timestamps:
``offset = ((T2 − T1) + (T3 − T4)) / 2``, ``delay = (T4 − T1) − (T3 − T2)``.
A malformed or foreign reply raises :class:`NtpError` (the parser is fuzzed).
"""

from __future__ import annotations

import struct
from typing import NamedTuple, Tuple

__all__ = [
    "NTP_EPOCH_OFFSET",
    "NtpError",
    "NtpReply",
    "build_request",
    "from_ntp",
    "offset_and_delay",
    "parse_reply",
    "to_ntp",
]

#: Seconds from the NTP era-0 epoch (1900-01-01) to the Unix epoch (1970-01-01).
NTP_EPOCH_OFFSET = 2_208_988_800
PACKET_LEN = 48
_PACKET = struct.Struct("!BBbb II 4s QQQQ")
MODE_CLIENT = 3
MODE_SERVER = 4
VERSION = 4


class NtpError(ValueError):
    """A reply that is not an answer to our request."""


class NtpReply(NamedTuple):
    leap: int  # 3 = clock unsynchronised
    version: int
    mode: int
    stratum: int  # 0 = kiss-o'-death (ref_id carries the code)
    ref_id: str  # ASCII code for stratum 0/1, else the dotted reference address
    receive: float  # T2, Unix seconds (server clock)
    transmit: float  # T3


def to_ntp(unix_s: float) -> int:
    """Unix seconds → 64-bit NTP timestamp (32.32 fixed point)."""
    value = unix_s + NTP_EPOCH_OFFSET
    seconds = int(value)
    return ((seconds & 0xFFFFFFFF) << 32) | int((value - seconds) * 2**32) & 0xFFFFFFFF


def from_ntp(stamp: int) -> float:
    return (stamp >> 32) - NTP_EPOCH_OFFSET + (stamp & 0xFFFFFFFF) / 2**32


def build_request(transmit_unix_s: float) -> Tuple[bytes, int]:
    """A client request and the transmit timestamp it carries (echoed as the reply's origin)."""
    stamp = to_ntp(transmit_unix_s)
    first = (0 << 6) | (VERSION << 3) | MODE_CLIENT
    return _PACKET.pack(first, 0, 0, 0, 0, 0, b"\0\0\0\0", 0, 0, 0, stamp), stamp


def _ref_id(stratum: int, raw: bytes) -> str:
    if stratum <= 1:
        return raw.rstrip(b"\0").decode("ascii", "replace")
    return ".".join(str(b) for b in raw)


def parse_reply(data: bytes, sent_stamp: int) -> NtpReply:
    """The server's reply to the request that carried ``sent_stamp``."""
    if len(data) < PACKET_LEN:
        raise NtpError(f"reply of {len(data)} bytes is shorter than an NTP packet (48)")
    first, stratum, _poll, _prec, _rdelay, _rdisp, ref, _rt, origin, recv, xmit = (
        _PACKET.unpack_from(data)
    )
    leap, version, mode = first >> 6, (first >> 3) & 7, first & 7
    if mode != MODE_SERVER:
        raise NtpError(f"reply mode {mode}, expected 4 (server)")
    if origin != sent_stamp:
        # RFC 5905's bogus-packet test: not an answer to *our* request.
        raise NtpError("reply's origin timestamp does not echo our request")
    ref_id = _ref_id(stratum, ref)
    if stratum != 0 and (recv == 0 or xmit == 0):
        raise NtpError("reply without receive/transmit timestamps")
    return NtpReply(
        leap, version, mode, stratum, ref_id, from_ntp(recv) if recv else 0.0, from_ntp(xmit)
    )


def offset_and_delay(t1: float, t2: float, t3: float, t4: float) -> Tuple[float, float]:
    """Clock offset (server − local) and round-trip delay, in seconds."""
    return ((t2 - t1) + (t3 - t4)) / 2.0, (t4 - t1) - (t3 - t2)
