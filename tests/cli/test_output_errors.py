"""The exit code never says GO for a report that was not delivered (issue 13).

Real processes: a pipe whose reader is gone, /dev/full, `-o` naming an input.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.private_demo import private_copy

ROOT = Path(__file__).resolve().parents[2]
GO, NO_GO = "local-demo.yaml", "local-demo-faults.yaml"
QUICK = ("--no-store", "--samples", "1", "--timeout-ms", "200", "--no-diagnose")
Demo = Callable[[str], Path]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """A shipped demo on a loopback range of this run's own (other sweeps on the machine
    hold the demo's ports on 127.0.x.y)."""
    here = tmp_path_factory.mktemp("demos")
    octet = random.randint(150, 249)
    return lambda name: private_copy(name, here / name, octet)


def _netcheck(*args: str, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


@pytest.mark.parametrize("name", [GO, NO_GO], ids=["go", "no-go"])
def test_a_closed_pipe_is_exit_2_never_go(name: str, demo: Demo) -> None:
    read, write = os.pipe()
    os.close(read)  # `netcheck sweep ... | true`: the reader is gone before the report
    try:
        proc = _netcheck("sweep", str(demo(name)), *QUICK, stdout=write)
    finally:
        os.close(write)
    assert proc.returncode == 2, proc.stderr
    assert "could not write the report to standard output (Broken pipe" in proc.stderr
    _no_traceback(proc.stderr)


def test_a_closed_pipe_in_a_shell_pipeline_is_exit_2(demo: Demo) -> None:
    cmd = f"{sys.executable} -m netcheck sweep {demo(NO_GO)} {' '.join(QUICK)} | true"
    proc = subprocess.run(
        ["bash", "-c", cmd + "; exit ${PIPESTATUS[0]}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    _no_traceback(proc.stderr)


@pytest.mark.parametrize(
    "args",
    [("sweep", NO_GO, *QUICK), ("plan", NO_GO), ("plan", GO, "--format", "json")],
    ids=["sweep", "plan", "plan-json"],
)
def test_a_full_disk_on_stdout_is_exit_2_with_a_message(args: tuple[str, ...], demo: Demo) -> None:
    with open("/dev/full", "w") as full:
        proc = _netcheck(args[0], str(demo(args[1])), *args[2:], stdout=full)
    assert proc.returncode == 2, proc.stderr
    assert "could not write the report to standard output (No space left on device)" in (
        proc.stderr
    )
    _no_traceback(proc.stderr)


def test_o_naming_the_topology_is_refused_before_anything_starts(
    tmp_path: Path, demo: Demo
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(demo(GO).read_text())
    before = site.read_bytes()
    link = tmp_path / "link.yaml"
    os.link(site, link)
    for output in (site, link, tmp_path / "." / "site.yaml"):
        proc = _netcheck("sweep", str(site), "-o", str(output), *QUICK)
        assert proc.returncode == 2, proc.stderr
        assert f"-o {output}: that is the topology file ({site})" in proc.stderr
        _no_traceback(proc.stderr)
        assert site.read_bytes() == before  # untouched
    proc = _netcheck("plan", str(site), "--format", "json")
    assert proc.returncode == 0  # still a valid topology


def test_o_naming_the_database_is_refused(tmp_path: Path, demo: Demo) -> None:
    db = tmp_path / "sweeps.db"
    db.write_bytes(b"")
    proc = _netcheck("sweep", str(demo(GO)), "--db", str(db), "-o", str(db), "--samples", "1")
    assert proc.returncode == 2
    assert "that is the --db file" in proc.stderr


def test_the_stored_sweep_keeps_the_topology_as_read_before_the_sweep(
    tmp_path: Path, demo: Demo
) -> None:
    site = tmp_path / "site.yaml"
    original = demo(NO_GO).read_text()
    site.write_text(original)
    db = tmp_path / "sweeps.db"
    report = tmp_path / "report.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "netcheck", "sweep", str(site), "--db", str(db), "-o",
         str(report), "--samples", "3", "--timeout-ms", "1000", "--no-diagnose"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )  # fmt: skip
    # the filtered cells take ~3 s: edit the file while the sweep runs
    deadline = time.monotonic() + 30
    while not db.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    site.write_text("# edited during the sweep\n" + original)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # the faults demo is NO-GO
    assert "NO-GO" in report.read_text()
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT text FROM topology_text").fetchone()
    assert stored == original
