"""Real filesystems for the live readiness tests: loop-mounted ext4 / xfs images, tmpfs,
and a FAT32 image through FUSE (fusefat: this kernel has no vfat). Root only.

Every mount is undone in `finally`, whatever the test did.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import require

MKFS = {"ext4": ["mkfs.ext4", "-q", "-F"], "xfs": ["mkfs.xfs", "-q", "-f"]}


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")


def require_mounts(kind: str) -> None:
    require(os.geteuid() == 0, "mounting filesystems needs root (scripts/test runs as root in CI)")
    if kind in MKFS:
        require(
            shutil.which(MKFS[kind][0]) is not None,
            f"{MKFS[kind][0]} is not installed (scripts/test installs xfsprogs / e2fsprogs)",
        )
    if kind == "fat":
        for tool in ("mkfs.fat", "fusefat", "fusermount"):
            require(
                shutil.which(tool) is not None,
                f"{tool} is not installed (scripts/test installs dosfstools, fusefat, fuse)",
            )
        require(os.path.exists("/dev/fuse"), "no /dev/fuse on this machine")


@contextmanager
def mounted(kind: str, where: Path, size_mb: int = 300) -> Iterator[Path]:
    """Mount a fresh filesystem of `kind` (ext4, xfs, tmpfs, fat) at where/mnt."""
    require_mounts(kind)
    mnt = where / "mnt"
    mnt.mkdir()
    image = where / f"{kind}.img"
    mounted_ok = False
    try:
        if kind == "tmpfs":
            _run("mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mnt))
        elif kind == "fat":
            _run("truncate", "-s", f"{size_mb}M", str(image))
            _run("mkfs.fat", "-F", "32", str(image))
            _run("fusefat", "-o", "rw+", str(image), str(mnt))
        else:
            _run("truncate", "-s", f"{size_mb}M", str(image))
            _run(*MKFS[kind], str(image))
            _run("mount", "-o", "loop", str(image), str(mnt))
        mounted_ok = True
        yield mnt
    finally:
        if mounted_ok:
            if kind == "fat":
                subprocess.run(["fusermount", "-u", str(mnt)], timeout=30, check=False)
            else:
                # -d frees the loop device too
                subprocess.run(["umount", "-d", str(mnt)], timeout=30, check=False)
