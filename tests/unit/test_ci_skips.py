"""In CI (CI=true) a skipped test fails the run, whatever skipped it (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import require, run_pytest_in

SKIPPING = """\
import pytest

@pytest.mark.skipif(True, reason="no such prerequisite")
def test_skipped_by_a_marker(): pass

def test_that_runs(): pass
"""


def _run(
    tmp_path: Path, ci: bool, *args: str, conftest: bool = True
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_skips.py").write_text(SKIPPING)
    return run_pytest_in(tmp_path, *args, ci=ci, conftest=conftest)


def test_a_skip_fails_the_run_in_ci_and_is_named(tmp_path: Path) -> None:
    proc = _run(tmp_path, ci=True)
    assert proc.returncode == 1, proc.stdout
    assert "1 test(s) skipped, which fails CI" in proc.stdout
    assert "test_skips.py::test_skipped_by_a_marker" in proc.stdout


def test_a_skip_in_a_parallel_worker_fails_the_run_in_ci(tmp_path: Path) -> None:
    require(os.geteuid() == 0, "parallel workers need root (a network namespace each)")
    proc = _run(tmp_path, True, "-n", "2")
    assert proc.returncode == 1, proc.stdout
    assert "1 test(s) skipped, which fails CI" in proc.stdout
    assert "test_skips.py::test_skipped_by_a_marker" in proc.stdout


def test_the_agent_runs_plugin_fails_a_skip_in_ci_without_the_conftest(tmp_path: Path) -> None:
    # scripts/test-agent-py39: no conftest above the agent's tests, the plugin by -p
    args = ("-p", "tests.ci_skips", "-c", os.devnull, f"--confcutdir={tmp_path}")
    proc = _run(tmp_path, True, *args, conftest=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 test(s) skipped, which fails CI" in proc.stdout
    assert "test_skips.py::test_skipped_by_a_marker" in proc.stdout


def test_outside_ci_a_skip_is_only_a_skip(tmp_path: Path) -> None:
    proc = _run(tmp_path, ci=False)
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 1 skipped" in proc.stdout
