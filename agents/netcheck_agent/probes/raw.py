"""Raw-packet diagnostics with scapy: half-open SYN, TCP/UDP/ICMP traceroute, echo, PMTU.

Used only where :func:`scapy_usable` says so (scapy importable AND raw sockets
allowed, and ``NETCHECK_AGENT_NO_SCAPY`` unset). scapy is imported lazily,
inside these functions, never at agent start-up: importing it takes a second
or more, and the agent must run where it is absent.

Every function is synchronous (the agent runs it in a worker thread), takes a
:class:`~netcheck_agent.protocol.DiagRequest` for its bounds (packet budget,
per-probe timeout, overall deadline) and an ``exchange`` callable — scapy's
``sr`` by default, crafted replies in unit tests — and returns a
:class:`~netcheck_agent.protocol.DiagResult` with method ``scapy``.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import random
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .._diag_msgs import DiagRequest, DiagResult, Hop
from . import pathsearch
from .replies import NO_REPLY, Reply, classify_packet, syn_outcome, to_hop

#: Set (to anything but "" or "0") to make this agent behave as if scapy were absent.
NO_SCAPY_ENV = "NETCHECK_AGENT_NO_SCAPY"

#: ``exchange(packets, timeout_s)`` → one (sent packet, reply or None, rtt seconds or None) per packet.
Exchange = Callable[[Sequence[Any], float], List[Tuple[Any, Any, Optional[float]]]]
#: ``emit(packet)``: send without waiting (our RST after a SYN-ACK).
Emit = Callable[[Any], None]

_import_lock = threading.Lock()


def scapy_disabled() -> bool:
    return os.environ.get(NO_SCAPY_ENV, "") not in ("", "0")


def scapy_present() -> bool:
    if scapy_disabled():
        return False
    try:
        return importlib.util.find_spec("scapy") is not None
    except (ImportError, ValueError):
        return False


def scapy_usable(raw_sockets: bool) -> Tuple[bool, str]:
    """Whether the raw probes can run here, and why not."""
    if scapy_disabled():
        return False, f"scapy disabled ({NO_SCAPY_ENV} is set)"
    if not scapy_present():
        return False, "scapy is not installed for this Python"
    if not raw_sockets:
        return False, "no raw sockets (needs root or CAP_NET_RAW)"
    return True, ""


def _layers() -> Any:
    """scapy's IP/TCP/UDP/ICMP classes, imported on first use (quietly)."""
    with _import_lock:
        import logging

        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        from scapy.layers import inet

        return inet


def scapy_exchange(
    packets: Sequence[Any], timeout_s: float
) -> List[Tuple[Any, Any, Optional[float]]]:
    """scapy's ``sr``: send every packet, collect the replies it matches to them."""
    with _import_lock:
        from scapy.sendrecv import sr

    # threaded=False: send, then sniff, in this one thread. scapy ≥ 2.6 sends from a
    # second thread by default, which can race the sniffer's end ("Exception in thread
    # _sndrcv_snd ... Bad file descriptor" on the agent's stderr when the answers come
    # before the last send returns, as on a loaded host); 2.5 (Debian's) defaults to this.
    answered, _unanswered = sr(list(packets), timeout=timeout_s, verbose=0, threaded=False)
    by_id: Dict[Tuple[Any, ...], Tuple[Any, float]] = {}
    for query, answer in answered:
        rtt = max(0.0, float(answer.time) - float(query.sent_time or answer.time))
        by_id[_key(query)] = (answer, rtt)
    out: List[Tuple[Any, Any, Optional[float]]] = []
    for pkt in packets:
        got = by_id.get(_key(pkt))
        out.append((pkt, got[0], got[1]) if got else (pkt, None, None))
    return out


def scapy_emit(packet: Any) -> None:
    with _import_lock:
        from scapy.sendrecv import send

    send(packet, verbose=0)


def _key(pkt: Any) -> Tuple[Any, ...]:
    """What tells our probes apart: TTL plus source port (TCP/UDP) or id/seq (ICMP)."""
    ip = pkt.getlayer("IP")
    l4 = pkt.getlayer("TCP") or pkt.getlayer("UDP")
    if l4 is not None:
        return (int(ip.ttl), int(l4.sport), len(pkt))
    icmp = pkt.getlayer("ICMP")
    return (int(ip.ttl), int(icmp.id), int(icmp.seq), len(pkt))


def _probe(req: DiagRequest, ttl: int, *, size: int = 0, df: bool = False) -> Any:
    """One probe toward the request's target, told apart from every other probe of this
    process (diagnostics run concurrently in threads and scapy matches replies by
    source port, or ICMP id and sequence): a fresh source port / sequence number each."""
    inet = _layers()
    ip = inet.IP(dst=req.dst, ttl=ttl, flags="DF" if df else 0)
    if req.src:
        ip.src = req.src
    n = next(_SEQ)
    if req.proto == "tcp":
        sport = 33000 + n % 28000
        pkt = ip / inet.TCP(sport=sport, dport=req.port, flags="S", seq=random.getrandbits(32))
    elif req.proto == "udp":
        pkt = ip / inet.UDP(sport=33000 + n % 28000, dport=req.port or 33434 + ttl)
    else:
        pkt = ip / inet.ICMP(type=8, id=_ICMP_ID, seq=n & 0xFFFF)
    if size:
        pad = size - len(pkt)
        if pad > 0:
            pkt = pkt / (b"\x00" * pad)
    return pkt


_SEQ = itertools.count(random.randrange(28000))
_ICMP_ID = random.getrandbits(16)


