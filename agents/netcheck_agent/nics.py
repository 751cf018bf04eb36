"""The host's interfaces and the OS's route choice, for the dual-NIC checks.

Standard library only; everything here reads, nothing on the host changes, and
no packet is sent: the route choice is a UDP ``connect`` (which asks the
routing table for a source address and sends nothing) and ``getsockname``.

- Linux: interfaces and every address with its prefix from ``ip -j addr``
  (iproute2); without it, ``socket.if_nameindex`` with ``SIOCGIFADDR`` /
  ``SIOCGIFNETMASK`` (the primary IPv4 address only) and ``/proc/net/if_inet6``.
  MTU, MAC and link type from ``/sys/class/net``; default routes from
  ``/proc/net/route`` and ``/proc/net/ipv6_route``; the reverse-path filter
  from ``/proc/sys/net/ipv4/conf/<if>/rp_filter`` (and ``all``: the kernel
  applies the larger of the two).
- Windows: ``Get-NetIPAddress`` / ``Get-NetIPInterface`` / ``Get-NetRoute`` as
  JSON through PowerShell; the route choice is the same UDP connect, and the
  interface comes from ``GetBestInterface`` (iphlpapi) for IPv4.

Each source is parsed by a pure function that the unit tests feed with
captured text.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._nic_msgs import InterfaceFacts, NicFacts, NicFactsRequest, RouteChoice
from .protocol import ERROR_INTERNAL, Error

NIC_FACTS_TIMEOUT_S = 20.0
_CMD_TIMEOUT_S = 10.0
_ARPHRD = {1: "ether", 772: "loopback"}

# --- pure parsers (Linux) -------------------------------------------------------------


def parse_ip_addr_json(text: str) -> List[Dict[str, Any]]:
    """``ip -j addr`` → [{name, index, addresses, mtu, up, kind, mac}]."""
    out = []
    for link in json.loads(text or "[]"):
        if not isinstance(link, dict) or not isinstance(link.get("ifname"), str):
            continue
        addrs = []
        for a in link.get("addr_info") or ():
            if isinstance(a, dict) and a.get("local") and a.get("prefixlen") is not None:
                addrs.append(f"{a['local']}/{a['prefixlen']}")
        flags = link.get("flags") or []
        link_type = link.get("link_type", "")
        out.append(
            {
                "name": link["ifname"],
                "index": link.get("ifindex"),
                "addresses": addrs,
                "mtu": link.get("mtu"),
                "up": "UP" in flags if flags else None,
                "kind": {"ether": "ether", "loopback": "loopback"}.get(link_type, "other")
                if link_type
                else "",
                "mac": link.get("address") if link_type == "ether" else None,
            }
        )
    return out


def parse_if_inet6(text: str) -> Dict[str, List[str]]:
    """/proc/net/if_inet6 → interface → ["addr/prefix", ...]."""
    out: Dict[str, List[str]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6 or len(parts[0]) != 32:
            continue
        addr = ipaddress.IPv6Address(bytes.fromhex(parts[0]))
        out.setdefault(parts[5], []).append(f"{addr}/{int(parts[2], 16)}")
    return out


def parse_proc_route(text: str) -> List[str]:
    """/proc/net/route → the interfaces a default IPv4 route leaves through."""
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 8 and parts[1] == "00000000" and parts[7] == "00000000":
            flags = int(parts[3], 16)
            if flags & 0x1 and parts[0] not in out:  # RTF_UP
                out.append(parts[0])
    return out


def parse_ipv6_route(text: str) -> List[str]:
    """/proc/net/ipv6_route → the interfaces a default IPv6 route leaves through."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10 or parts[0] != "0" * 32 or parts[1] != "00":
            continue
        flags = int(parts[8], 16)
        if flags & 0x1 and not flags & 0x200 and parts[9] != "lo" and parts[9] not in out:
            out.append(parts[9])  # RTF_UP, not RTF_REJECT (the kernel's unreachable default)
    return out


def iface_of(address: str, interfaces: List[Dict[str, Any]]) -> Optional[str]:
    """The interface holding ``address`` (a loopback interface holds its whole prefix)."""
    for itf in interfaces:
        for a in itf["addresses"]:
            if a.split("/")[0] == address:
                return str(itf["name"])
    addr = ipaddress.ip_address(address)
    for itf in interfaces:
        if itf.get("kind") != "loopback":
            continue
        for a in itf["addresses"]:
            net = ipaddress.ip_interface(a).network
            if net.version == addr.version and addr in net:
                return str(itf["name"])
    return None


# --- pure parser (Windows) ---------------------------------------------------------

