"""One host's facts, live over declared, each with its source.

The agent's `facts` reply (netcheck_agent.protocol.Facts) wins over the topology's
inventory; a fact neither gives is a Fact with value None, so a check can say
`unknown` instead of guessing.
"""

from __future__ import annotations

import re

from netcheck_agent import protocol as p

from netcheck.readiness.model import Fact, FactValue, Source
from netcheck.topology.model import Host

__all__ = [
    "DEFAULT_RETENTION",
    "FAT_FILESYSTEMS",
    "HostView",
    "compare_versions",
    "parse_version",
]

DEFAULT_RETENTION = {"windows": "R:", "linux": "/mnt/retention"}

# FAT and FAT32 under the names operating systems give them (the docs exclude both);
# `fuse.fusefat` is Linux's FUSE driver for FAT images.
FAT_FILESYSTEMS = frozenset(
    {"fat", "fat12", "fat16", "fat32", "vfat", "msdos", "umsdos", "fuse.fusefat"}
)

_GB = 1_000_000_000  # the capacity guide's GB and TB are decimal (500 GB = 0.5 TB)


def parse_version(text: str) -> tuple[str, tuple[int, ...]]:
    """'Ubuntu 20.04' → ('ubuntu', (20, 4)); 'Windows Server 2012 R2' → ('', (2012, 2)).

    The distribution is the leading words (Windows product words dropped); the
    version is every number in order.
    """
    words = re.findall(r"[A-Za-z]+", re.split(r"\d", text, maxsplit=1)[0])
    ignore = {"windows", "server", "microsoft", "standard", "datacenter", "edition", "r"}
    distro = " ".join(w.lower() for w in words if w.lower() not in ignore)
    return distro, tuple(int(n) for n in re.findall(r"\d+", text))


def compare_versions(mt: str, vm: str) -> tuple[int | None, str]:
    """(sign, note): sign >0 MT newer, 0 same, <0 older; None when not comparable."""
    mt_d, mt_n = parse_version(mt)
    vm_d, vm_n = parse_version(vm)
    if not mt_n or not vm_n:
        return None, f"cannot compare versions {mt!r} and {vm!r}"
    if mt_d and vm_d and mt_d != vm_d:
        return None, f"different distributions ({mt_d} vs {vm_d})"
    width = max(len(mt_n), len(vm_n))
    a = mt_n + (0,) * (width - len(mt_n))
    b = vm_n + (0,) * (width - len(vm_n))
    return (a > b) - (a < b), ""


class HostView:
    """The facts of one host as the checks read them."""

    def __init__(self, host: Host, live: p.Facts | None = None) -> None:
        self.host = host
        self.inv = host.inventory
        self.live = live
        self.volume = live.retention if live is not None else None

    def _fact(self, name: str, value: FactValue, source: Source) -> Fact:
        return Fact(name, value, source, self.host.name)

    def declared(self, name: str, value: FactValue) -> Fact:
        return self._fact(name, value, Source.DECLARED)

    def live_or_declared(self, name: str, live: FactValue, declared: FactValue) -> Fact:
        if live is not None:
            return self._fact(name, live, Source.LIVE)
        return self.declared(name, declared)

    # --- OS -------------------------------------------------------------------------
    def os_family(self) -> Fact:
        live = None
        if self.live is not None and self.live.os_family in ("windows", "linux"):
            live = self.live.os_family
        return self.live_or_declared("os", live, self.host.os)

    def os_version(self) -> Fact:
        live = None
        if self.live is not None and self.live.os_version:
            live = self.live.os_version
            if self.live.os_family == "linux" and self.live.os_id:
                live = f"{self.live.os_id} {live}"
        return self.live_or_declared("os_version", live, self.inv.os_version)

    # --- VMware Tools ---------------------------------------------------------------
    def vmware_tools(self) -> Fact:
        live = self.live.vmware_tools if self.live is not None else None
        return self.live_or_declared("vmware_tools", live, self.inv.vmware_tools)

    def vmware_tools_detail(self) -> str:
        return self.live.vmware_tools_detail if self.live is not None else ""

    # --- retention volume -----------------------------------------------------------
    def retention_path(self) -> Fact:
        ret = self.inv.retention
        if ret is not None and ret.path is not None:
            return self.declared("retention.path", ret.path)
        if self.volume is not None:  # the agent used its OS's default
            return self._fact("retention.path", self.volume.path, Source.DEFAULT)
        family = self.os_family().value
        default = DEFAULT_RETENTION.get(str(family)) if family else None
        return self._fact("retention.path", default, Source.DEFAULT)

    def retention_declared(self) -> bool:
        return self.inv.retention is not None

    def retention_exists(self) -> Fact | None:
        if self.volume is None:
            return None
        return self._fact("retention.exists", self.volume.exists, Source.LIVE)

    def retention_filesystem(self) -> Fact:
        live = self.volume.filesystem if self.volume and self.volume.exists else None
        ret = self.inv.retention
        return self.live_or_declared(
            "retention.filesystem", live.lower() if live else None, ret.filesystem if ret else None
        )

    def retention_capacity_gb(self) -> Fact:
        live = None
        if self.volume is not None and self.volume.exists and self.volume.total_bytes is not None:
            live = round(self.volume.total_bytes / _GB, 3)
        ret = self.inv.retention
        return self.live_or_declared(
            "retention.capacity_gb", live, ret.capacity_gb if ret else None
        )

    def retention_free_gb(self) -> Fact | None:
        if self.volume is None or not self.volume.exists or self.volume.free_bytes is None:
            return None
        return self._fact("retention.free_gb", round(self.volume.free_bytes / _GB, 3), Source.LIVE)

    def retention_mount(self) -> tuple[Fact, Fact] | None:
        """(is_mount, mount_point), live only."""
        v = self.volume
        if v is None or not v.exists or v.is_mount is None:
            return None
        return (
            self._fact("retention.is_mount", v.is_mount, Source.LIVE),
            self._fact("retention.mount_point", v.mount_point, Source.LIVE),
        )
