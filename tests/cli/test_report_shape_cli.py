"""The terminal report through the real CLI (issue 14): it fits the terminal, -q / -v
work after the subcommand, -o picks the format from the extension, --color and NO_COLOR.

Real sweeps of the shipped demos, moved to loopback ranges of their own (127.141.x.y,
127.142.x.y) so no other test's ports collide.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.integration.private_demo import private_copy

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def netcheck(*args: str, columns: int = 80, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**clean, "COLUMNS": str(columns), **env},
    )


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("shape")
    return (
        private_copy("local-demo.yaml", tmp / "local-demo.yaml", 141),
        private_copy("local-demo-faults.yaml", tmp / "local-demo-faults.yaml", 142),
    )


def _widths_ok(text: str, width: int) -> None:
    for line in text.splitlines():
        if len(line) > width:  # only a word that fits no line (a URL) may stay longer
            assert re.fullmatch(r"\s*(\S+:\s+)?\S+", line), line


def test_the_go_demo_fits_one_screen_at_160_columns(demos: tuple[Path, Path]) -> None:
    proc = netcheck("sweep", str(demos[0]), "--no-store", "--no-progress", columns=160)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[0] == "GO: 13 of 13 cells pass"
    assert len(lines) <= 25, proc.stdout
    assert max(map(len, lines)) <= 160, proc.stdout
    assert "from \\ to" in proc.stdout  # the matrix fits 160 columns
    assert any(ln.startswith("paths: s2s-vpn ok") for ln in lines), proc.stdout
    assert any(ln.startswith("NIC cs01: ") for ln in lines), proc.stdout
    assert "\x1b[" not in proc.stdout  # not a terminal: no colour


def test_verbose_after_the_subcommand_gives_the_details_at_80_columns(
    demos: tuple[Path, Path],
) -> None:
    proc = netcheck("sweep", "-v", str(demos[0]), "--no-store", "--no-progress")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "NICs of cs01" in proc.stdout and "Paths (diagnostics):" in proc.stdout
    assert "from \\ to" not in proc.stdout  # 80 columns: one line per source instead
    _widths_ok(proc.stdout, 80)


def test_an_unknown_option_is_one_error_line_not_a_doubled_prefix() -> None:
    proc = netcheck("sweep", "--no-such-option", "topologies/local-demo.yaml")
    assert proc.returncode == 2
    assert "netcheck: error: unrecognized arguments: --no-such-option" in proc.stderr
    assert proc.stderr.count("netcheck:") == 1, proc.stderr
    proc = netcheck("sweep", "-q", "-v", "topologies/local-demo.yaml")
    assert proc.returncode == 2 and "-q and -v" in proc.stderr


def test_quiet_no_go_is_the_verdict_and_the_failing_items_in_colour_when_asked(
    demos: tuple[Path, Path], tmp_path: Path
) -> None:
    db = str(tmp_path / "nc.db")
    proc = netcheck(
        "sweep", str(demos[1]), "-q", "--color=always", "--db", db, "--no-diagnose",
        NO_COLOR="1",  # an explicit --color=always wins over NO_COLOR
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "\x1b[1;31mNO-GO\x1b[0m" in proc.stdout
    lines = ANSI.sub("", proc.stdout).splitlines()
    assert lines[0] == "NO-GO: 7 of 11 cells pass"
    assert lines[1] == "Failing (4):"
    items = [ln for ln in lines if re.match(r"\s+\d+\. ", ln)]
    assert [ln.split()[1] for ln in items] == ["FILTERED", "REFUSED", "OPEN!", "OPEN!"]
    assert "" not in lines and "stored in" not in proc.stdout  # nothing else

    # the same sweep, stored: -o picks the format from the extension, --format wins
    for name, check in (
        ("r.html", lambda t: t.lstrip().lower().startswith("<!doctype html")),
        ("r.json", lambda t: json.loads(t)["verdict"] == "no-go"),
        ("r.xml", lambda t: ET.fromstring(t).tag == "testsuites"),
        ("r.md", lambda t: t.startswith("## ❌ NO-GO")),
        ("r.prom", lambda t: "netcheck_sweep_go" in t),
        ("r.txt", lambda t: t.startswith("NO-GO: 7 of 11 cells pass")),
    ):
        out = tmp_path / name
        got = netcheck("report", "last", "--db", db, "-o", str(out), NO_COLOR="1")
        assert got.returncode == 1, got.stderr
        assert check(out.read_text()), (name, out.read_text()[:200])
    out = tmp_path / "table.html"
    got = netcheck("report", "last", "--db", db, "--format", "table", "-o", str(out))
    assert out.read_text().startswith("NO-GO: 7 of 11 cells pass")
    assert "\x1b[" not in out.read_text()  # a file is no terminal
