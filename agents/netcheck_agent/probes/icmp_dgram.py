"""ICMP echo without privilege: ``socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)``.

Linux (and macOS) offer these "ping sockets" to the groups listed in
``net.ipv4.ping_group_range`` (the default ``1 0`` allows nobody). The kernel
fills in the identifier and checksum and hands back only echo replies for
our socket. Where it is refused the result is ``unavailable`` with the
reason — never an echo that silently did not happen.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import List, Optional, Tuple

from .._diag_msgs import DiagRequest, DiagResult, Hop

_ECHO = struct.Struct("!BBHHH")  # type, code, checksum, id, seq


def _ping_group_range() -> str:
    try:
        with open("/proc/sys/net/ipv4/ping_group_range") as fh:
            return " ".join(fh.read().split())
    except OSError:
        return "?"


def icmp_dgram_usable() -> Tuple[bool, str]:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP):
            return True, ""
    except PermissionError:
        return False, (
            "unprivileged ICMP sockets are not allowed for this user's groups "
            f"(net.ipv4.ping_group_range = {_ping_group_range()})"
        )
    except OSError as exc:
        return False, f"unprivileged ICMP sockets unavailable: {exc}"


def echo(req: DiagRequest) -> DiagResult:
    """``count`` echo requests ``interval_ms`` apart, each waiting ``timeout_ms``."""
    t0 = time.monotonic()
    end = t0 + req.deadline_ms / 1000.0
    count = min(req.count, req.max_packets)
    hops: List[Hop] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP) as sock:
        sock.setblocking(False)
        if req.src:
            sock.bind((req.src, 0))
        payload = b"netcheck-echo\x00\x00\x00"
        for seq in range(1, count + 1):
            start = time.monotonic()
            if start + req.timeout_ms / 1000.0 > end:
                break
            sock.sendto(_ECHO.pack(8, 0, 0, 0, seq) + payload, (req.dst, 0))
            rtt = _await_reply(sock, seq, min(end, start + req.timeout_ms / 1000.0), start)
            hops.append(
                Hop(
                    ttl=seq,
                    reply="echo-reply" if rtt is not None else "none",
                    address=req.dst if rtt is not None else None,
                    rtt_us=None if rtt is None else int(rtt * 1e6),
                    icmp_type=0 if rtt is not None else None,
                    icmp_code=0 if rtt is not None else None,
                    icmp="echo-reply" if rtt is not None else "",
                )
            )
            pause = start + req.interval_ms / 1000.0 - time.monotonic()
            if pause > 0 and seq < count:
                time.sleep(min(pause, max(0.0, end - time.monotonic())))
    received = sum(1 for h in hops if h.answered)
    return DiagResult(
        req.id,
        "echo",
        "icmp_dgram",
        detail="" if len(hops) == count else f"deadline reached after {len(hops)} of {count}",
        hops=tuple(hops),
        reached=received > 0,
        sent=len(hops),
        received=received,
        packets=len(hops),
        elapsed_ms=int((time.monotonic() - t0) * 1000),
    )


def _await_reply(sock: socket.socket, seq: int, until: float, start: float) -> Optional[float]:
    """The RTT of the reply with sequence ``seq``, or None when none came by ``until``."""
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return None
        try:
            data = sock.recv(2048)
        except BlockingIOError:
            continue
        if len(data) >= _ECHO.size:
            icmp_type, _code, _sum, _id, got = _ECHO.unpack_from(data)
            if icmp_type == 0 and got == seq:
                return time.monotonic() - start
