"""``https_endpoint``: reach an Azure endpoint by name on TCP 443 with TLS (SNI),
directly or through an HTTP proxy (``CONNECT``).

``dst`` is the endpoint's host name (``login.microsoftonline.com``). Direct:
the name is resolved — through ``params.resolver`` (``IP`` or ``IP:PORT``,
asked with this agent's own DNS client, so tests and labs never query a
real DNS server) or the host's own resolver when none is given — then
connected and handshaken with SNI. Through ``params.proxy`` (``HOST:PORT``)
the proxy resolves the name: the agent sends ``CONNECT name:port`` and runs
TLS inside the tunnel. A 407 answer is an authenticating proxy, which ASR
classic does not support.

Outcomes: ``open`` (TLS done), ``handshake_only`` (connected — to the
endpoint or the proxy — but the proxy refused the tunnel or TLS failed),
``error`` for a name that did not resolve (fact ``stage`` = ``dns``), and
the connect outcomes of ``tcp_connect``. Facts as ``tls``, plus
``endpoint``, ``resolver``, ``resolved``, ``address``, ``proxy``,
``proxy_status``, ``proxy_status_line``, ``dns_error``, ``dns_rcode``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from typing import List, Optional

from ..protocol import ProbeRequest, Sample
from . import _app, dns, tls
from .base import Deadline, LoopSocketOps, SocketOps
from .dnswire import DnsError, addresses, rcode_name
from .errors import ERROR, HANDSHAKE_ONLY, OPEN

KIND = "https_endpoint"
_default_ops = LoopSocketOps()


class ResolveError(Exception):
    def __init__(self, reason: str, rcode: Optional[str] = None):
        super().__init__(reason)
        self.reason = reason
        self.rcode = rcode


class ProxyRefused(Exception):
    def __init__(self, status: Optional[int], line: str):
        super().__init__(line)
        self.status = status
        self.line = line


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def resolve(
    ops: SocketOps, name: str, resolver: Optional[str], src: Optional[str]
) -> List[str]:
    """The addresses of ``name`` (an IP literal is its own answer)."""
    if _is_ip(name):
        return [name]
    if resolver:
        server, port = _app.split_host_port(resolver, 53)
        try:
            answer, _ = await dns.query(ops, server, port, name, "udp", _src_for(src, server))
            if answer.truncated and not addresses(answer):
                answer, _ = await dns.query(ops, server, port, name, "tcp", _src_for(src, server))
        except DnsError as exc:
            raise ResolveError(f"resolver {resolver}: {exc}") from None
        except OSError as exc:
            raise ResolveError(f"resolver {resolver} unreachable: {exc.strerror or exc}") from None
        if answer.rcode != 0:
            code = rcode_name(answer.rcode)
            raise ResolveError(f"resolver {resolver} answered {code} for {name}", code)
        found = addresses(answer)
        if not found:
            raise ResolveError(f"resolver {resolver} has no address for {name}", "NOERROR")
        return found
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolveError(f"the host's resolver: {exc.strerror or exc}") from None
    out: List[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in out:
            out.append(addr)
    if not out:
        raise ResolveError(f"the host's resolver has no address for {name}")
    return out


def _src_for(src: Optional[str], dst: str) -> Optional[str]:
    """The source address if it is of ``dst``'s family (else let the OS choose)."""
    if not src:
        return None
    return src if ipaddress.ip_address(src).version == ipaddress.ip_address(dst).version else None


def connect_line(name: str, port: int) -> bytes:
    target = f"[{name}]" if ":" in name else name
    return (
        f"CONNECT {target}:{port} HTTP/1.1\r\nHost: {target}:{port}\r\nUser-Agent: netcheck\r\n\r\n"
    ).encode("ascii")


