"""The Linux wrapper in agents/run/ finds a Python 3.9+ and runs the real zipapp."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from netcheck_agent.zipapp_build import build_zipapp

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "agents" / "run" / "netcheck-agent.sh"


def test_wrapper_runs_the_zipapp_and_it_exits_on_bye(tmp_path: Path) -> None:
    pyz = build_zipapp(tmp_path)
    shutil.copy(WRAPPER, tmp_path / WRAPPER.name)
    proc = subprocess.run(
        [str(tmp_path / WRAPPER.name), "--max-seconds", "30"],
        input='{"type":"bye"}\n',
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0]["type"] == "hello" and lines[0]["protocol"] == 1
    assert lines[-1] == {"type": "bye"}
    assert pyz.exists()


def test_wrapper_without_a_zipapp_says_how_to_build_one(tmp_path: Path) -> None:
    shutil.copy(WRAPPER, tmp_path / WRAPPER.name)
    proc = subprocess.run(
        [str(tmp_path / WRAPPER.name)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert "netcheck agent build" in proc.stderr
