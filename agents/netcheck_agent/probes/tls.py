"""``tls``: TCP connect + TLS handshake (SNI), the certificate, optionally ``GET /``.

Where a real service listens on 443 / 9443 (configuration server, process
server, vCenter) a connect proves little; the handshake shows the protocol
version, the cipher and the certificate (subject, issuer, SAN, expiry), and
whether its chain verifies against this host's trust store. With
``params.http`` the probe sends ``GET /`` over the session and reports the
status line: the documented check of a process server is that
``https://<PS>:9443/`` ends in "400 Bad Request" — the data port works.

``params``: ``sni`` (a host name; none for an IP target), ``http`` (bool),
``verify`` (bool, default true: one extra handshake against the system store
when the first does not verify — ASR servers use self-signed certificates).

Outcomes: ``open`` (handshake done; facts attached), ``handshake_only`` (TCP
connected, TLS failed: facts say why), and connect failures as ``tcp_connect``
reports them. The attempt's deadline bounds every connection it makes.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from ..protocol import ProbeRequest, Sample
from . import _app
from .base import Deadline, LoopSocketOps, SocketOps
from .errors import ERROR, HANDSHAKE_ONLY, OPEN, TIMEOUT, classify_oserror
from .tcp_connect import _abort_close

KIND = "tls"
_default_ops = LoopSocketOps()

OpenStream = Callable[[], Awaitable[_app.Stream]]


class TlsAttempt:
    """Where one attempt is (``stage``), what it learned, what it must close."""

    def __init__(self) -> None:
        self.stage = _app.STAGE_CONNECT
        self.facts: Dict[str, Any] = {}
        self.socks: List[Any] = []
        self.rtt: Optional[Tuple[int, str]] = None

    def close(self) -> None:
        for sock in self.socks:
            _abort_close(sock)
        self.socks.clear()


def host_header(name: str, port: int) -> str:
    host = f"[{name}]" if ":" in name else name
    return host if port == 443 else f"{host}:{port}"


async def session(
    att: TlsAttempt,
    open_stream: OpenStream,
    sni: Optional[str],
    match_name: Optional[str],
    http: Optional[str],
    verify: bool,
) -> None:
    """Handshake (verifying first when ``verify``), facts, then ``GET /`` if ``http``
    (the Host header). Raises ssl.SSLError / OSError for a failed handshake."""
    tls: Optional[_app.TlsStream] = None
    started = time.monotonic()
    if verify:
        stream = await open_stream()
        att.stage = _app.STAGE_TLS
        tls = _app.TlsStream(stream, _app.verify_context(), sni)
        try:
            await tls.handshake()
            att.facts["chain_verified"] = True
        except ssl.SSLCertVerificationError as exc:
            att.facts["chain_verified"] = False
            att.facts["verify_error"] = _app.ssl_error_text(exc)
            tls = None
        except (ssl.SSLError, OSError) as exc:
            att.facts["verify_error"] = (
                "handshake with this host's default TLS settings failed: "
                + _app.ssl_error_text(exc)
            )
            tls = None
        if tls is None:
            _abort_close(att.socks.pop())
            started = time.monotonic()
    if tls is None:
        att.stage = _app.STAGE_CONNECT
        stream = await open_stream()
        att.stage = _app.STAGE_TLS
        tls = _app.TlsStream(stream, _app.facts_context(), sni)
        await tls.handshake()
    att.facts["handshake_ms"] = round((time.monotonic() - started) * 1000.0, 3)
    att.facts.update(_app.tls_facts(tls.obj, match_name, _app.utc_now()))
    if http is not None:
        att.stage = _app.STAGE_HTTP
        await tls.send(_app.http_get(http))
        head = await tls.read_head()
        code, line = _app.parse_status_line(head)
        if code is not None:
            att.facts["http_status"] = code
            att.facts["http_status_line"] = line
        else:
            att.facts["http_error"] = (
                f"not an HTTP answer: {line[:80]!r}" if line else "closed without an HTTP answer"
            )
    att.stage = _app.STAGE_DONE


def failed_sample(att: TlsAttempt, exc: BaseException, t: float) -> Sample:
    """The sample for an exception at ``att.stage`` (connect, TLS or HTTP)."""
    if att.stage == _app.STAGE_HTTP and att.rtt is not None:
        att.facts["http_error"] = (
            f"the session broke before an HTTP answer: {_app.ssl_error_text(exc)}"
        )
        att.facts["stage"] = att.stage
        return Sample(OPEN, att.rtt[0], att.rtt[1], t=t, facts=att.facts)
    if att.stage == _app.STAGE_TLS and att.rtt is not None:
        reason = _app.ssl_error_text(exc)
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)):
            reason = "the peer closed the connection during the TLS handshake"
        att.facts["tls_error"] = reason
        att.facts["stage"] = att.stage
        return Sample(
            HANDSHAKE_ONLY,
            att.rtt[0],
            att.rtt[1],
            detail=f"connected, then TLS handshake failed: {reason}",
            t=t,
            facts=att.facts,
        )
    if isinstance(exc, OSError):
        outcome, number, detail = classify_oserror(exc)
        att.facts["stage"] = att.stage
        return Sample(outcome, errno=number, detail=f"{att.stage}: {detail}", t=t, facts=att.facts)
    att.facts["stage"] = att.stage
    return Sample(ERROR, detail=f"{att.stage}: {exc}", t=t, facts=att.facts)


def deadline_sample(att: TlsAttempt, timeout_ms: int, t: float) -> Sample:
    att.facts["stage"] = att.stage
    if att.stage == _app.STAGE_HTTP and att.rtt is not None:
        att.facts["http_error"] = f"no HTTP answer within {timeout_ms} ms"
        return Sample(OPEN, att.rtt[0], att.rtt[1], t=t, facts=att.facts)
    if att.stage == _app.STAGE_TLS and att.rtt is not None:
        att.facts["tls_error"] = f"no TLS answer within {timeout_ms} ms"
        return Sample(
            HANDSHAKE_ONLY,
            att.rtt[0],
            att.rtt[1],
            detail="connected, then no TLS handshake before the deadline",
            t=t,
            facts=att.facts,
        )
    return Sample(
        TIMEOUT, detail=f"{att.stage}: no answer within {timeout_ms} ms", t=t, facts=att.facts
    )


def _param(req: ProbeRequest, key: str, default: Any) -> Any:
    return (req.params or {}).get(key, default)


async def probe(req: ProbeRequest, ops: Optional[SocketOps] = None) -> Sample:
    """One attempt: connect to ``dst``:``port``, handshake, maybe ``GET /``."""
    ops = ops or _default_ops
    t = time.time()
    sni = _param(req, "sni", None)
    http = bool(_param(req, "http", False))
    verify = bool(_param(req, "verify", True))
    att = TlsAttempt()
    if sni:
        att.facts["sni"] = sni

    async def open_stream() -> _app.Stream:
        sock, rtt = await _app.connect_tcp(ops, req.dst, req.port, req.src)
        att.socks.append(sock)
        if att.rtt is None:
            att.rtt = rtt
        return _app.Stream(ops, sock)

    try:
        _app.sockaddr(req.dst, req.port)
    except ValueError as exc:
        return Sample(ERROR, detail=f"bad target: {exc}", t=t)
    deadline = Deadline(req.timeout_ms / 1000.0)
    try:
        try:
            await session(
                att,
                open_stream,
                sni,
                sni or req.dst,
                host_header(sni or req.dst, req.port) if http else None,
                verify,
            )
        except asyncio.CancelledError:
            if not deadline.absorb():
                raise
            return deadline_sample(att, req.timeout_ms, t)
        except (ssl.SSLError, OSError, ValueError) as exc:
            return failed_sample(att, exc, t)
        assert att.rtt is not None
        return Sample(OPEN, att.rtt[0], att.rtt[1], t=t, facts=att.facts)
    finally:
        deadline.close()
        att.close()
