"""Host facts for the failback readiness checks, read from the live host.

Standard library only, Linux and Windows. Everything here reads; nothing is
changed on the host. Each probe of a fact is its own small function taking the
places it reads from (files root, mount table, PATH), so unit tests can point
them at a crafted tree; the agent calls :func:`gather` with the defaults.

- OS: ``/etc/os-release`` (Linux), the registry's ``CurrentVersion`` key
  (Windows), ``platform`` as the fallback.
- Retention volume: exists?, filesystem type (Linux: the longest mount-point
  prefix in ``/proc/self/mountinfo``; Windows: ``GetVolumePathNameW`` +
  ``GetVolumeInformationW``), capacity and free space (``shutil.disk_usage``),
  whether the path is itself a mount point / volume root.
- VMware Tools: Linux — ``vmtoolsd`` on PATH, or open-vm-tools' / VMware
  Tools' service or package files; Windows — the registry key VMware
  documents (``HKLM\\SOFTWARE\\VMware, Inc.\\VMware Tools``), else the
  ``VMTools`` service via ``sc query``.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._facts_msgs import Facts, FactsRequest, VolumeFacts
from ._fields import ProtocolError
from .protocol import ERROR_INTERNAL, Error

#: Reading facts must not hang the agent on a dead mount: the request fails instead.
FACTS_TIMEOUT_S = 20.0

LINUX_DEFAULT_RETENTION = "/mnt/retention"
WINDOWS_DEFAULT_RETENTION = "R:"

# Files whose presence shows VMware Tools / open-vm-tools is installed (Linux).
_TOOLS_FILES = (
    "usr/bin/vmtoolsd",
    "usr/sbin/vmtoolsd",
    "lib/systemd/system/open-vm-tools.service",
    "usr/lib/systemd/system/open-vm-tools.service",
    "lib/systemd/system/vmtoolsd.service",
    "usr/lib/systemd/system/vmtoolsd.service",
    "etc/init.d/open-vm-tools",
    "etc/init.d/vmware-tools",
    "etc/vmware-tools/tools.conf",
    "var/lib/dpkg/info/open-vm-tools.list",
)

# --- OS -------------------------------------------------------------------------


def parse_os_release(text: str) -> Dict[str, str]:
    """KEY=value lines of os-release(5), quotes removed."""
    out: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def linux_os(root: str = "/") -> Tuple[str, str, str]:
    """(os_id, os_name, os_version) from os-release; platform as the fallback."""
    for rel in ("etc/os-release", "usr/lib/os-release"):
        try:
            with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
                info = parse_os_release(fh.read())
        except OSError:
            continue
        name = info.get("PRETTY_NAME") or info.get("NAME", "")
        return info.get("ID", ""), name, info.get("VERSION_ID", "")
    return "", f"Linux {platform.release()}", ""


def windows_os() -> Tuple[str, str, str]:  # pragma: no cover - Windows only
    """(os_id, os_name, os_version): 'windows', the product name, '2019' / '2012 R2' / build."""
    product = build = ""
    if sys.platform == "win32":
        import winreg

        try:
            key = winreg.OpenKey(
                winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
            )
            with key:
                product = str(winreg.QueryValueEx(key, "ProductName")[0])
                build = str(winreg.QueryValueEx(key, "CurrentBuildNumber")[0])
        except OSError:
            pass
    name = product or f"Windows {platform.release()}"
    if build:
        name += f" (build {build})"
    m = re.search(r"\b(20\d\d)(\s+R2)?\b", product)
    version = (m.group(1) + (" R2" if m.group(2) else "")) if m else platform.version()
    return "windows", name, version


# --- the retention volume --------------------------------------------------------


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> List[Tuple[str, str, str]]:
    """(mount_point, fstype, source) per line of /proc/self/mountinfo, in order."""
    out = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf = left.split()
        rf = right.split()
        if len(lf) < 5 or len(rf) < 2:
            continue
        out.append((_unescape(lf[4]), _unescape(rf[0]), _unescape(rf[1])))
    return out


def mount_of(path: str, mounts: List[Tuple[str, str, str]]) -> Optional[Tuple[str, str, str]]:
    """The mount holding ``path``: the longest mount-point prefix; the last one wins a tie
    (a later mount on the same point hides the earlier one)."""
    best: Optional[Tuple[str, str, str]] = None
    for entry in mounts:
        mp = entry[0]
        inside = path == mp or mp == "/" or path.startswith(mp.rstrip("/") + "/")
        if inside and (best is None or len(mp) >= len(best[0])):
            best = entry
    return best


def _usage(path: str) -> Tuple[Optional[int], Optional[int], str]:
    try:
        u = shutil.disk_usage(path)
    except OSError as exc:
        return None, None, f"disk usage unreadable: {exc.strerror or exc}"
    return int(u.total), int(u.free), ""


def linux_volume(path: str, mountinfo: str = "/proc/self/mountinfo") -> VolumeFacts:
    if not os.path.exists(path):
        return VolumeFacts(path=path, exists=False, detail=f"{path} does not exist")
    real = os.path.realpath(path)
    total, free, detail = _usage(real)
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as fh:
            mounts = parse_mountinfo(fh.read())
    except OSError as exc:
        mounts = []
        detail = (detail + "; " if detail else "") + f"{mountinfo} unreadable: {exc.strerror}"
    entry = mount_of(real, mounts)
    return VolumeFacts(
        path=path,
        exists=True,
        is_dir=os.path.isdir(real),
        filesystem=entry[1] if entry else None,
        mount_point=entry[0] if entry else None,
        is_mount=(entry[0] == real) if entry else None,
        device=entry[2] if entry else None,
        total_bytes=total,
        free_bytes=free,
        detail=detail,
    )


def windows_path(path: str) -> str:
    """'R' / 'R:' / 'r:' → 'R:\\' (a bare drive letter means the volume's root)."""
    p = path.strip()
    if re.fullmatch(r"[A-Za-z]:?", p):
        return p[0].upper() + ":\\"
    return p


def windows_volume(path: str) -> VolumeFacts:  # pragma: no cover - Windows only
    full = windows_path(path)
    if not os.path.exists(full):
        return VolumeFacts(path=path, exists=False, detail=f"{full} does not exist")
    total, free, detail = _usage(full)
    fs = root = None
    if sys.platform == "win32":
        import ctypes

        k32 = ctypes.windll.kernel32
        buf = ctypes.create_unicode_buffer(1024)
        if k32.GetVolumePathNameW(ctypes.c_wchar_p(full), buf, len(buf)):
            root = buf.value
            fs_buf = ctypes.create_unicode_buffer(261)
            ok = k32.GetVolumeInformationW(
                ctypes.c_wchar_p(root), None, 0, None, None, None, fs_buf, len(fs_buf)
            )
            if ok:
                fs = fs_buf.value
            else:
                detail += f"; GetVolumeInformationW failed (error {ctypes.GetLastError()})"
        else:
            detail += f"; GetVolumePathNameW failed (error {ctypes.GetLastError()})"
    norm = os.path.normcase(os.path.abspath(full)).rstrip("\\")
    is_mount = None if root is None else norm == os.path.normcase(root).rstrip("\\")
    return VolumeFacts(
        path=path,
        exists=True,
        is_dir=os.path.isdir(full),
        filesystem=fs,
        mount_point=root,
        is_mount=is_mount,
        total_bytes=total,
        free_bytes=free,
        detail=detail.lstrip("; "),
    )


# --- VMware Tools -------------------------------------------------------------------


def linux_vmware_tools(
    root: str = "/",
    which: Callable[[str], Optional[str]] = shutil.which,
) -> Tuple[Optional[bool], str]:
    found = which("vmtoolsd")
    if found:
        return True, f"vmtoolsd on PATH: {found}"
    for rel in _TOOLS_FILES:
        if os.path.exists(os.path.join(root, rel)):
            return True, f"found /{rel}"
    return False, "no vmtoolsd on PATH and no open-vm-tools / VMware Tools service or package files"


def windows_vmware_tools() -> Tuple[Optional[bool], str]:  # pragma: no cover - Windows only
    if sys.platform == "win32":
        import winreg

        try:
            winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\VMware, Inc.\VMware Tools").Close()
            return True, r"registry key HKLM\SOFTWARE\VMware, Inc.\VMware Tools present"
        except OSError:
            pass
    try:
        done = subprocess.run(
            ["sc", "query", "VMTools"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"registry key absent and `sc query VMTools` failed: {exc}"
    if done.returncode == 0:
        return True, "service VMTools exists (sc query VMTools)"
    if done.returncode == 1060:  # ERROR_SERVICE_DOES_NOT_EXIST
        return False, "no VMware Tools registry key and no VMTools service"
    return None, f"`sc query VMTools` exited {done.returncode}"


# --- the request --------------------------------------------------------------------


def gather(req: FactsRequest) -> Facts:
    """Read every fact (blocking; the agent runs this in a worker thread)."""
    windows = sys.platform == "win32"
    if windows:
        os_id, os_name, os_version = windows_os()
        tools, tools_detail = windows_vmware_tools()
    else:
        os_id, os_name, os_version = linux_os()
        tools, tools_detail = linux_vmware_tools()
    family = "windows" if windows else platform.system().lower() or sys.platform
    path = req.retention_path
    if path is None:
        path = WINDOWS_DEFAULT_RETENTION if windows else LINUX_DEFAULT_RETENTION
    volume = windows_volume(path) if windows else linux_volume(path)
    return Facts(
        id=req.id,
        os_family=family,
        os_id=os_id,
        os_name=os_name[:256],
        os_version=os_version[:64],
        retention=volume,
        vmware_tools=tools,
        vmware_tools_detail=tools_detail,
    )


async def answer(req: FactsRequest, emit: Callable[[Any], None]) -> None:
    """Serve one request: emit :class:`Facts`, or an ``error`` naming the request."""
    loop = asyncio.get_running_loop()
    try:
        facts = await asyncio.wait_for(
            loop.run_in_executor(None, gather, req), timeout=FACTS_TIMEOUT_S
        )
    except asyncio.TimeoutError:
        emit(Error(req.id, ERROR_INTERNAL, f"reading host facts took over {FACTS_TIMEOUT_S:g} s"))
        return
    except (OSError, ProtocolError, ValueError) as exc:
        emit(Error(req.id, ERROR_INTERNAL, f"reading host facts failed: {exc}"))
        return
    emit(facts)