def _reset(req: DiagRequest, sent: Any, answer: Any, emit: Emit) -> None:
    """Close a half-open handshake ourselves (the kernel would too, unasked)."""
    inet = _layers()
    tcp = answer.getlayer("TCP")
    rst = inet.IP(dst=req.dst) / inet.TCP(
        sport=int(sent.getlayer("TCP").sport), dport=req.port, flags="R", seq=int(tcp.ack)
    )
    if req.src:
        rst.getlayer("IP").src = req.src
    emit(rst)


def syn(
    req: DiagRequest, exchange: Exchange = scapy_exchange, emit: Emit = scapy_emit
) -> DiagResult:
    """One half-open SYN: open (SYN-ACK, then our RST) / closed / filtered / unreachable."""
    t0 = time.monotonic()
    pkt = _probe(req, 64)
    ((sent, answer, rtt),) = exchange([pkt], req.timeout_ms / 1000.0)
    reply = classify_packet(answer) if answer is not None else NO_REPLY
    packets = 1
    if reply.reply == "syn-ack":
        _reset(req, sent, answer, emit)
        packets += 1
    return DiagResult(
        req.id,
        "syn",
        "scapy",
        detail=syn_outcome(reply),
        hops=(to_hop(64, reply, rtt),),
        reached=reply.from_target,
        sent=1,
        received=0 if answer is None else 1,
        packets=packets,
        elapsed_ms=int((time.monotonic() - t0) * 1000),
    )


def traceroute(
    req: DiagRequest, exchange: Exchange = scapy_exchange, emit: Emit = scapy_emit
) -> DiagResult:
    """TTL 1.. toward the port (TCP SYN, UDP or ICMP echo), windowed; see pathsearch.trace."""
    t0 = time.monotonic()
    resets = [0]

    def send(
        keys: Sequence[Tuple[int, int]], timeout_s: float
    ) -> Dict[Tuple[int, int], Tuple[Reply, Optional[float]]]:
        pkts = []
        for ttl, _attempt in keys:
            pkts.append(_probe(req, ttl))
        out = {}
        for key, (sent, answer, rtt) in zip(keys, exchange(pkts, timeout_s)):
            reply = classify_packet(answer) if answer is not None else NO_REPLY
            if reply.reply == "syn-ack" and req.proto == "tcp":
                _reset(req, sent, answer, emit)
                resets[0] += 1
            out[key] = (reply, rtt)
        return out

    res = pathsearch.trace(
        send,
        max_ttl=req.max_ttl,
        probes_per_hop=req.probes_per_hop,
        timeout_s=req.timeout_ms / 1000.0,
        deadline_s=req.deadline_ms / 1000.0,
        max_packets=req.max_packets,
    )
    hops = tuple(to_hop(h.ttl, h.reply, h.rtt_s) for h in res.hops)
    return DiagResult(
        req.id,
        "traceroute",
        "scapy",
        detail=f"stopped: {res.stopped}",
        hops=hops,
        reached=res.reached,
        sent=res.packets,
        received=sum(1 for h in hops if h.answered),
        packets=res.packets + resets[0],
        elapsed_ms=int((time.monotonic() - t0) * 1000),
    )


def echo(req: DiagRequest, exchange: Exchange = scapy_exchange) -> DiagResult:
    """``count`` ICMP echo requests, ``interval_ms`` apart (bounded by the deadline)."""
    t0 = time.monotonic()
    end = t0 + req.deadline_ms / 1000.0
    count = min(req.count, req.max_packets)
    hops: List[Hop] = []
    icmp_req = DiagRequest(req.id, "echo", req.dst, 0, req.src, "icmp")
    for seq in range(1, count + 1):
        start = time.monotonic()
        if start + req.timeout_ms / 1000.0 > end:
            break
        ((_sent, answer, rtt),) = exchange([_probe(icmp_req, 64)], req.timeout_ms / 1000.0)
        reply = classify_packet(answer) if answer is not None else NO_REPLY
        hops.append(to_hop(seq, reply, rtt if reply.reply == "echo-reply" else None))
        pause = start + req.interval_ms / 1000.0 - time.monotonic()
        if pause > 0 and seq < count:
            time.sleep(min(pause, max(0.0, end - time.monotonic())))
    received = sum(1 for h in hops if h.reply == "echo-reply")
    return DiagResult(
        req.id,
        "echo",
        "scapy",
        detail="" if len(hops) == count else f"deadline reached after {len(hops)} of {count}",
        hops=tuple(hops),
        reached=received > 0,
        sent=len(hops),
        received=received,
        packets=len(hops),
        elapsed_ms=int((time.monotonic() - t0) * 1000),
    )


def pmtu(req: DiagRequest, exchange: Exchange = scapy_exchange) -> DiagResult:
    """Path MTU with DF set (ICMP echo, or the request's TCP/UDP port), see pathsearch."""
    t0 = time.monotonic()

    def probe(size: int, timeout_s: float) -> Tuple[Reply, Optional[float]]:
        ((_sent, answer, rtt),) = exchange([_probe(req, 64, size=size, df=True)], timeout_s)
        return (classify_packet(answer) if answer is not None else NO_REPLY), rtt

    res = pathsearch.search_pmtu(
        probe,
        max_mtu=req.max_mtu,
        timeout_s=req.timeout_ms / 1000.0,
        deadline_s=req.deadline_ms / 1000.0,
        max_packets=req.max_packets,
    )
    hops = tuple(to_hop(64, reply, rtt, size) for size, reply, rtt in res.probes)
    return DiagResult(
        req.id,
        "pmtu",
        "scapy",
        detail=res.detail,
        hops=hops,
        reached=res.pmtu is not None,
        sent=len(hops),
        received=sum(1 for h in hops if h.answered),
        pmtu=res.pmtu,
        packets=len(hops),
        elapsed_ms=int((time.monotonic() - t0) * 1000),
    )
