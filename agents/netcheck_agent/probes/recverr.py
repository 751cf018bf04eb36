"""Diagnostics without raw sockets (Linux): the kernel's error queue, like tracepath.

A socket with ``IP_RECVERR`` receives the ICMP errors its own packets caused
on ``recvmsg(MSG_ERRQUEUE)`` as a ``struct sock_extended_err`` naming the
offender (the router or host that answered), the ICMP type and code, and for
fragmentation-needed the next-hop MTU. No privilege is needed:

- **TCP traceroute**: one non-blocking ``connect`` per TTL (``IP_TTL``); since
  Linux 5.4 a SYN_SENT socket queues the ICMP error it gets (time-exceeded,
  admin-prohibited, ...), a SYN-ACK completes the connect (we close it with a
  RST: ``SO_LINGER`` 0), a RST fails it with ECONNREFUSED. Unlike a plain
  connect's EHOSTUNREACH, this names admin-prohibited vs host-unreachable.
  ``TCP_SYNCNT`` 1: a silent hop costs at most two SYNs.
- **UDP traceroute / PMTU**: datagrams with ``IP_MTU_DISCOVER`` =
  ``IP_PMTUDISC_DO`` (DF set); frag-needed arrives as EMSGSIZE with the MTU in
  ``ee_info``, and our own stack refuses sizes above a PMTU it already knows.

Everything is bounded by the request: packet budget, per-window timeout, deadline.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from .._diag_msgs import DiagRequest, DiagResult
from . import pathsearch
from .replies import (
    NO_REPLY,
    Reply,
    classify_extended_err,
    parse_extended_err,
    syn_outcome,
    to_hop,
)

SOL_IP = 0
IP_TTL = 2
IP_MTU_DISCOVER = 10
IP_RECVERR = 11
IP_MTU = 14
IP_PMTUDISC_DONT = 0
IP_PMTUDISC_DO = 2
MSG_ERRQUEUE = 0x2000
TCP_SYNCNT = 7
UDP_BASE_PORT = 33434


def recverr_usable() -> Tuple[bool, str]:
    """Whether this host offers IP_RECVERR (Linux), and why not."""
    if not sys.platform.startswith("linux"):
        return False, f"IP_RECVERR is Linux-only (this host is {sys.platform})"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(SOL_IP, IP_RECVERR, 1)
    except OSError as exc:
        return False, f"IP_RECVERR refused: {exc}"
    return True, ""


def read_errqueue(sock: socket.socket) -> Optional[Reply]:
    """One entry of the socket's error queue as a Reply, or None when it is empty."""
    try:
        _data, ancdata, _flags, _addr = sock.recvmsg(512, 512, MSG_ERRQUEUE)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            return None
        raise
    for level, kind, payload in ancdata:
        if level == SOL_IP and kind == IP_RECVERR:
            return classify_extended_err(parse_extended_err(payload))
    return None


class _Probe:
    __slots__ = ("key", "reply", "rtt", "sock", "t0")

    def __init__(self, key: Tuple[int, int], sock: socket.socket):
        self.key = key
        self.sock = sock
        self.t0 = time.monotonic()
        self.reply: Optional[Reply] = None
        self.rtt: Optional[float] = None

    def done(self, reply: Reply) -> None:
        self.reply = reply
        self.rtt = time.monotonic() - self.t0


def _open(req: DiagRequest, kind: int, ttl: int, *, df: bool = False) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setblocking(False)
        sock.setsockopt(SOL_IP, IP_RECVERR, 1)
        sock.setsockopt(SOL_IP, IP_TTL, ttl)
        sock.setsockopt(SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO if df else IP_PMTUDISC_DONT)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.IPPROTO_TCP, TCP_SYNCNT, 1)
            # close() after a SYN-ACK sends a RST: the target sees a half-open, not a session
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if req.src:
            sock.bind((req.src, 0))
    except OSError:
        sock.close()
        raise
    return sock