# One PowerShell call; its JSON is parsed by parse_windows_json.
_WINDOWS_PS = (
    "$ErrorActionPreference='SilentlyContinue';"
    "[pscustomobject]@{"
    "a=@(Get-NetIPAddress|Select-Object InterfaceAlias,InterfaceIndex,IPAddress,PrefixLength);"
    "i=@(Get-NetIPInterface|Select-Object InterfaceAlias,InterfaceIndex,NlMtu,ConnectionState,"
    "AddressFamily,InterfaceMetric);"
    "r=@(Get-NetRoute -DestinationPrefix '0.0.0.0/0','::/0'|Select-Object InterfaceIndex)"
    "}|ConvertTo-Json -Depth 3 -Compress"
)


def parse_windows_json(text: str) -> List[Dict[str, Any]]:
    """The PowerShell document above → the same dicts as :func:`parse_ip_addr_json`."""
    doc = json.loads(text or "{}")

    def listed(key: str) -> List[Dict[str, Any]]:
        value = doc.get(key) or []
        return [value] if isinstance(value, dict) else [v for v in value if isinstance(v, dict)]

    by_index: Dict[int, Dict[str, Any]] = {}
    for itf in listed("i"):
        idx = itf.get("InterfaceIndex")
        if not isinstance(idx, int):
            continue
        entry = by_index.setdefault(
            idx,
            {
                "name": str(itf.get("InterfaceAlias", idx)),
                "index": idx,
                "addresses": [],
                "mtu": None,
                "up": None,
                "kind": "",
                "mac": None,
            },
        )
        mtu = itf.get("NlMtu")
        if isinstance(mtu, int) and (
            entry["mtu"] is None or itf.get("AddressFamily") in (2, "IPv4")
        ):
            entry["mtu"] = mtu
        state = itf.get("ConnectionState")
        if state is not None:
            entry["up"] = state in (1, "Connected")
        if "Loopback" in entry["name"]:
            entry["kind"] = "loopback"
    for a in listed("a"):
        idx = a.get("InterfaceIndex")
        if not isinstance(idx, int) or not a.get("IPAddress"):
            continue
        entry = by_index.setdefault(
            idx,
            {
                "name": str(a.get("InterfaceAlias", idx)),
                "index": idx,
                "addresses": [],
                "mtu": None,
                "up": None,
                "kind": "",
                "mac": None,
            },
        )
        addr = str(a["IPAddress"]).split("%")[0]
        entry["addresses"].append(f"{addr}/{a.get('PrefixLength', 32)}")
    defaults = {r.get("InterfaceIndex") for r in listed("r")}
    out = []
    for idx in sorted(by_index):
        entry = by_index[idx]
        entry["default_route"] = idx in defaults
        out.append(entry)
    return out


# --- gathering -------------------------------------------------------------------------


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _read_int(path: str) -> Optional[int]:
    text = _read(path)
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def _run(argv: List[str]) -> Tuple[Optional[str], str]:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=_CMD_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{argv[0]}: {exc}"
    if done.returncode != 0:
        return None, f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[:200]}"
    return done.stdout, ""


