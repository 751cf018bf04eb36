"""Local stand-ins for the services the application probes talk to, on 127.77.x.y only.

- a TLS server (certificates from the ``openssl`` CLI, backdated ones through
  ``openssl ca``) answering ``GET /``
  with a chosen status — 400 Bad Request like an ASR process server on 9443;
- a DNS responder on UDP and TCP answering a fixed table of names (written
  here from RFC 1035, independently of the agent's own ``dnswire``);
- an SNTP server whose clock runs ``offset_s`` ahead of ours;
- an HTTP ``CONNECT`` proxy that tunnels only to names of its own table
  (mapped to loopback addresses: it never resolves a name) or answers 407.

Everything runs on one event loop in a background thread, so an in-process
test and a ``netcheck`` CLI run alike can use them. Each server is bounded
(connections, bytes, per-connection time) and everything stops when the
context manager exits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import secrets
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NTP_EPOCH = 2_208_988_800
MAX_CONNS = 200
CONN_SECONDS = 10.0


def _loopback(address: str) -> str:
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"test servers bind loopback addresses only, not {address}")
    return address


# -- certificates ----------------------------------------------------------------


def openssl_self_signed(tmp: Path, cn: str, san: str, days: int = 365) -> tuple[Path, Path]:
    """A self-signed certificate and key from the openssl CLI."""
    cert, key = tmp / f"{cn}.crt", tmp / f"{cn}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", str(days),
            "-subj", f"/O=netcheck test/CN={cn}", "-addext", f"subjectAltName={san}",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def dated_certificate(
    tmp: Path,
    cn: str,
    dns_names: list[str],
    not_before: dt.datetime,
    not_after: dt.datetime,
    issuer: tuple[Path, Path] | None = None,
    ca: bool = False,
) -> tuple[Path, Path, tuple[Path, Path]]:
    """A certificate with chosen dates, from the openssl CLI (``openssl ca`` takes
    -startdate/-enddate, so it can be expired already): self-signed, or signed by
    ``issuer`` (its certificate and key paths). Returns (cert, key, (cert, key))."""
    work = tmp / f"ca-{cn}"
    (work / "new").mkdir(parents=True, exist_ok=True)
    (work / "index.txt").write_text("")
    (work / "serial").write_text("01" + secrets.token_hex(7) + "\n")  # even-length hex
    cfg = work / "ca.cnf"
    cfg.write_text(
        "[ca]\ndefault_ca = d\n[d]\n"
        f"dir = {work}\ndatabase = {work}/index.txt\nnew_certs_dir = {work}/new\n"
        f"serial = {work}/serial\ndefault_md = sha256\npolicy = any\n"
        "copy_extensions = copy\nunique_subject = no\n"
        "[any]\norganizationName = optional\ncommonName = supplied\n"
    )
    ext = work / "ext.cnf"
    ext.write_text(
        "[v3]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = keyCertSign,cRLSign\n"
        if ca
        else "[v3]\nbasicConstraints = CA:FALSE\n"
    )
    key, csr, cert = tmp / f"{cn}.key", work / "req.csr", tmp / f"{cn}.crt"
    req = [
        "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/O=netcheck test/CN={cn}",
    ]  # fmt: skip
    if dns_names:
        req += ["-addext", "subjectAltName=" + ",".join(f"DNS:{n}" for n in dns_names)]
    subprocess.run(req, check=True, capture_output=True, timeout=60)
    sign = [
        "openssl", "ca", "-batch", "-notext", "-config", str(cfg), "-in", str(csr),
        "-out", str(cert), "-extfile", str(ext), "-extensions", "v3",
        "-startdate", not_before.strftime("%Y%m%d%H%M%SZ"),
        "-enddate", not_after.strftime("%Y%m%d%H%M%SZ"),
    ]  # fmt: skip
    if issuer is None:
        sign += ["-selfsign", "-keyfile", str(key)]
    else:
        sign += ["-cert", str(issuer[0]), "-keyfile", str(issuer[1])]
    subprocess.run(sign, check=True, capture_output=True, timeout=60)
    return cert, key, (cert, key)


# -- the servers ------------------------------------------------------------------


class _Bounded:
    def __init__(self) -> None:
        self.conns = 0

    def admit(self) -> bool:
        self.conns += 1
        return self.conns <= MAX_CONNS


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 8192:
        chunk = await reader.read(8192 - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _dns_name(data: bytes, pos: int) -> tuple[str, int]:
    labels = []
    while data[pos]:
        n = data[pos]
        labels.append(data[pos + 1 : pos + 1 + n].decode("ascii"))
        pos += 1 + n
    return ".".join(labels).lower(), pos + 1


def dns_answer(query: bytes, table: dict[str, list[str]], rcodes: dict[str, int]) -> bytes:
    """The response to one query: the table's A records, else NXDOMAIN (or a set rcode)."""
    qid, _flags, _qd = struct.unpack("!HHH", query[:6])
    name, end = _dns_name(query, 12)
    qtype = struct.unpack("!H", query[end : end + 2])[0]
    question = query[12 : end + 4]
    addrs = [a for a in table.get(name, []) if qtype == 1]
    rcode = rcodes.get(name, 0 if name in table else 3)
    flags = 0x8000 | 0x0100 | 0x0080 | rcode  # QR, RD echoed, RA
    out = struct.pack("!HHHHHH", qid, flags, 1, len(addrs), 0, 0) + question
    for a in addrs:
        out += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + ipaddress.IPv4Address(a).packed
    return out


