"""The raw-socket NIC checks: duplicate-address ARP probes and reply-interface capture.

Both use scapy, imported only here and only when a check runs (importing it
takes a second or more), and only where they can work: Linux, scapy
installed, raw sockets allowed (root or CAP_NET_RAW). Otherwise the answer is
``not_run`` with the reason, so the coordinator never shows an unmeasured
check as passed.

- ARP: an RFC 5227 probe (sender address 0.0.0.0, so no neighbour's cache
  changes) for the NIC's own address, sent on the interface that holds it; a
  reply from another MAC means another machine answers for that address.
- Capture: TCP SYN / SYN-ACK / RST packets to or from the given peers on every
  interface of the host (not promiscuous), bounded in time and count, so the
  coordinator can see a reply arriving on another NIC than the probe left from.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._nic_msgs import (
    ArpCheck,
    ArpCheckRequest,
    ArpResult,
    CapturedPacket,
    CaptureReady,
    CaptureResult,
    CaptureStart,
    CaptureStop,
)
from .capabilities import Capabilities, detect
from .nics import iface_of, linux_interfaces
from .protocol import ERROR_BAD_MESSAGE, ERROR_INTERNAL, Error

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0
_TCP_SYN = 0x02
_TCP_RST = 0x04


def why_not(caps: Capabilities, platform: str = sys.platform) -> Optional[str]:
    """Why the raw checks can't run on this host, or None when they can."""
    if not platform.startswith("linux"):
        return f"only on Linux in this version (this host: {platform})"
    if not caps.scapy:
        return f"scapy is not installed for this Python ({sys.executable})"
    if not caps.raw_sockets:
        return "no raw sockets (needs root or CAP_NET_RAW)"
    return None


def _quiet_import() -> Any:
    """Import the scapy parts we use; scapy may print, and stdout may be our protocol."""
    with contextlib.redirect_stdout(sys.stderr):
        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        from scapy import sendrecv
        from scapy.layers import inet, l2

    return sendrecv, inet, l2


# --- ARP --------------------------------------------------------------------------------


def other_macs(replies: List[Tuple[str, str]], address: str, own_mac: Optional[str]) -> List[str]:
    """MACs (lower case, first-seen order) of ARP replies for ``address`` not from us.

    ``replies`` are (sender IP, sender MAC) pairs as seen on the wire.
    """
    own = (own_mac or "").lower()
    out: List[str] = []
    for psrc, hwsrc in replies:
        mac = hwsrc.lower()
        if psrc == address and mac != own and mac not in out:
            out.append(mac)
    return out


def _arp_probe(iface: str, own_mac: str, address: str, timeout_s: float, probes: int) -> List[str]:
    sendrecv, _inet, l2 = _quiet_import()
    pkt = l2.Ether(dst="ff:ff:ff:ff:ff:ff", src=own_mac) / l2.ARP(
        op=1, hwsrc=own_mac, psrc="0.0.0.0", hwdst="00:00:00:00:00:00", pdst=address
    )
    answered, _ = sendrecv.srp(
        [pkt] * probes,
        iface=iface,
        timeout=timeout_s,
        inter=0.2,
        multi=True,
        verbose=False,
        threaded=False,  # as scapy_exchange (probes/raw.py): no sender thread to race
    )
    replies = [(str(r[l2.ARP].psrc), str(r[l2.ARP].hwsrc)) for _, r in answered if l2.ARP in r]
    return other_macs(replies, address, own_mac)


def arp_check(
    req: ArpCheckRequest,
    caps: Capabilities,
    probe: Callable[[str, str, str, float, int], List[str]] = _arp_probe,
    interfaces: Optional[List[Dict[str, Any]]] = None,
) -> ArpCheck:
    """One result per target (blocking; runs in a worker thread)."""
    blocked = why_not(caps)
    if interfaces is None:
        interfaces = linux_interfaces()[0] if sys.platform.startswith("linux") else []
    results = []
    for t in req.targets:
        iface = t.iface or iface_of(t.address, interfaces)
        itf = next((i for i in interfaces if i["name"] == iface), None)
        if ipaddress.ip_address(t.address).version != 4:
            results.append(ArpResult(t.address, iface, "not_run", detail="IPv6 has no ARP"))
        elif iface is None or itf is None:
            results.append(
                ArpResult(t.address, None, "not_run", detail="no interface of this host holds it")
            )
        elif itf.get("kind") != "ether" or not itf.get("mac"):
            what = itf.get("kind") or "unknown"
            results.append(
                ArpResult(t.address, iface, "not_run", detail=f"{iface} is not Ethernet ({what})")
            )
        elif blocked is not None:
            results.append(ArpResult(t.address, iface, "not_run", itf["mac"], detail=blocked))
        else:
            try:
                macs = probe(iface, itf["mac"], t.address, req.timeout_ms / 1000, req.probes)
            except Exception as exc:  # scapy raises many kinds; the check fails, not the agent
                results.append(
                    ArpResult(t.address, iface, "error", itf["mac"], detail=f"{exc!r}"[:300])
                )
                continue
            status = "duplicate" if macs else "clear"
            results.append(ArpResult(t.address, iface, status, itf["mac"], tuple(macs)))
    return ArpCheck(req.id, tuple(results))


# --- capture -----------------------------------------------------------------------------


