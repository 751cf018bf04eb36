"""Host-facts messages of protocol v1 (re-exported by :mod:`netcheck_agent.protocol`).

The coordinator asks an agent on a master target for the facts the failback
readiness checks can read from the live host (:class:`FactsRequest`); the agent
answers with :class:`Facts`: OS and version, the retention path's volume
(exists, filesystem, capacity, free space, mount point) and whether VMware
Tools / open-vm-tools is installed. A fact the agent could not determine is
``None``, with a word in the matching ``*_detail`` field, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Optional

from . import _fields as f
from ._fields import ProtocolError

_MAX_BYTES = 2**63


@dataclass(frozen=True)
class FactsRequest:
    """Ask for this host's facts; ``retention_path`` is a directory or a drive letter."""

    TYPE: ClassVar[str] = "facts_request"
    id: str
    retention_path: Optional[str] = None

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_opt_str("retention_path", self.retention_path, max_len=4096)
        if self.retention_path is not None and not self.retention_path:
            raise ProtocolError("must not be empty", "retention_path")

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, "retention_path": self.retention_path}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> FactsRequest:
        return cls(f.get(d, "id"), f.get(d, "retention_path", None))


@dataclass(frozen=True)
class VolumeFacts:
    """What the agent found at the retention path."""

    path: str
    exists: bool
    is_dir: bool = False
    filesystem: Optional[str] = None  # as the OS names it: ext4, xfs, NTFS, fuse.fusefat
    mount_point: Optional[str] = None  # the mount / volume root holding the path
    is_mount: Optional[bool] = None  # the path is itself a mount point / volume root
    device: Optional[str] = None
    total_bytes: Optional[int] = None
    free_bytes: Optional[int] = None
    detail: str = ""

    def __post_init__(self) -> None:
        f.want_str("path", self.path, max_len=4096)
        f.want_bool("exists", self.exists)
        f.want_bool("is_dir", self.is_dir)
        f.want_opt_str("filesystem", self.filesystem, max_len=128)
        f.want_opt_str("mount_point", self.mount_point, max_len=4096)
        if self.is_mount is not None:
            f.want_bool("is_mount", self.is_mount)
        f.want_opt_str("device", self.device, max_len=4096)
        f.want_opt_int("total_bytes", self.total_bytes, 0, _MAX_BYTES)
        f.want_opt_int("free_bytes", self.free_bytes, 0, _MAX_BYTES)
        f.want_str("detail", self.detail, empty_ok=True)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "path": self.path,
            "exists": self.exists,
            "is_dir": self.is_dir,
            "filesystem": self.filesystem,
            "mount_point": self.mount_point,
            "is_mount": self.is_mount,
            "device": self.device,
            "total_bytes": self.total_bytes,
            "free_bytes": self.free_bytes,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> VolumeFacts:
        return cls(
            f.get(d, "path"),
            f.get(d, "exists"),
            f.get(d, "is_dir", False),
            f.get(d, "filesystem", None),
            f.get(d, "mount_point", None),
            f.get(d, "is_mount", None),
            f.get(d, "device", None),
            f.get(d, "total_bytes", None),
            f.get(d, "free_bytes", None),
            f.get(d, "detail", ""),
        )


@dataclass(frozen=True)
class Facts:
    """The reply to :class:`FactsRequest` (same ``id``)."""

    TYPE: ClassVar[str] = "facts"
    id: str
    os_family: str  # "linux" | "windows" | another platform.system() in lower case
    os_id: str  # "ubuntu", "rhel", "windows", ... ("" when unknown)
    os_name: str  # e.g. "Ubuntu 22.04.4 LTS", "Windows Server 2019 (10.0.17763)"
    os_version: str  # VERSION_ID on Linux, the release on Windows ("" when unknown)
    retention: Optional[VolumeFacts] = None
    vmware_tools: Optional[bool] = None  # None: could not tell
    vmware_tools_detail: str = ""  # what was found, or why it could not tell

    def __post_init__(self) -> None:
        f.want_str("id", self.id, max_len=256)
        f.want_str("os_family", self.os_family, max_len=64)
        f.want_str("os_id", self.os_id, empty_ok=True, max_len=64)
        f.want_str("os_name", self.os_name, empty_ok=True, max_len=256)
        f.want_str("os_version", self.os_version, empty_ok=True, max_len=64)
        if self.retention is not None and not isinstance(self.retention, VolumeFacts):
            raise ProtocolError("must be a VolumeFacts", "retention")
        if self.vmware_tools is not None:
            f.want_bool("vmware_tools", self.vmware_tools)
        f.want_str("vmware_tools_detail", self.vmware_tools_detail, empty_ok=True)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "os_family": self.os_family,
            "os_id": self.os_id,
            "os_name": self.os_name,
            "os_version": self.os_version,
            "retention": None if self.retention is None else self.retention.to_dict(),
            "vmware_tools": self.vmware_tools,
            "vmware_tools_detail": self.vmware_tools_detail,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Facts:
        raw = f.get(d, "retention", None)
        retention = None
        if raw is not None:
            if not isinstance(raw, dict):
                raise ProtocolError("must be an object or null", "retention")
            try:
                retention = VolumeFacts.from_dict(raw)
            except ProtocolError as exc:
                raise exc.within("retention") from None
        return cls(
            f.get(d, "id"),
            f.get(d, "os_family"),
            f.get(d, "os_id", ""),
            f.get(d, "os_name", ""),
            f.get(d, "os_version", ""),
            retention,
            f.get(d, "vmware_tools", None),
            f.get(d, "vmware_tools_detail", ""),
        )
