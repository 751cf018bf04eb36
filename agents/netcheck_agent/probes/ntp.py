"""``ntp``: one SNTP query to UDP ``dst``:``port`` (123), the clock offset and RTT.

Any valid server reply is ``open`` with facts: ``offset_ms`` (server − this
host; positive means this host is behind), ``delay_ms`` (round trip minus the
server's processing), ``stratum``, ``ref_id``, ``leap``; a kiss-o'-death
(stratum 0) carries ``kiss_code``. The coordinator flags offsets beyond 15
minutes (ASR error ACS50008). Replies that do not echo our request's
timestamp are ignored (at most :data:`MAX_DATAGRAMS`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import Any, Dict, Optional

from ..protocol import ProbeRequest, Sample
from . import _app
from .base import Deadline, LoopSocketOps, SocketOps
from .errors import ERROR, HANDSHAKE_ONLY, OPEN, TIMEOUT, classify_oserror
from .ntpwire import NtpError, build_request, offset_and_delay, parse_reply

KIND = "ntp"
MAX_DATAGRAMS = 8
_default_ops = LoopSocketOps()


def reply_facts(reply: Any, offset_s: float, delay_s: float) -> Dict[str, Any]:
    facts: Dict[str, Any] = {
        "offset_ms": round(offset_s * 1000.0, 3),
        "delay_ms": round(max(0.0, delay_s) * 1000.0, 3),
        "stratum": reply.stratum,
        "ref_id": reply.ref_id,
        "leap": reply.leap,
        "version": reply.version,
    }
    if reply.stratum == 0:
        facts["kiss_code"] = reply.ref_id
    return facts


async def probe(req: ProbeRequest, ops: Optional[SocketOps] = None) -> Sample:
    ops = ops or _default_ops
    t = time.time()
    try:
        family, addr = _app.sockaddr(req.dst, req.port)
        if (
            req.src
            and ipaddress.ip_address(req.src).version != ipaddress.ip_address(req.dst).version
        ):
            raise ValueError(f"src {req.src} and dst {req.dst} are different address families")
    except ValueError as exc:
        return Sample(ERROR, detail=f"bad target: {exc}", t=t)
    try:
        sock = ops.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        return Sample(ERROR, errno=exc.errno, detail=f"socket: {exc}", t=t)
    deadline = Deadline(req.timeout_ms / 1000.0)
    last_error = ""
    sent_mono = 0.0
    try:
        try:
            if req.src:
                sock.bind((req.src, 0) if family == socket.AF_INET else (req.src, 0, 0, 0))
            await ops.connect(sock, addr)
            t1 = time.time()
            sent_mono = time.monotonic()
            packet, stamp = build_request(t1)
            await ops.sendall(sock, packet)
            for _ in range(MAX_DATAGRAMS):
                data = await ops.recv(sock, 1024)
                # T4 from the same clock as T1, moved by the monotonic time elapsed,
                # so a clock step during the attempt does not show as offset.
                t4 = t1 + (time.monotonic() - sent_mono)
                try:
                    reply = parse_reply(data, stamp)
                except NtpError as exc:
                    last_error = str(exc)
                    continue
                offset, delay = offset_and_delay(t1, reply.receive, reply.transmit, t4)
                rtt_us = int((t4 - t1) * 1e6)
                return Sample(
                    OPEN, rtt_us, "monotonic", t=t, facts=reply_facts(reply, offset, delay)
                )
            return Sample(
                HANDSHAKE_ONLY,
                int((time.monotonic() - sent_mono) * 1e6),
                "monotonic",
                detail=f"answered, but not with an NTP reply to our request: {last_error}",
                t=t,
                facts={"ntp_error": last_error},
            )
        except asyncio.CancelledError:
            if not deadline.absorb():
                raise
            facts = {"ntp_error": last_error} if last_error else None
            return Sample(TIMEOUT, detail=f"no answer within {req.timeout_ms} ms", t=t, facts=facts)
        except OSError as exc:
            outcome, number, detail = classify_oserror(exc)
            return Sample(outcome, errno=number, detail=detail, t=t)
    finally:
        deadline.close()
        sock.close()
