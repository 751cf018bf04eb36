"""Pieces the application probes share: a TCP connect over :class:`SocketOps`,
TLS driven through memory BIOs over the same ops, HTTP status lines, and the
facts a TLS handshake yields.

TLS runs on ``ssl.SSLObject`` + ``MemoryBIO`` rather than ``loop.start_tls``
so that every byte still goes through the injectable ``ops`` (unit tests can
feed crafted peers) and one deadline bounds connect, handshake and request.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import socket
import ssl
import time
import warnings
from typing import Any, Dict, List, Optional, Tuple

from .base import SocketOps
from .tcp_connect import _bind_source, _tcp_info, connected_rtt
from .x509 import CertificateError, days_left, name_matches, parse_certificate

#: Bytes read at most while looking for an HTTP status line / proxy answer head.
MAX_HEAD = 8192
#: Where an application attempt was when it ended (the ``stage`` fact).
STAGE_DNS = "dns"
STAGE_CONNECT = "connect"
STAGE_PROXY = "proxy"
STAGE_TLS = "tls"
STAGE_HTTP = "http"
STAGE_DONE = "done"


def split_host_port(text: str, default_port: int) -> Tuple[str, int]:
    """``"198.18.1.5"``, ``"198.18.1.5:3128"``, ``"[2001:db8::1]:53"``, ``"proxy.lan:8080"``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if not host:
        raise ValueError(f"{text!r}: no host")
    if port:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{text!r}: bad port")
        return host, int(port)
    return host, default_port


def sockaddr(host: str, port: int) -> Tuple[int, Tuple[Any, ...]]:
    """Family and sockaddr of an IP literal (ValueError for a name)."""
    ip = ipaddress.ip_address(host)
    if ip.version == 6:
        return socket.AF_INET6, (host, port, 0, 0)
    return socket.AF_INET, (host, port)


async def connect_tcp(
    ops: SocketOps, host: str, port: int, src: Optional[str]
) -> Tuple[Any, Tuple[int, str]]:
    """A connected non-blocking TCP socket to an IP literal, and the connect RTT.

    The caller closes the socket (also when this raises after creating it: it
    is closed here in that case).
    """
    family, addr = sockaddr(host, port)
    sock = ops.socket(family, socket.SOCK_STREAM)
    try:
        if src:
            src_ip = ipaddress.ip_address(src)
            if src_ip.version != ipaddress.ip_address(host).version:
                raise ValueError(f"src {src} and dst {host} are different address families")
            _bind_source(sock, (src, 0) if src_ip.version == 4 else (src, 0, 0, 0))
        started = time.monotonic()
        await ops.connect(sock, addr)
        return sock, connected_rtt(_tcp_info(sock), time.monotonic() - started)
    except BaseException:
        sock.close()
        raise


class Stream:
    """Plain bytes over a connected socket, with a read buffer."""

    def __init__(self, ops: SocketOps, sock: Any):
        self.ops = ops
        self.sock = sock
        self.buf = b""

    async def send(self, data: bytes) -> None:
        await self.ops.sendall(self.sock, data)

    async def recv(self, n: int = 65536) -> bytes:
        if self.buf:
            data, self.buf = self.buf[:n], self.buf[n:]
            return data
        return await self.ops.recv(self.sock, n)

    async def read_head(self, limit: int = MAX_HEAD) -> bytes:
        """Bytes up to and including the blank line ending an HTTP head (or EOF/limit)."""
        data = b""
        while b"\r\n\r\n" not in data and len(data) < limit:
            chunk = await self.recv(limit - len(data))
            if not chunk:
                break
            data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        self.buf = rest + self.buf
        return head + sep


class TlsStream:
    """TLS over a :class:`Stream` through memory BIOs (``ssl.SSLObject``)."""

    def __init__(self, raw: Stream, ctx: ssl.SSLContext, server_hostname: Optional[str]):
        self.raw = raw
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)
        self._eof = False

    async def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            await self.raw.send(data)

    async def _fill(self) -> None:
        if self._eof:
            raise ConnectionResetError("peer closed the connection")
        data = await self.raw.recv(65536)
        if data:
            self.incoming.write(data)
        else:
            self._eof = True
            self.incoming.write_eof()

    async def handshake(self) -> None:
        while True:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                await self._fill()
                continue
            await self._flush()
            return

    async def send(self, data: bytes) -> None:
        self.obj.write(data)
        await self._flush()

    async def recv(self, n: int = 65536) -> bytes:
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                await self._flush()
                try:
                    await self._fill()
                except ConnectionResetError:
                    return b""
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    async def read_head(self, limit: int = MAX_HEAD) -> bytes:
        data = b""
        while b"\r\n" not in data and len(data) < limit:
            chunk = await self.recv(limit - len(data))
            if not chunk:
                break
            data += chunk
        return data


# -- contexts ------------------------------------------------------------------

_contexts: Dict[str, ssl.SSLContext] = {}


def verify_context() -> ssl.SSLContext:
    """The system trust store, chain only: whether the name matches is judged
    separately (the servers are usually probed by IP address)."""
    ctx = _contexts.get("verify")
    if ctx is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        _contexts["verify"] = ctx
    return ctx


def facts_context() -> ssl.SSLContext:
    """No verification and old protocol versions allowed: the handshake is for
    reading facts (version, cipher, certificate), nothing secret is sent."""
    ctx = _contexts.get("facts")
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with warnings.catch_warnings():  # deprecated for use, fine for looking
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            pass  # this OpenSSL refuses: keep its defaults
        _contexts["facts"] = ctx
    return ctx


# -- facts ---------------------------------------------------------------------


def tls_facts(obj: ssl.SSLObject, name: Optional[str], now: _dt.datetime) -> Dict[str, Any]:
    """What the finished handshake shows: version, cipher, the peer certificate."""
    facts: Dict[str, Any] = {
        "tls_version": obj.version() or "",
        "cipher": (obj.cipher() or ("",))[0],
    }
    der = obj.getpeercert(binary_form=True)
    if not der:
        facts["cert_error"] = "the server sent no certificate"
        return facts
    try:
        cert = parse_certificate(der)
    except CertificateError as exc:
        facts["cert_error"] = f"unreadable certificate: {exc}"
        return facts
    facts.update(
        cert_subject=cert.subject,
        cert_issuer=cert.issuer,
        cert_san=list(cert.san),
        cert_not_before=cert.not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        cert_not_after=cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        cert_days_left=days_left(cert, now),
        cert_self_signed=cert.self_signed,
    )
    if name:
        facts["name_matches"] = name_matches(cert, name)
    return facts


def parse_status_line(head: bytes) -> Tuple[Optional[int], str]:
    """(status code, status line) of an HTTP response head; (None, what came) if not HTTP."""
    line = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0][:200].decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
        code = int(parts[1])
        if 100 <= code <= 999:
            return code, line.strip()
    return None, line.strip()


def http_get(host_header: str, path: str = "/") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: netcheck\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii")


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def ssl_error_text(exc: BaseException) -> str:
    """A short reason from an SSL error (the verify message when there is one)."""
    verify = getattr(exc, "verify_message", None)
    if verify:
        return str(verify)
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).replace("_", " ").lower()
    return str(exc) or type(exc).__name__


def str_list(values: List[str]) -> List[str]:
    return [str(v)[:512] for v in values[:64]]
