"""Host-facts messages of protocol v1 (re-exported by :mod:`netcheck_agent.protocol`).

The coordinator asks an agent on a master target for the facts the failback
readiness checks can read from the live host (:class:`FactsRequest`); the agent
answers with :class:`Facts`: OS and version, the retention path's volume
(exists, filesystem, capacity, free space, mount point) and whether VMware
Tools / open-vm-tools is installed. A fact the agent could not determine is
``None``, with a word in the matching ``*_detail`` field, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

from ._codec import Wire, between, text

_BYTES = between(0, 2**63)
_PATH = text(4096)


@dataclass(frozen=True)
class FactsRequest(Wire):
    """Ask for this host's facts; ``retention_path`` is a directory or a drive letter."""

    TYPE: ClassVar[str] = "facts_request"
    id: str = field(metadata=text(256))
    retention_path: Optional[str] = field(default=None, metadata=_PATH)


@dataclass(frozen=True)
class VolumeFacts(Wire):
    """What the agent found at the retention path."""

    path: str = field(metadata=_PATH)
    exists: bool
    is_dir: bool = False
    #: as the OS names it: ext4, xfs, NTFS, fuse.fusefat
    filesystem: Optional[str] = field(default=None, metadata=text(128))
    mount_point: Optional[str] = field(default=None, metadata=_PATH)  # the mount holding it
    is_mount: Optional[bool] = None  # the path is itself a mount point / volume root
    device: Optional[str] = field(default=None, metadata=_PATH)
    total_bytes: Optional[int] = field(default=None, metadata=_BYTES)
    free_bytes: Optional[int] = field(default=None, metadata=_BYTES)
    detail: str = field(default="", metadata=text(empty_ok=True))


@dataclass(frozen=True)
class Facts(Wire):
    """The reply to :class:`FactsRequest` (same ``id``)."""

    TYPE: ClassVar[str] = "facts"
    id: str = field(metadata=text(256))
    os_family: str = field(metadata=text(64))  # "linux" | "windows" | platform.system() lowered
    #: "ubuntu", "rhel", "windows", ... ("" when unknown)
    os_id: str = field(default="", metadata=text(64, empty_ok=True))
    #: e.g. "Ubuntu 22.04.4 LTS", "Windows Server 2019 (10.0.17763)"
    os_name: str = field(default="", metadata=text(256, empty_ok=True))
    #: VERSION_ID on Linux, the release on Windows ("" when unknown)
    os_version: str = field(default="", metadata=text(64, empty_ok=True))
    retention: Optional[VolumeFacts] = None
    vmware_tools: Optional[bool] = None  # None: could not tell
    vmware_tools_detail: str = field(default="", metadata=text(empty_ok=True))  # what was found