def _ioctl_addr(name: str, request: int) -> Optional[str]:  # pragma: no cover - fallback only
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            raw = fcntl.ioctl(s.fileno(), request, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(raw[20:24])


def linux_interfaces(sys_root: str = "/") -> Tuple[List[Dict[str, Any]], List[str]]:
    """(interfaces, problems) of this Linux host."""
    problems: List[str] = []
    found: List[Dict[str, Any]] = []
    text, why = _run(["ip", "-j", "addr", "show"]) if shutil.which("ip") else (None, "no `ip`")
    if text is not None:
        try:
            found = parse_ip_addr_json(text)
        except (ValueError, TypeError) as exc:
            problems.append(f"`ip -j addr` unreadable: {exc}")
    if not found:  # pragma: no cover - hosts without iproute2
        if why:
            problems.append(f"{why}; primary IPv4 addresses only (SIOCGIFADDR)")
        inet6 = parse_if_inet6(_read("/proc/net/if_inet6") or "")
        for index, name in socket.if_nameindex():
            addrs = []
            a4 = _ioctl_addr(name, 0x8915)  # SIOCGIFADDR
            mask = _ioctl_addr(name, 0x891B)  # SIOCGIFNETMASK
            if a4 and mask:
                plen = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
                addrs.append(f"{a4}/{plen}")
            addrs += inet6.get(name, [])
            htype = _read_int(f"/sys/class/net/{name}/type")
            found.append(
                {
                    "name": name,
                    "index": index,
                    "addresses": addrs,
                    "mtu": _read_int(f"/sys/class/net/{name}/mtu"),
                    "up": None,
                    "kind": _ARPHRD.get(htype, "other") if htype is not None else "",
                    "mac": (_read(f"/sys/class/net/{name}/address") or "").strip() or None,
                }
            )
    v4 = _read(os.path.join(sys_root, "proc/net/route"))
    v6 = _read(os.path.join(sys_root, "proc/net/ipv6_route"))
    defaults = parse_proc_route(v4 or "") + parse_ipv6_route(v6 or "")
    if v4 is None:
        problems.append("/proc/net/route unreadable: default routes unknown")
    for itf in found:
        itf["default_route"] = itf["name"] in defaults if v4 is not None else None
        itf["rp_filter"] = _read_int(
            os.path.join(sys_root, f"proc/sys/net/ipv4/conf/{itf['name']}/rp_filter")
        )
    return found, problems


def windows_interfaces() -> Tuple[List[Dict[str, Any]], List[str]]:  # pragma: no cover
    text, why = _run(["powershell", "-NoProfile", "-NonInteractive", "-Command", _WINDOWS_PS])
    if text is None:
        return [], [f"interfaces unreadable ({why})"]
    try:
        return parse_windows_json(text), []
    except (ValueError, TypeError) as exc:
        return [], [f"Get-NetIPAddress output unreadable: {exc}"]


def _best_interface(dst: str) -> Optional[int]:  # pragma: no cover - Windows only
    """GetBestInterface (iphlpapi): the index of the interface Windows would use (IPv4)."""
    if sys.platform == "win32":
        import ctypes

        if ipaddress.ip_address(dst).version != 4:
            return None
        index = ctypes.c_ulong(0)
        packed = struct.unpack("<I", socket.inet_aton(dst))[0]  # network byte order, as DWORD
        rc = ctypes.windll.iphlpapi.GetBestInterface(ctypes.c_ulong(packed), ctypes.byref(index))
        return index.value if rc == 0 else None
    return None


def route_choice(
    dst: str,
    interfaces: List[Dict[str, Any]],
    best_interface: Callable[[str], Optional[int]] = _best_interface,
) -> RouteChoice:
    """The source address (and interface) the OS picks for ``dst``; sends nothing."""
    family = socket.AF_INET6 if ipaddress.ip_address(dst).version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((dst, 9))  # a routing lookup: UDP connect sends no packet
            src = str(s.getsockname()[0]).split("%")[0]
    except OSError as exc:
        name = _errno_name(exc.errno)
        return RouteChoice(dst, None, None, "udp_connect", f"no route ({name or exc})")
    iface = iface_of(src, interfaces)
    method = "udp_connect"
    index = best_interface(dst)
    if index is not None:
        method = "udp_connect+GetBestInterface"
        iface = next((str(i["name"]) for i in interfaces if i.get("index") == index), iface)
    detail = "" if iface else f"no interface holds {src}"
    return RouteChoice(dst, src, iface, method, detail)


def _errno_name(num: Optional[int]) -> str:
    import errno

    return errno.errorcode.get(num or 0, "")


def gather(req: NicFactsRequest) -> NicFacts:
    """Read the interfaces and every route choice (blocking: runs in a worker thread)."""
    windows = sys.platform == "win32"
    if windows:  # pragma: no cover - Windows only
        found, problems = windows_interfaces()
        rp_all = None
        family = "windows"
    elif sys.platform.startswith("linux"):
        found, problems = linux_interfaces()
        rp_all = _read_int("/proc/sys/net/ipv4/conf/all/rp_filter")
        family = "linux"
    else:  # pragma: no cover - other Unix: route choice only
        found, problems, rp_all = [], [f"interfaces are not read on {sys.platform}"], None
        family = sys.platform
    interfaces = tuple(
        InterfaceFacts(
            name=str(i["name"])[:256],
            index=i.get("index") if isinstance(i.get("index"), int) else None,
            addresses=tuple(i["addresses"])[:1024],
            mtu=i.get("mtu") if isinstance(i.get("mtu"), int) else None,
            up=i.get("up"),
            default_route=i.get("default_route"),
            rp_filter=i.get("rp_filter") if i.get("rp_filter") in (0, 1, 2) else None,
            kind=str(i.get("kind") or ""),
            mac=i.get("mac"),
        )
        for i in found
    )
    routes = tuple(route_choice(d, found) for d in req.destinations)
    return NicFacts(
        id=req.id,
        os_family=family,
        interfaces=interfaces,
        routes=routes,
        rp_filter_all=rp_all if rp_all in (0, 1, 2) else None,
        detail="; ".join(problems),
    )


async def answer(req: NicFactsRequest, emit: Callable[[Any], None]) -> None:
    """Serve one request: emit :class:`NicFacts`, or an ``error`` naming the request."""
    loop = asyncio.get_running_loop()
    try:
        facts = await asyncio.wait_for(
            loop.run_in_executor(None, gather, req), timeout=NIC_FACTS_TIMEOUT_S
        )
    except asyncio.TimeoutError:
        emit(
            Error(req.id, ERROR_INTERNAL, f"reading NIC facts took over {NIC_FACTS_TIMEOUT_S:g} s")
        )
        return
    except (OSError, ValueError) as exc:
        emit(Error(req.id, ERROR_INTERNAL, f"reading NIC facts failed: {exc}"))
        return
    emit(facts)
