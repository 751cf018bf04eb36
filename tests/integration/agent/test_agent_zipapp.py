"""The agent zipapp: small, reproducible, runnable."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from netcheck_agent.zipapp_build import build_zipapp


def test_builds_small_reproducible_and_named_by_hash(tmp_path: Path) -> None:
    first = build_zipapp(tmp_path / "a")
    second = build_zipapp(tmp_path / "b")
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()
    assert (
        first.name.startswith("netcheck-agent-") and len(first.stem) == len("netcheck-agent-") + 16
    )
    assert first.stat().st_size < 200 * 1024
    assert first.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert names[0] == "__main__.py"
        assert names[1:] == sorted(names[1:])
        assert "netcheck_agent/protocol.py" in names
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert build_zipapp(tmp_path / "a") == first  # rebuilding in place is a no-op


def test_zipapp_runs(tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path)
    out = subprocess.run(
        [sys.executable, str(pyz), "--version"], capture_output=True, timeout=20, check=True
    )
    assert out.stdout.startswith(b"netcheck-agent 0.1.0")
    session = subprocess.run(
        [sys.executable, str(pyz)],
        input=b'{"type":"bye"}\n',
        capture_output=True,
        timeout=20,
        check=True,
    )
    lines = [json.loads(line) for line in session.stdout.splitlines()]
    assert [m["type"] for m in lines] == ["hello", "bye"]
