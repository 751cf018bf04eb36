"""`netcheck watch` end to end on the loopback demo: bounded runs, the store, bad arguments."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.integration.private_demo import private_copy


def _watch(tmp: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    topology = private_copy("local-demo.yaml", tmp / "local-demo.yaml", 93)
    return subprocess.run(
        [sys.executable, "-m", "netcheck", "watch", str(topology), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_count_bounds_the_run_and_every_sweep_is_stored(tmp_path: Path) -> None:
    db = tmp_path / "sweeps.db"
    proc = _watch(
        tmp_path, "--interval", "1s", "--count", "2", "--listen", "127.0.0.1:0", "--db", str(db)
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert re.fullmatch(
        r"netcheck watch: serving http://127\.0\.0\.1:\d+/metrics; sweeping \S+local-demo\.yaml "
        r"\(\d+ cells\) every 1 s ±10%",
        lines[0],
    )
    sweeps = [ln for ln in lines if re.search(r" sweep \d \w{12} (GO|NO-GO)", ln)]
    assert len(sweeps) == 2, proc.stderr
    assert "next in" in sweeps[0] and "next in" not in sweeps[1]
    assert lines[-1] == "netcheck watch: stopped (2 sweeps done; 2 sweeps, 0 failed)"
    ids = [re.search(r" sweep \d (\w{12}) ", ln).group(1) for ln in sweeps]  # type: ignore[union-attr]
    history = subprocess.run(
        [sys.executable, "-m", "netcheck", "history", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for sweep_id in ids:
        assert sweep_id in history


def test_bad_arguments_fail_before_any_sweep(tmp_path: Path) -> None:
    for args, message in (
        (["--interval", "5x"], "argument --interval: '5x': expected a duration such as 30s"),
        (["--interval", "0.2s"], "must be between 1s and 7 days"),
        (["--listen", "localhost:9469"], "'localhost' is not an IP address"),
        (["--listen", "127.0.0.1:99999"], "not within 0..65535"),
        (["--count", "0"], "0 must be at least 1"),
    ):
        proc = _watch(tmp_path, *args, timeout=30)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "serving" not in proc.stderr