def tcp_flags(bits: int) -> str:
    """tcpdump-style letters for the flags we capture: S, SA, R, RA, ..."""
    out = ""
    for mask, letter in ((0x02, "S"), (0x10, "A"), (0x04, "R"), (0x01, "F")):
        if bits & mask:
            out += letter
    return out


class Capture:
    """One bounded capture session on every non-loopback interface of this host."""

    def __init__(self, req: CaptureStart, caps: Capabilities) -> None:
        self.req = req
        self.caps = caps
        self.packets: List[CapturedPacket] = []
        self.truncated = False
        self.ifaces: Tuple[str, ...] = ()
        self._sniffer: Any = None
        self._timer: Optional[threading.Timer] = None
        self._lock = threading.Lock()
        self._peers = frozenset(req.peers)

    def start(self) -> CaptureReady:
        """Blocking: import scapy, open the sockets, return once they capture."""
        blocked = why_not(self.caps)
        if blocked is not None:
            return CaptureReady(self.req.id, "not_run", detail=blocked)
        interfaces = [i for i in linux_interfaces()[0] if i.get("kind") != "loopback"]
        self.ifaces = tuple(str(i["name"]) for i in interfaces)
        if not self.ifaces:
            return CaptureReady(self.req.id, "not_run", detail="no interface but loopback")
        sendrecv, inet, _l2 = _quiet_import()
        ip_layer, tcp_layer = inet.IP, inet.TCP
        started = threading.Event()
        peers = self._peers

        def wanted(pkt: Any) -> bool:
            if ip_layer not in pkt or tcp_layer not in pkt:
                return False
            ip = pkt[ip_layer]
            return (ip.src in peers or ip.dst in peers) and bool(
                int(pkt[tcp_layer].flags) & (_TCP_SYN | _TCP_RST)
            )

        def keep(pkt: Any) -> None:
            ip, tcp = pkt[ip_layer], pkt[tcp_layer]
            with self._lock:
                if len(self.packets) >= self.req.max_packets:
                    self.truncated = True
                    return
                self.packets.append(
                    CapturedPacket(
                        iface=str(getattr(pkt, "sniffed_on", "") or "?"),
                        src=str(ip.src),
                        dst=str(ip.dst),
                        sport=int(tcp.sport),
                        dport=int(tcp.dport),
                        flags=tcp_flags(int(tcp.flags)),
                        t=float(pkt.time),
                    )
                )

        self._sniffer = sendrecv.AsyncSniffer(
            iface=list(self.ifaces),
            lfilter=wanted,
            prn=keep,
            store=False,
            started_callback=started.set,
            promisc=False,
        )
        self._sniffer.start()
        if not started.wait(_START_TIMEOUT_S):
            self.stop()
            return CaptureReady(self.req.id, "error", self.ifaces, "the capture did not start")
        # bounded even if nobody ever says stop (AsyncSniffer takes no timeout)
        self._timer = threading.Timer(self.req.max_seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return CaptureReady(self.req.id, "capturing", self.ifaces)

    def _expire(self) -> None:
        sniffer = self._sniffer
        if sniffer is not None and sniffer.running:
            self.truncated = True
            with contextlib.suppress(Exception):
                sniffer.stop(join=False)

    def stop(self) -> CaptureResult:
        if self._timer is not None:
            self._timer.cancel()
        sniffer, self._sniffer = self._sniffer, None
        status = "captured" if self.ifaces else "not_run"
        if sniffer is not None and sniffer.running:
            with contextlib.suppress(Exception):
                sniffer.stop(join=True)
        with self._lock:
            packets = tuple(sorted(self.packets, key=lambda p: p.t))
        return CaptureResult(self.req.id, status, packets, self.truncated)


class NicTasks:
    """The agent's side of the ARP and capture requests (scapy work in threads)."""

    _TYPES = (ArpCheckRequest, CaptureStart, CaptureStop)

    def __init__(
        self, emit: Callable[[Any], None], caps: Callable[[], Capabilities] = detect
    ) -> None:
        self._emit = emit
        self._caps = caps
        self._captures: Dict[str, Capture] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def accepts(cls, msg: Any) -> bool:
        return isinstance(msg, cls._TYPES)

    def handle(self, msg: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, msg: Any) -> None:
        loop = asyncio.get_running_loop()
        try:
            if isinstance(msg, ArpCheckRequest):
                reply: Any = await loop.run_in_executor(None, arp_check, msg, self._caps())
            elif isinstance(msg, CaptureStart):
                if msg.id in self._captures:
                    self._emit(Error(msg.id, ERROR_BAD_MESSAGE, "capture id is already running"))
                    return
                cap = Capture(msg, self._caps())
                self._captures[msg.id] = cap
                reply = await loop.run_in_executor(None, cap.start)
                if reply.status != "capturing":
                    self._captures.pop(msg.id, None)
            else:
                found = self._captures.pop(msg.id, None)
                if found is None:
                    self._emit(Error(msg.id, ERROR_BAD_MESSAGE, "no such capture id"))
                    return
                reply = await loop.run_in_executor(None, found.stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("NIC check %s failed", type(msg).__name__)
            self._emit(Error(msg.id, ERROR_INTERNAL, f"{type(exc).__name__}: {exc}"[:500]))
            return
        self._emit(reply)

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for cap in list(self._captures.values()):
            with contextlib.suppress(Exception):
                cap.stop()
        self._captures.clear()
