"""What this host's agent can do, reported in ``hello``.

The coordinator degrades per host from this ("traceroute: not available on
cs01 — no raw sockets") instead of failing probes one by one. Detection is
cheap and side-effect free: scapy is looked up, never imported (importing it
takes seconds and may print warnings on stdout, which is our protocol).
"""

from __future__ import annotations

import platform
import socket
import sys
from dataclasses import dataclass
from typing import Dict, Optional

from .probes.icmp_dgram import icmp_dgram_usable
from .probes.raw import scapy_present
from .probes.recverr import recverr_usable
from .probes.tcp_connect import IP_BIND_ADDRESS_NO_PORT, TCP_INFO


@dataclass(frozen=True)
class Capabilities:
    tcp_info: bool
    bind_no_port: bool
    scapy: bool
    raw_sockets: bool
    platform: str
    python: str
    recverr: bool = False  # Linux IP_RECVERR: traceroute / PMTU without privilege
    icmp_dgram: bool = False  # unprivileged ICMP echo (net.ipv4.ping_group_range)

    def flags(self) -> Dict[str, bool]:
        """The boolean capabilities, as ``hello.capabilities`` carries them."""
        return {
            "tcp_info": self.tcp_info,
            "bind_no_port": self.bind_no_port,
            "scapy": self.scapy,
            "raw_sockets": self.raw_sockets,
            "recverr": self.recverr,
            "icmp_dgram": self.icmp_dgram,
        }


def _sockopt_works(level: int, name: int) -> bool:
    """Whether the kernel accepts ``setsockopt(level, name, 1)`` on a TCP socket."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(level, name, 1)
    except OSError:
        return False
    return True


def _tcp_info_works() -> bool:
    if TCP_INFO is None:
        return False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            return len(sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 104)) >= 72
    except OSError:
        return False


def _raw_sockets() -> bool:
    """Whether a raw socket can be opened (root, CAP_NET_RAW, or Windows admin)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP):
            return True
    except (OSError, AttributeError):
        return False


def _scapy_present() -> bool:
    # honours NETCHECK_AGENT_NO_SCAPY (an agent run as if scapy were absent)
    return scapy_present()


_detected: Optional[Capabilities] = None


def detect(refresh: bool = False) -> Capabilities:
    """This host's capabilities, detected once per process.

    Detection opens three sockets and looks scapy up on ``sys.path`` (a
    directory scan per entry): ~0.3 ms that the local transport, which runs
    an agent per source host in one process, would pay a thousand times.
    What it finds does not change while the process runs; ``refresh``
    detects again anyway.
    """
    global _detected
    if _detected is None or refresh:
        _detected = _detect()
    return _detected


def _detect() -> Capabilities:
    linux = sys.platform.startswith("linux")
    return Capabilities(
        tcp_info=_tcp_info_works(),
        bind_no_port=linux and _sockopt_works(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT),
        scapy=_scapy_present(),
        raw_sockets=_raw_sockets(),
        platform=sys.platform,
        python=platform.python_version(),
        recverr=recverr_usable()[0],
        icmp_dgram=icmp_dgram_usable()[0],
    )
