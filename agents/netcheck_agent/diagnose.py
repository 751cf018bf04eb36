"""Answer a :class:`~.protocol.DiagRequest`: pick the method, run it off the loop, reply.

Method choice, best first, per kind:

===========  ==========================  ===========================
kind         with scapy + raw sockets    without
===========  ==========================  ===========================
syn          half-open SYN (scapy)       connect + IP_RECVERR (Linux)
traceroute   TCP/UDP/ICMP TTL probes     TCP/UDP TTL probes + IP_RECVERR
echo         ICMP echo (scapy)           unprivileged ICMP socket
pmtu         DF-set ICMP/TCP/UDP         DF-set UDP + IP_RECVERR
===========  ==========================  ===========================

and ``unavailable`` with every reason when none applies. The probes block
(scapy's ``sr``, ``poll``), so they run in a worker thread; at most
:data:`MAX_PARALLEL` at once per agent. The result also names the interface
the host's route to the target leaves by and its MTU, so the coordinator can
flag a path MTU below what the hosts' interfaces assume.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
from typing import Callable, List, Optional, Tuple

from .capabilities import detect
from .probes import icmp_dgram, raw, recverr
from .protocol import DiagRequest, DiagResult, Message

log = logging.getLogger(__name__)

MAX_PARALLEL = 4
_slots = threading.BoundedSemaphore(MAX_PARALLEL)

Runner = Callable[[DiagRequest], DiagResult]


def _methods(req: DiagRequest, raw_sockets: bool) -> Tuple[List[Tuple[str, Runner]], List[str]]:
    """The usable methods for the request, best first, and why the others are not."""
    usable: List[Tuple[str, Runner]] = []
    why: List[str] = []
    ok, reason = raw.scapy_usable(raw_sockets)
    if ok:
        scapy_run: Runner = {
            "syn": raw.syn,
            "traceroute": raw.traceroute,
            "echo": raw.echo,
            "pmtu": raw.pmtu,
        }[req.kind]
        usable.append(("scapy", scapy_run))
    else:
        why.append(reason)
    if req.kind == "echo":
        ok, reason = icmp_dgram.icmp_dgram_usable()
        if ok:
            usable.append(("icmp_dgram", icmp_dgram.echo))
        else:
            why.append(reason)
        return usable, why
    ok, reason = recverr.recverr_usable()
    if ok:
        usable.append(("recverr", _recverr_runner(req)))
    else:
        why.append(reason)
    return usable, why


def _recverr_runner(req: DiagRequest) -> Runner:
    if req.kind == "pmtu":
        return recverr.pmtu
    if req.kind == "syn":
        return recverr.syn
    return recverr.traceroute


def run(req: DiagRequest, raw_sockets: Optional[bool] = None) -> DiagResult:
    """Run one diagnostic with the best usable method (blocking; bounded by the request)."""
    if raw_sockets is None:
        raw_sockets = detect().raw_sockets
    if req.proto == "icmp" and req.kind == "traceroute" and req.prefer != "scapy":
        # the error queue has no ICMP-echo traceroute: UDP is the closest without privilege
        req = dataclasses.replace(req, proto="udp") if not raw.scapy_usable(raw_sockets)[0] else req
    usable, why = _methods(req, raw_sockets)
    if req.prefer != "auto":
        chosen = [(m, r) for m, r in usable if m == req.prefer]
        if not chosen:
            why = [f"{req.prefer} was asked for and cannot run here", *why]
        usable = chosen
    iface, mtu = recverr.route_iface(req.dst, req.src)
    if not usable:
        return DiagResult(
            req.id, req.kind, "unavailable", detail="; ".join(why), iface=iface, iface_mtu=mtu
        )
    method, runner = usable[0]
    with _slots:
        try:
            result = runner(req)
        except Exception as exc:  # a probe failure is data, never a dead agent
            return DiagResult(
                req.id,
                req.kind,
                "unavailable",
                detail=f"{method} failed: {type(exc).__name__}: {exc}",
                iface=iface,
                iface_mtu=mtu,
            )
    return dataclasses.replace(result, iface=iface, iface_mtu=mtu)


_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    """Threads of our own: the loop's default executor is shared with work that holds
    a thread for long (captures, bandwidth runs), and a diagnostic must not queue there."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(MAX_PARALLEL, "netcheck-diag")
        return _pool


async def answer(req: DiagRequest, emit: Callable[[Message], None]) -> None:
    """Run ``req`` in a diagnostics thread and emit its :class:`DiagResult`."""
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(_executor(), run, req)
    except Exception as exc:  # a bug must still answer: the coordinator waits for this id
        log.exception("diagnostic %s failed", req.id)
        result = DiagResult(
            req.id, req.kind, "unavailable", detail=f"internal: {type(exc).__name__}: {exc}"
        )
    emit(result)
