"""``tcp_connect``: one TCP connect attempt to ``dst``:``port``, optionally proven.

Outcomes: ``open`` (connected; ``proven`` when the nonce challenge was
answered), ``refused`` (RST), ``timeout`` (no answer by the deadline: the
coordinator calls it filtered), ``unreachable`` (ICMP unreachable, local
firewall, source address not ours), ``handshake_only`` (connected but the
peer did not answer the challenge: a middlebox or another service), ``error``.

RTT comes from the kernel when it can (Linux ``TCP_INFO.tcpi_rtt``, the
smoothed RTT which right after the handshake is the SYN/SYN-ACK sample), so a
busy event loop does not inflate it; elsewhere it is the monotonic time the
connect took.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import struct
import sys
import time
from typing import Any, Optional, Tuple

from .. import challenge
from ..protocol import ProbeRequest, Sample
from .base import Deadline, LoopSocketOps, SocketOps
from .errors import ERROR, HANDSHAKE_ONLY, OPEN, TIMEOUT, classify_oserror

KIND = "tcp_connect"

_LINUX = sys.platform.startswith("linux")
# linux/in.h; Python exposes it only from 3.12 on, the value is ABI-stable.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
TCP_INFO = getattr(socket, "TCP_INFO", 11) if _LINUX else None
# struct tcp_info (linux/tcp.h): 8 one-byte fields, then u32 rto, ato, snd_mss,
# rcv_mss, unacked, sacked, lost, retrans, fackets, last_data_sent,
# last_ack_sent, last_data_recv, last_ack_recv, pmtu, rcv_ssthresh, rtt:
# 8 + 15 * 4 = 68. 104 bytes is the size since Linux 2.6 (enough for rtt).
TCPI_RTT_OFFSET = 68
TCP_INFO_LEN = 104
_RTT = struct.Struct("=I")
# SO_LINGER {on, 0 s}: close() sends RST and frees the 4-tuple at once.
# struct linger is two ints on POSIX but two u_shorts in Winsock.
_LINGER_ABORT = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)

_default_ops = LoopSocketOps()


def kernel_rtt_us(sock: Any) -> Optional[int]:
    """``tcpi_rtt`` in microseconds, or None where TCP_INFO is unavailable/empty."""
    if TCP_INFO is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, TCP_INFO_LEN)
    except (OSError, AttributeError, TypeError):
        return None
    if len(info) < TCPI_RTT_OFFSET + 4:
        return None
    rtt: int = _RTT.unpack_from(info, TCPI_RTT_OFFSET)[0]
    # 0 means the kernel took no RTT sample; the monotonic time is better than that.
    return rtt or None


@functools.lru_cache(maxsize=8192)  # cells repeat samples; parsing showed in profiles
def _target(
    dst: str, port: int, src: Optional[str]
) -> Tuple[int, Tuple[Any, ...], Optional[Tuple[Any, ...]]]:
    """Address family, destination and source sockaddrs; ValueError if unusable."""
    dst_ip = ipaddress.ip_address(dst)  # the agent never resolves names here
    src_ip = ipaddress.ip_address(src) if src else None
    if src_ip is not None and src_ip.version != dst_ip.version:
        raise ValueError(f"src {src} and dst {dst} are different address families")
    if dst_ip.version == 6:
        return socket.AF_INET6, (dst, port, 0, 0), (src, 0, 0, 0) if src else None
    return socket.AF_INET, (dst, port), (src, 0) if src else None


def _bind_source(sock: Any, source: Tuple[Any, ...]) -> None:
    if _LINUX:
        # Without this, bind((src, 0)) picks the ephemeral port before the
        # destination is known, so each bound source gets one port per
        # *source* rather than per 4-tuple and a sweep runs out of ports.
        # (kernel < 4.2 lacks it: binding still works, only port reuse is lost)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    sock.bind(source)


def _abort_close(sock: Any) -> None:
    """Close with RST instead of FIN.

    A probe connection carries nothing we care about once measured. An
    orderly close parks the 4-tuple in TIME_WAIT on our side for 60 s; at
    thousands of attempts per second against the same few dst:port pairs that
    exhausts the ephemeral port range and later attempts would fail with
    EADDRNOTAVAIL and be misreported. Port scanners abort the same way.
    """
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ABORT)
    sock.close()


async def _read_answer(ops: SocketOps, sock: Any) -> bytes:
    """Read up to one line (at most ``challenge.MAX_LINE`` bytes); b"" on EOF."""
    buf = b""
    while b"\n" not in buf and len(buf) <= challenge.MAX_LINE:
        chunk = await ops.recv(sock, challenge.MAX_LINE + 1 - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


async def probe(req: ProbeRequest, ops: Optional[SocketOps] = None) -> Sample:
    """One connect attempt (plus the nonce exchange when ``req.nonce`` is set)."""
    ops = ops or _default_ops
    t = time.time()
    try:
        family, dst, src = _target(req.dst, req.port, req.src)
    except ValueError as exc:
        return Sample(ERROR, detail=f"bad target: {exc}", t=t)
    try:
        sock = ops.socket(family, socket.SOCK_STREAM)
    except OSError as exc:  # EMFILE and friends: this host's problem, not the path's
        return Sample(ERROR, errno=exc.errno, detail=f"socket: {exc}", t=t)
    deadline = Deadline(req.timeout_ms / 1000.0)
    rtt_us: Optional[int] = None
    rtt_source: Optional[str] = None
    stage = "connect"
    try:
        try:
            if src is not None:
                stage = "bind"
                _bind_source(sock, src)
                stage = "connect"
            started = time.monotonic()
            await ops.connect(sock, dst)
            rtt_us = kernel_rtt_us(sock)
            if rtt_us is not None:
                rtt_source = "tcp_info"
            else:
                rtt_us = int((time.monotonic() - started) * 1e6)
                rtt_source = "monotonic"
            if req.nonce is None:
                return Sample(OPEN, rtt_us, rtt_source, t=t)
            stage = "challenge"
            chal = challenge.new_challenge()
            await ops.sendall(sock, challenge.challenge_line(chal))
            reply = await _read_answer(ops, sock)
        except asyncio.CancelledError:
            if not deadline.absorb():
                raise
            if stage == "challenge":
                return Sample(
                    HANDSHAKE_ONLY, rtt_us, rtt_source, detail="no answer before deadline", t=t
                )
            return Sample(TIMEOUT, detail=f"no answer within {req.timeout_ms} ms", t=t)
        except OSError as exc:
            if stage == "challenge":
                return Sample(
                    HANDSHAKE_ONLY,
                    rtt_us,
                    rtt_source,
                    errno=exc.errno,
                    detail=f"connected, then {classify_oserror(exc).detail}",
                    t=t,
                )
            outcome, number, detail = classify_oserror(exc)
            return Sample(outcome, errno=number, detail=f"{stage}: {detail}", t=t)
        if challenge.verify_answer(req.nonce, chal, reply):
            return Sample(OPEN, rtt_us, rtt_source, proven=True, t=t)
        what = (
            "wrong answer" if reply.startswith(challenge.MAGIC) else challenge.describe_reply(reply)
        )
        return Sample(HANDSHAKE_ONLY, rtt_us, rtt_source, detail=f"connected, then {what}", t=t)
    finally:
        deadline.close()
        _abort_close(sock)
