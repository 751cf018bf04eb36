"""Build the agent as one reproducible zipapp: ``netcheck-agent-<hash>.pyz``.

The SSH transport uploads the agent by content hash (skip the upload when the
host already has that file), so the same source must give the same bytes:
entries are sorted, every timestamp and permission is fixed, ``__pycache__``
is left out, and the first 16 hex digits of the archive's SHA-256 go into its
name. Run as ``python -m netcheck_agent.zipapp_build OUT_DIR``.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import zipapp
import zipfile
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union

INTERPRETER = "/usr/bin/env python3"
PACKAGE = "netcheck_agent"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_MAIN = b"from netcheck_agent.__main__ import main\nimport sys\n\nsys.exit(main())\n"
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def _sources(root: Path) -> Iterator[Tuple[str, Path]]:
    """``(archive name, path)`` of every file of the package, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in filenames:
            if name.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(dirpath) / name
            arcname = f"{PACKAGE}/{path.relative_to(root).as_posix()}"
            found.append((arcname, path))
    return iter(sorted(found))


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # same mode whatever the checkout's umask
    info.create_system = 3  # Unix, so the mode above is honoured on any builder OS
    return info


def archive_bytes(package_dir: Optional[Path] = None) -> bytes:
    """The zipapp's bytes: interpreter line, then a deterministic zip."""
    root = package_dir or _package_dir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(_entry("__main__.py"), _MAIN)
        for arcname, path in _sources(root):
            zf.writestr(_entry(arcname), path.read_bytes())
    # zipapp copies an existing archive and writes the interpreter line for us.
    out = io.BytesIO()
    zipapp.create_archive(io.BytesIO(buf.getvalue()), out, interpreter=INTERPRETER)
    return out.getvalue()


def build_zipapp(out_dir: Union[str, Path], package_dir: Optional[Path] = None) -> Path:
    """Write ``netcheck-agent-<sha256[:16]>.pyz`` into ``out_dir``; return its path."""
    data = archive_bytes(package_dir)
    digest = hashlib.sha256(data).hexdigest()[:16]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"netcheck-agent-{digest}.pyz"
    if not (target.exists() and target.read_bytes() == data):
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)  # atomic: a concurrent reader never sees half a file
    return target


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(build_zipapp(args[0] if args else "."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