def _settle(probe: _Probe, target: str, tcp: bool, events: int) -> None:
    """Turn a ready socket into its reply (error queue first, then SO_ERROR / connected)."""
    reply = read_errqueue(probe.sock)
    if reply is not None:
        probe.done(reply)
        return
    err = probe.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if tcp:
        if err == 0 and events & select.POLLOUT:
            probe.done(Reply("syn-ack", target))
        elif err == errno.ECONNREFUSED:
            probe.done(Reply("rst", target))
        elif err:
            probe.done(Reply("other", None, icmp=errno.errorcode.get(err, str(err))))
        return
    if events & select.POLLIN:  # a UDP answer from the target itself
        probe.done(Reply("answer", target))
    elif err:
        probe.done(Reply("other", None, icmp=errno.errorcode.get(err, str(err))))


def _wait(probes: List[_Probe], target: str, tcp: bool, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    poller = select.poll()
    fds = {}
    for p in probes:
        if p.reply is None:
            mask = select.POLLERR | (select.POLLOUT if tcp else select.POLLIN)
            poller.register(p.sock.fileno(), mask)
            fds[p.sock.fileno()] = p
    while fds:
        left = end - time.monotonic()
        if left <= 0:
            break
        for fd, events in poller.poll(left * 1000):
            ready = fds.get(fd)
            if ready is None:
                continue
            _settle(ready, target, tcp, events)
            if ready.reply is not None:
                poller.unregister(fd)
                del fds[fd]


def _window(
    req: DiagRequest, keys: Sequence[Tuple[int, int]], timeout_s: float, *, tcp: bool
) -> Dict[Tuple[int, int], Tuple[Reply, Optional[float]]]:
    probes: List[_Probe] = []
    try:
        for key in keys:
            ttl = key[0]
            sock = _open(req, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM, ttl)
            probe = _Probe(key, sock)
            probes.append(probe)
            port = req.port if tcp else (req.port or UDP_BASE_PORT + ttl)
            if tcp:
                err = sock.connect_ex((req.dst, port))
                if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
                    probe.done(Reply("local-error", None, icmp=errno.errorcode.get(err, str(err))))
            else:
                try:
                    sock.sendto(b"netcheck-trace\x00" * 2, (req.dst, port))
                except OSError as exc:
                    probe.done(
                        Reply(
                            "local-error", None, icmp=errno.errorcode.get(exc.errno or 0, str(exc))
                        )
                    )
        _wait(probes, req.dst, tcp, timeout_s)
        return {
            p.key: ((p.reply, p.rtt) if p.reply is not None else (NO_REPLY, None)) for p in probes
        }
    finally:
        for p in probes:
            p.sock.close()


def traceroute(req: DiagRequest) -> DiagResult:
    """TCP (connect per TTL) or UDP traceroute read from the error queue."""
    t0 = time.monotonic()
    tcp = req.proto == "tcp"
    res = pathsearch.trace(
        lambda keys, timeout_s: _window(req, keys, timeout_s, tcp=tcp),
        max_ttl=req.max_ttl,
        probes_per_hop=req.probes_per_hop,
        timeout_s=req.timeout_ms / 1000.0,
        deadline_s=req.deadline_ms / 1000.0,
        # a silent TCP probe may cost a retransmitted SYN (TCP_SYNCNT 1)
        max_packets=max(1, req.max_packets // 2) if tcp else req.max_packets,
    )
    hops = tuple(to_hop(h.ttl, h.reply, h.rtt_s) for h in res.hops)
    how = f"TCP connect per TTL to port {req.port}" if tcp else "UDP datagram per TTL"
    return DiagResult(
        req.id,
        "traceroute",
        "recverr",
        detail=f"{how}; stopped: {res.stopped}",
        hops=hops,
        reached=res.reached,
        sent=res.packets,
        received=sum(1 for h in hops if h.answered),
        packets=res.packets * 2 if tcp else res.packets,
        elapsed_ms=int((time.monotonic() - t0) * 1000),
    )


def _udp_size_probe(
    req: DiagRequest, port: int, size: int, timeout_s: float
) -> Tuple[Reply, Optional[float]]:
    sock = _open(req, socket.SOCK_DGRAM, 64, df=True)
    try:
        sock.connect((req.dst, port))
        probe = _Probe((0, 0), sock)
        try:
            sock.send(b"\x00" * max(0, size - 28))
        except OSError as exc:
            if exc.errno != errno.EMSGSIZE:
                raise
            read_errqueue(sock)  # drop the matching local error
            known = sock.getsockopt(SOL_IP, IP_MTU)
            return Reply("local-error", None, icmp="local-emsgsize", mtu=known), None
        _wait([probe], req.dst, False, timeout_s)
        if probe.reply is None:
            return NO_REPLY, None
        return probe.reply, probe.rtt
    finally:
        sock.close()


def pmtu(req: DiagRequest) -> DiagResult:
    """Path MTU with DF-set UDP datagrams (to ``port`` or 33434: port-unreachable = crossed)."""
    t0 = time.monotonic()
    port = req.port if req.proto == "udp" and req.port else UDP_BASE_PORT
    res = pathsearch.search_pmtu(
        lambda size, timeout_s: _udp_size_probe(req, port, size, timeout_s),
        max_mtu=req.max_mtu,
        timeout_s=req.timeout_ms / 1000.0,
        deadline_s=req.deadline_ms / 1000.0,
        max_packets=req.max_packets,
    )
    hops = tuple(to_hop(64, r, rtt, size) for size, r, rtt in res.probes)
    sent = sum(1 for h in hops if h.reply != "local-error")
    detail = f"UDP to port {port} with DF" + (f"; {res.detail}" if res.detail else "")
    return DiagResult(
        req.id,
        "pmtu",
        "recverr",
        detail=detail,
        hops=hops,
        reached=res.pmtu is not None,
        sent=sent,
        received=sum(1 for h in hops if h.answered and h.reply != "local-error"),
        pmtu=res.pmtu,
        packets=sent,
        elapsed_ms=int((time.monotonic() - t0) * 1000),
    )


def route_iface(dst: str, src: Optional[str]) -> Tuple[Optional[str], Optional[int]]:
    """The interface this host's route to ``dst`` leaves by, and its MTU (Linux; no packet sent).

    A connected UDP socket makes the kernel pick the route and the source
    address; the interface holding that address is the route's (for a host
    route with ``dev`` as well). ``(None, None)`` when it cannot tell.
    """
    if not sys.platform.startswith("linux"):
        return None, None
    try:
        import fcntl

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            if src:
                s.bind((src, 0))
            s.connect((dst, 9))  # no packet: UDP connect only routes
            local = s.getsockname()[0]
            for _idx, name in socket.if_nameindex():
                try:
                    raw = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
                except OSError:
                    continue  # no IPv4 address on it
                if socket.inet_ntoa(raw[20:24]) == local:
                    with open(os.path.join("/sys/class/net", name, "mtu")) as fh:
                        return name, int(fh.read().strip())
    except (OSError, ValueError):
        return None, None
    return None, None


def syn(req: DiagRequest) -> DiagResult:
    """One TCP connect with IP_RECVERR: open / closed / filtered / unreachable, ICMP named.

    Not half-open (the kernel completes the handshake; SO_LINGER 0 resets it at
    once), but unlike a plain connect it tells admin-prohibited from
    host-unreachable, and names the router that said so.
    """
    t0 = time.monotonic()
    answers = _window(req, [(64, 0)], req.timeout_ms / 1000.0, tcp=True)
    reply, rtt = answers[(64, 0)]
    return DiagResult(
        req.id,
        "syn",
        "recverr",
        detail=syn_outcome(reply),
        hops=(to_hop(64, reply, rtt),),
        reached=reply.from_target,
        sent=1,
        received=0 if reply.reply == "none" else 1,
        packets=2 if reply.reply == "none" else 1,
        elapsed_ms=int((time.monotonic() - t0) * 1000),
    )
