"""The agent zipapp: small, reproducible, runnable."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest
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


def cache_env(cache: Path) -> Dict[str, str]:
    return dict(os.environ, NETCHECK_AGENT_CACHE_DIR=str(cache))


def session(pyz: Path, cache: Path, *options: str) -> List[str]:
    out = subprocess.run(
        [sys.executable, *options, str(pyz)],
        input=b'{"type":"bye"}\n',
        capture_output=True,
        timeout=20,
        check=True,
        env=cache_env(cache),
    )
    return [json.loads(line)["type"] for line in out.stdout.splitlines()]


def key_of(pyz: Path) -> str:
    with zipfile.ZipFile(pyz) as zf:
        main = zf.read("__main__.py").decode()
    return main.split('KEY = "', 1)[1].split('"', 1)[0]


def test_zipapp_runs(tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path)
    out = subprocess.run(
        [sys.executable, str(pyz), "--version"],
        capture_output=True,
        timeout=20,
        check=True,
        env=cache_env(tmp_path / "cache"),
    )
    assert out.stdout.startswith(b"netcheck-agent 0.1.0")
    assert session(pyz, tmp_path / "cache") == ["hello", "bye"]


def test_first_start_extracts_into_the_cache_once_with_bytecode(tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path)
    cache = tmp_path / "cache"
    assert session(pyz, cache) == ["hello", "bye"]  # cold: extract, compile
    key = key_of(pyz)
    assert len(key) == 16
    pkg = cache / key / "netcheck_agent"
    assert (cache / key / ".complete").exists() and (pkg / "protocol.py").exists()
    tag = sys.implementation.cache_tag
    assert (pkg / "__pycache__" / f"protocol.{tag}.pyc").exists()  # even with DONTWRITEBYTECODE
    assert stat.S_IMODE((cache / key).stat().st_mode) == 0o700
    mtime = (pkg / "protocol.py").stat().st_mtime_ns
    assert session(pyz, cache) == ["hello", "bye"]  # warm: reused as is
    assert (pkg / "protocol.py").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in cache.iterdir()) == [key]  # no temporary left


def test_key_follows_the_package_content(tmp_path: Path) -> None:
    pkg = Path(__import__("netcheck_agent").__file__).parent
    copy = tmp_path / "pkg"
    copy.mkdir()
    for src in pkg.rglob("*.py"):
        dst = copy / src.relative_to(pkg)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    same = build_zipapp(tmp_path / "a", copy)
    (copy / "challenge.py").write_text((copy / "challenge.py").read_text() + "\n# changed\n")
    changed = build_zipapp(tmp_path / "b", copy)
    assert key_of(same) != key_of(changed)


def test_unusable_cache_falls_back_to_the_archive(tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    assert session(pyz, blocker / "cache") == ["hello", "bye"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_cache_others_can_write_is_not_used(tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path)
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)
    assert session(pyz, cache) == ["hello", "bye"]
    assert list(cache.iterdir()) == []


def test_isolated_start_compiles_only_what_it_imports(tmp_path: Path) -> None:
    """`python -I` (how the SSH transport runs the agent): imports write the bytecode
    of the modules a start uses, even with PYTHONDONTWRITEBYTECODE set, and only those:
    an agent that only probes never loads the bandwidth or NIC modules."""
    pyz = build_zipapp(tmp_path)
    cache = tmp_path / "cache"
    env = dict(cache_env(cache), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(
        [sys.executable, "-I", str(pyz)],
        input=b'{"type":"bye"}\n',
        capture_output=True,
        timeout=20,
        check=True,
        env=env,
    )
    assert [json.loads(line)["type"] for line in out.stdout.splitlines()] == ["hello", "bye"]
    tag = sys.implementation.cache_tag
    compiled = {p.name.split(".")[0] for p in (cache / key_of(pyz)).rglob(f"*.{tag}.pyc")}
    assert {"protocol", "agent", "scheduler", "tcp_connect"} <= compiled
    assert not compiled & {"bandwidth", "_bandwidth_msgs", "_nic_msgs", "nic_raw", "zipapp_build"}


def test_isolated_start_without_a_cache_runs_from_the_archive(tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    assert session(pyz, blocker / "cache", "-I") == ["hello", "bye"]