async def probe(req: ProbeRequest, ops: Optional[SocketOps] = None) -> Sample:
    ops = ops or _default_ops
    t = time.time()
    params = req.params or {}
    name = req.dst
    resolver = params.get("resolver")
    proxy = params.get("proxy")
    verify = bool(params.get("verify", True))
    http = bool(params.get("http", False))
    att = tls.TlsAttempt()
    att.facts["endpoint"] = name
    att.facts["resolver"] = "proxy" if proxy else (resolver or "system")
    if proxy:
        att.facts["proxy"] = proxy
    deadline = Deadline(req.timeout_ms / 1000.0)
    try:
        try:
            if proxy:
                host, port = _app.split_host_port(str(proxy), 3128)
            else:
                host, port = name, req.port
            att.stage = _app.STAGE_DNS
            found = await resolve(ops, host, resolver, req.src)
            if not proxy:
                att.facts["resolved"] = _app.str_list(found)
            target = found[0]
            att.facts["address"] = target
            att.stage = _app.STAGE_CONNECT

            async def open_stream() -> _app.Stream:
                att.stage = _app.STAGE_CONNECT
                sock, rtt = await _app.connect_tcp(ops, target, port, _src_for(req.src, target))
                att.socks.append(sock)
                if att.rtt is None:
                    att.rtt = rtt
                stream = _app.Stream(ops, sock)
                if proxy:
                    att.stage = _app.STAGE_PROXY
                    await stream.send(connect_line(name, req.port))
                    head = await stream.read_head()
                    code, line = _app.parse_status_line(head)
                    att.facts["proxy_status"] = code
                    att.facts["proxy_status_line"] = line
                    if code is None or not 200 <= code < 300:
                        raise ProxyRefused(code, line)
                return stream

            await tls.session(
                att,
                open_stream,
                name if not _is_ip(name) else None,
                name,
                tls.host_header(name, req.port) if http else None,
                verify,
            )
        except asyncio.CancelledError:
            if not deadline.absorb():
                raise
            if att.stage == _app.STAGE_DNS:
                att.facts["stage"] = att.stage
                att.facts["dns_error"] = f"no answer within {req.timeout_ms} ms"
                return Sample(
                    ERROR, detail="DNS: no answer before the deadline", t=t, facts=att.facts
                )
            if att.stage == _app.STAGE_PROXY and att.rtt is not None:
                att.facts["stage"] = att.stage
                return Sample(
                    HANDSHAKE_ONLY,
                    att.rtt[0],
                    att.rtt[1],
                    detail="connected to the proxy, then no answer to CONNECT before the deadline",
                    t=t,
                    facts=att.facts,
                )
            return tls.deadline_sample(att, req.timeout_ms, t)
        except ResolveError as exc:
            att.facts["stage"] = _app.STAGE_DNS
            att.facts["dns_error"] = exc.reason
            if exc.rcode:
                att.facts["dns_rcode"] = exc.rcode
            return Sample(ERROR, detail=f"DNS: {exc.reason}", t=t, facts=att.facts)
        except ProxyRefused as exc:
            att.facts["stage"] = _app.STAGE_PROXY
            assert att.rtt is not None
            what = (
                "authenticating proxy (407) — not supported by ASR classic"
                if exc.status == 407
                else f"proxy refused the tunnel: {exc.line[:120]!r}"
                if exc.status is not None
                else f"not an HTTP proxy answer: {exc.line[:80]!r}"
            )
            return Sample(HANDSHAKE_ONLY, att.rtt[0], att.rtt[1], detail=what, t=t, facts=att.facts)
        except (ssl.SSLError, OSError, ValueError) as exc:
            if (
                att.stage == _app.STAGE_PROXY
                and att.rtt is not None
                and not isinstance(exc, ssl.SSLError)
            ):
                att.facts["stage"] = att.stage
                return Sample(
                    HANDSHAKE_ONLY,
                    att.rtt[0],
                    att.rtt[1],
                    detail=f"connected to the proxy, then {exc}",
                    t=t,
                    facts=att.facts,
                )
            return tls.failed_sample(att, exc, t)
        assert att.rtt is not None
        return Sample(OPEN, att.rtt[0], att.rtt[1], t=t, facts=att.facts)
    finally:
        deadline.close()
        att.close()
