"""Faults on the way out: a full disk under the store, a stdout pipe that closes.

The sweep's report is what the user needs most: a store that can't write never
costs it, and a report that could not be delivered never exits 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.faults.conftest import ROOT
from tests.integration.private_demo import private_copy

pytestmark = pytest.mark.faults

# the faults demo's filtered cells take SAMPLES × TIMEOUT: time to fill the disk mid-sweep
SLOW = ("--samples", "4", "--timeout-ms", "700", "--no-diagnose", "--format", "json")


@pytest.fixture
def faults_demo(tmp_path: Path, octet: int) -> Path:
    return private_copy("local-demo-faults.yaml", tmp_path / "faults.yaml", octet)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a disk that fills up for real (ENOSPC from the kernel)."""
    require(os.geteuid() == 0, "mounting a size-limited tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(disk: Path) -> None:
    """Take every free byte of `disk`."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                continue  # ENOSPC: try smaller pieces for the last bytes
    finally:
        os.close(fd)


def _netcheck(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "netcheck", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _complete_no_go(code: int, out: str, err: str) -> dict[str, object]:
    assert code == 1, err[-2000:]  # NO-GO: the report's own exit code
    report = json.loads(out)
    assert report["verdict"] == "no-go" and report["partial"] is False
    assert all(c["status"] == "measured" for c in report["cells"])
    assert "Traceback" not in err
    return report


def test_a_full_disk_before_the_sweep_costs_the_store_not_the_report(
    faults_demo: Path, small_disk: Path
) -> None:
    _fill(small_disk)
    db = small_disk / "netcheck.db"
    proc = _netcheck("sweep", str(faults_demo), "--db", str(db), *SLOW)
    out, err = proc.communicate(timeout=60)
    _complete_no_go(proc.returncode, out, err)
    assert f"in {db} failed" in err and "full" in err, err
    assert "stored in" not in err + out  # never claims a stored sweep


def test_a_disk_that_fills_mid_sweep_costs_the_store_not_the_report(
    faults_demo: Path, small_disk: Path
) -> None:
    db = small_disk / "netcheck.db"
    proc = _netcheck("sweep", str(faults_demo), "--db", str(db), *SLOW)
    deadline = time.monotonic() + 30
    while not (db.exists() and db.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert db.exists(), "the sweep did not start storing"
    _fill(small_disk)  # the sweep is still probing its filtered cells
    out, err = proc.communicate(timeout=60)
    _complete_no_go(proc.returncode, out, err)
    assert f"in {db} failed" in err and "full" in err, err
    assert "stored in" not in err + out


def test_a_stdout_pipe_closed_mid_sweep_is_never_go(faults_demo: Path, octet: int) -> None:
    demo = private_copy("local-demo.yaml", faults_demo.parent / "demo.yaml", octet)
    for topology, label in ((demo, "go"), (faults_demo, "no-go")):
        read, write = os.pipe()
        proc = subprocess.Popen(
            # 4 attempts 700 ms apart: every cell takes > 2 s, so the pipe closes before
            # any report is written, GO or not
            [
                sys.executable,
                "-m",
                "netcheck",
                "sweep",
                str(topology),
                "--no-store",
                *SLOW,
                "--interval-ms",
                "700",
            ],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        os.close(write)
        time.sleep(1.0)  # the sweep runs; then the reader goes away (`| head -c0`)
        os.close(read)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, (label, err[-2000:])
        assert "could not write the report to standard output (Broken pipe" in err
        assert "Traceback" not in err and "Exception ignored" not in err