class AppServers:
    """A background event loop hosting the stand-in servers until :meth:`close`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._closers: list[Callable[[], Any]] = []
        self.seen: dict[str, int] = {}  # server name -> requests handled

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def _count(self, name: str) -> None:
        self.seen[name] = self.seen.get(name, 0) + 1

    def close(self) -> None:
        async def stop() -> None:
            for c in self._closers:
                c()
            await asyncio.sleep(0)

        self._run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    # TLS ---------------------------------------------------------------------------

    def tls(
        self, host: str, port: int, cert: Path, key: Path, status: str = "400 Bad Request"
    ) -> int:
        """A TLS server answering any request with ``status``; returns its port."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        bound = _Bounded()
        name = f"tls {host}"

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                if not bound.admit():
                    return
                head = await asyncio.wait_for(_read_head(reader), CONN_SECONDS)
                if head:
                    self._count(name)
                    writer.write(
                        f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
                    )
                    await writer.drain()
            except (OSError, asyncio.TimeoutError, ssl.SSLError):
                pass
            finally:
                writer.close()

        async def start() -> int:
            server = await asyncio.start_server(handle, _loopback(host), port, ssl=ctx)
            self._closers.append(server.close)
            return int(server.sockets[0].getsockname()[1])

        return int(self._run(start()))

    # DNS ---------------------------------------------------------------------------

    def dns(
        self,
        host: str,
        port: int,
        table: dict[str, list[str]],
        rcodes: dict[str, int] | None = None,
    ) -> int:
        """A DNS responder on UDP and TCP ``host``:``port`` (0: any free port for both)."""
        rc = {k.lower(): v for k, v in (rcodes or {}).items()}
        tab = {k.lower(): v for k, v in table.items()}
        bound = _Bounded()
        servers = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                if not bound.admit():
                    return
                try:
                    reply = dns_answer(data, tab, rc)
                except (IndexError, struct.error, UnicodeDecodeError):
                    return
                servers._count(f"dns-udp {host}")
                self.transport.sendto(reply, addr)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                if not bound.admit():
                    return
                (n,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 5))
                query = await asyncio.wait_for(reader.readexactly(n), 5)
                reply = dns_answer(query, tab, rc)
                self._count(f"dns-tcp {host}")
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, struct.error):
                pass
            finally:
                writer.close()

        async def start() -> int:
            for _ in range(20):  # port 0: find one free for both UDP and TCP
                tcp = await asyncio.start_server(handle, _loopback(host), port)
                got = int(tcp.sockets[0].getsockname()[1])
                try:
                    transport, _ = await self.loop.create_datagram_endpoint(
                        Udp, local_addr=(host, got)
                    )
                except OSError:
                    tcp.close()
                    if port:
                        raise
                    continue
                self._closers += [tcp.close, transport.close]
                return got
            raise OSError("no port free for both UDP and TCP")

        return int(self._run(start()))

    # NTP ---------------------------------------------------------------------------

    def ntp(self, host: str, port: int, offset_s: float) -> int:
        """An SNTP server whose clock is ``offset_s`` ahead of this machine's."""
        bound = _Bounded()
        servers = self

        def stamp(t: float) -> bytes:
            t += NTP_EPOCH
            return struct.pack("!II", int(t), int((t - int(t)) * 2**32))

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                if len(data) < 48 or not bound.admit() or data[0] & 7 != 3:
                    return
                now = stamp(time.time() + offset_s)
                reply = (
                    bytes([(0 << 6) | (4 << 3) | 4, 2, 6, 0xEC])
                    + b"\0" * 8
                    + bytes([127, 0, 0, 1])
                    + now  # reference
                    + data[40:48]  # origin = the client's transmit timestamp
                    + now  # receive
                    + now  # transmit
                )
                servers._count(f"ntp {host}")
                self.transport.sendto(reply, addr)

        async def start() -> int:
            transport, _ = await self.loop.create_datagram_endpoint(
                Udp, local_addr=(_loopback(host), port)
            )
            self._closers.append(transport.close)
            return int(transport.get_extra_info("sockname")[1])

        return int(self._run(start()))

    # CONNECT proxy -------------------------------------------------------------------

    def proxy(self, host: str, port: int, names: dict[str, str], require_auth: bool = False) -> int:
        """An HTTP proxy tunnelling ``CONNECT name:port`` to ``names[name]`` (loopback
        only, never a lookup), or answering every request with 407."""
        for addr in names.values():
            _loopback(addr)
        bound = _Bounded()

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                moved = 0
                while moved < 10_000_000:
                    data = await r.read(65536)
                    if not data:
                        break
                    moved += len(data)
                    w.write(data)
                    await w.drain()
            except OSError:
                pass
            finally:
                w.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                if not bound.admit():
                    return
                head = await asyncio.wait_for(_read_head(reader), CONN_SECONDS)
                self._count(f"proxy {host}")
                if require_auth:
                    writer.write(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                        b'Proxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n'
                    )
                    await writer.drain()
                    return
                parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
                if len(parts) < 2 or parts[0] != "CONNECT":
                    writer.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                    return
                name, _, tport = parts[1].rpartition(":")
                target = names.get(name.lower())
                if target is None:
                    writer.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                    return
                r2, w2 = await asyncio.wait_for(asyncio.open_connection(target, int(tport)), 5)
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await asyncio.wait_for(
                    asyncio.gather(pipe(reader, w2), pipe(r2, writer)), CONN_SECONDS
                )
            except (OSError, asyncio.TimeoutError, ValueError):
                pass
            finally:
                writer.close()

        async def start() -> int:
            server = await asyncio.start_server(handle, _loopback(host), port)
            self._closers.append(server.close)
            return int(server.sockets[0].getsockname()[1])

        return int(self._run(start()))


@contextmanager
def app_servers() -> Iterator[AppServers]:
    servers = AppServers()
    try:
        yield servers
    finally:
        servers.close()


def free_port(host: str, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((_loopback(host), 0))
        return int(s.getsockname()[1])
