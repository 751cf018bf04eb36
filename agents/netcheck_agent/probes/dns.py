"""``dns``: one query (A by default) to a resolver over UDP or TCP 53.

``params``: ``name`` (the name to resolve, required), ``transport`` (``udp``
default, or ``tcp``), ``qtype`` (``A`` or ``AAAA``). Any well-formed answer
means the resolver is reachable on that transport: the sample is ``open``
with the answer code, the addresses and the RTT as facts, whatever the
answer code (the coordinator judges NXDOMAIN/SERVFAIL/REFUSED). Datagrams
that are not the answer to our query (other id, other name, garbage) are
ignored, at most :data:`MAX_DATAGRAMS` of them.

:func:`query` is also what ``https_endpoint`` resolves names with when the
topology names a resolver, so tests never touch a real DNS server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import struct
import time
from typing import Any, Dict, Optional, Tuple

from ..protocol import ProbeRequest, Sample
from . import _app
from .base import Deadline, LoopSocketOps, SocketOps
from .dnswire import (
    QTYPE_A,
    QTYPE_AAAA,
    DnsAnswer,
    DnsError,
    build_query,
    encode_name,
    frame_tcp,
    parse_response,
    rcode_name,
)
from .errors import ERROR, HANDSHAKE_ONLY, OPEN, TIMEOUT, classify_oserror
from .tcp_connect import _abort_close

KIND = "dns"
MAX_DATAGRAMS = 8
MAX_TCP_MESSAGE = 65535
_QTYPES = {"A": QTYPE_A, "AAAA": QTYPE_AAAA}
_default_ops = LoopSocketOps()


class QueryState:
    """Progress of one query: ``connected`` (TCP) and the RTT so far."""

    def __init__(self) -> None:
        self.connected = False
        self.sent_at = 0.0
        self.tcp_rtt: Optional[Tuple[int, str]] = None
        self.last_error = ""


def _matches(answer: DnsAnswer, qid: int, name: str) -> bool:
    return answer.qid == qid and answer.question.lower() == name.rstrip(".").lower()


async def _udp(
    ops: SocketOps, sock: Any, message: bytes, qid: int, name: str, st: QueryState
) -> DnsAnswer:
    st.sent_at = time.monotonic()
    await ops.sendall(sock, message)
    for _ in range(MAX_DATAGRAMS):
        data = await ops.recv(sock, 4096)
        try:
            answer = parse_response(data)
        except DnsError as exc:
            st.last_error = f"not a DNS answer ({exc})"
            continue
        if _matches(answer, qid, name):
            return answer
        st.last_error = "an answer to another query"
    raise DnsError(f"no answer to our query among {MAX_DATAGRAMS} datagrams: {st.last_error}")


async def _read_exact(stream: _app.Stream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = await stream.recv(n - len(data))
        if not chunk:
            raise DnsError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


async def query(
    ops: SocketOps,
    server: str,
    port: int,
    name: str,
    transport: str = "udp",
    src: Optional[str] = None,
    qtype: int = QTYPE_A,
    st: Optional[QueryState] = None,
) -> Tuple[DnsAnswer, int]:
    """Ask ``server`` for ``name``; the answer and its RTT in µs.

    Raises OSError (refused, unreachable), DnsError (no usable answer) or
    ValueError (bad name or address); the caller's deadline bounds it.
    """
    st = st or QueryState()
    qid = secrets.randbelow(0x10000)
    message = build_query(name, qid, qtype)
    if transport == "tcp":
        sock, st.tcp_rtt = await _app.connect_tcp(ops, server, port, src)
        try:
            st.connected = True
            stream = _app.Stream(ops, sock)
            st.sent_at = time.monotonic()
            await stream.send(frame_tcp(message))
            (length,) = struct.unpack("!H", await _read_exact(stream, 2))
            answer = parse_response(await _read_exact(stream, length))
            if not _matches(answer, qid, name):
                raise DnsError("the answer is for another query")
            return answer, int((time.monotonic() - st.sent_at) * 1e6)
        finally:
            _abort_close(sock)
    family, addr = _app.sockaddr(server, port)
    sock = ops.socket(family, socket.SOCK_DGRAM)
    try:
        if src:
            if ipaddress.ip_address(src).version != ipaddress.ip_address(server).version:
                raise ValueError(f"src {src} and resolver {server} are different address families")
            sock.bind((src, 0) if family == socket.AF_INET else (src, 0, 0, 0))
        await ops.connect(sock, addr)  # so ICMP port-unreachable comes back as ECONNREFUSED
        answer = await _udp(ops, sock, message, qid, name, st)
        return answer, int((time.monotonic() - st.sent_at) * 1e6)
    finally:
        sock.close()


def answer_facts(answer: DnsAnswer) -> Dict[str, Any]:
    return {
        "rcode": rcode_name(answer.rcode),
        "answers": _app.str_list(list(answer.answers)),
        "truncated": answer.truncated,
        "authoritative": answer.authoritative,
        "recursion_available": answer.recursion_available,
    }


async def probe(req: ProbeRequest, ops: Optional[SocketOps] = None) -> Sample:
    """One query to ``dst``:``port`` for ``params.name``."""
    ops = ops or _default_ops
    t = time.time()
    params = req.params or {}
    name = params.get("name")
    transport = params.get("transport", "udp")
    qtype_text = str(params.get("qtype", "A")).upper()
    if not isinstance(name, str) or not name:
        return Sample(
            ERROR, detail="bad request: params.name (the name to resolve) is required", t=t
        )
    if transport not in ("udp", "tcp") or qtype_text not in _QTYPES:
        return Sample(ERROR, detail="bad request: transport udp|tcp, qtype A|AAAA", t=t)
    try:
        encode_name(name)
    except DnsError as exc:
        return Sample(ERROR, detail=f"bad request: params.name: {exc}", t=t)
    facts: Dict[str, Any] = {"transport": transport, "query": name, "qtype": qtype_text}
    st = QueryState()
    deadline = Deadline(req.timeout_ms / 1000.0)
    try:
        answer, rtt = await query(
            ops, req.dst, req.port, name, transport, req.src, _QTYPES[qtype_text], st
        )
    except asyncio.CancelledError:
        if not deadline.absorb():
            raise
        if st.connected and st.tcp_rtt is not None:
            facts["dns_error"] = f"no answer within {req.timeout_ms} ms"
            return Sample(
                HANDSHAKE_ONLY,
                st.tcp_rtt[0],
                st.tcp_rtt[1],
                detail="connected, then no DNS answer before the deadline",
                t=t,
                facts=facts,
            )
        if st.last_error:
            facts["dns_error"] = st.last_error
        return Sample(TIMEOUT, detail=f"no answer within {req.timeout_ms} ms", t=t, facts=facts)
    except DnsError as exc:
        facts["dns_error"] = str(exc)
        got = st.tcp_rtt or (int((time.monotonic() - st.sent_at) * 1e6), "monotonic")
        return Sample(
            HANDSHAKE_ONLY, got[0], got[1], detail=f"answered, but {exc}", t=t, facts=facts
        )
    except OSError as exc:
        outcome, number, detail = classify_oserror(exc)
        return Sample(outcome, errno=number, detail=detail, t=t, facts=facts)
    except ValueError as exc:
        return Sample(ERROR, detail=f"bad target: {exc}", t=t, facts=facts)
    finally:
        deadline.close()
    facts.update(answer_facts(answer))
    return Sample(OPEN, rtt, "monotonic", t=t, facts=facts)
