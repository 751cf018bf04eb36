"""Sweeps stored by the real CLI, read back with history / report / diff (real sockets,
real SQLite files, real processes). Each test has its own --db."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tests.cli.conftest import wait_for_stored_results
from tests.conftest import require
from tests.integration.private_demo import private_copy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The two loopback demos in 127.94.x.y: other tests sweep the shipped ones meanwhile."""
    tmp = tmp_path_factory.mktemp("demos")
    return (
        private_copy("local-demo.yaml", tmp / "local-demo.yaml", 94),
        private_copy("local-demo-faults.yaml", tmp / "local-demo-faults.yaml", 94),
    )


def netcheck(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def _sweep_id(proc: subprocess.CompletedProcess[str]) -> str:
    if proc.stdout.lstrip().startswith("{"):
        return str(json.loads(proc.stdout)["sweep_id"])
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("sweep "))
    return line.split()[1]  # the report's second line: "sweep ID of 'name' (file) at ..."


def test_sweeps_history_report_and_diff(tmp_path: Path, demos: tuple[Path, Path]) -> None:
    demo, faults = demos
    db = str(tmp_path / "nc.db")
    good = netcheck("sweep", str(demo), "--db", db)
    assert good.returncode == 0, good.stderr
    good_id = _sweep_id(good)
    assert f"Sweep {good_id} stored in {db}" in good.stdout
    assert good.stderr == ""
    bad = netcheck("sweep", str(faults), "--db", db, "--format", "json")
    assert bad.returncode == 1, bad.stderr
    live = json.loads(bad.stdout)  # the machine-readable output stays clean
    bad_id = live["sweep_id"]
    assert f"sweep {bad_id} stored in {db}" in bad.stderr

    hist = netcheck("history", "--db", db)
    assert hist.returncode == 0, hist.stderr
    lines = hist.stdout.splitlines()
    assert lines[0].split()[:5] == ["id", "started", "took", "topology", "verdict"]
    assert lines[2].split()[0] == bad_id and "local-demo-faults" in lines[2]
    assert "NO-GO" in lines[2] and "7/11" in lines[2]
    assert lines[3].split()[0] == good_id and " GO " in lines[3] and "13/13" in lines[3]
    only = netcheck("history", "--db", db, "--topology", "local-demo", "--format", "json")
    rows = json.loads(only.stdout)["sweeps"]
    assert [r["sweep_id"] for r in rows] == [good_id]
    assert netcheck("history", "--db", db, "--limit", "1").stdout.count("local-demo") == 1

    # the stored sweep renders as the live one did, byte for byte, with the sweep's exit code
    stored = netcheck("report", bad_id, "--db", db, "--format", "json")
    assert stored.returncode == 1 and stored.stdout == bad.stdout
    table = netcheck("report", bad_id[:6], "--db", db)
    assert table.returncode == 1 and "NO-GO: 7 of 11 cells pass" in table.stdout
    assert "fix:  Allow the replication data port" in table.stdout

    junit = netcheck("report", bad_id, "--db", db, "--format", "junit")
    root = ET.fromstring(junit.stdout.encode())
    assert int(root.get("tests", "0")) == len(root.findall(".//testcase")) == len(live["findings"])
    cell_suites = [x for x in root.iter("testsuite") if ": from " in x.get("name", "")]
    assert sum(len(x.findall("testcase")) for x in cell_suites) == 11
    failing = [f for f in live["findings"] if f["verdict"] == "fail"]
    assert int(root.get("failures", "0")) == len(root.findall(".//failure")) == len(failing) >= 4

    prom = netcheck("report", "last", "--db", db, "--format", "prom")
    fams = {f.name: f for f in text_string_to_metric_families(prom.stdout)}
    assert [s.value for s in fams["netcheck_sweep_go"].samples] == [0]
    assert len(fams["netcheck_cell_up"].samples) == 11

    md_file = tmp_path / "ticket.md"
    md = netcheck("report", bad_id, "--db", db, "--format", "md", "-o", str(md_file))
    assert md.returncode == 1 and "report written to" in md.stderr
    assert md_file.read_text().startswith("## ❌ NO-GO: 7 of 11 cells pass — local-demo-faults")

    # same demo twice: nothing got worse (RTTs on loopback move by microseconds)
    again = netcheck("sweep", str(demo), "--db", db, "--no-progress")
    again_id = _sweep_id(again)
    same = netcheck("diff", good_id, again_id, "--db", db)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "No change: 13 cells as before." in same.stdout
    # demo → faults demo: other topology, regressions, new and vanished cells and hosts
    worse = netcheck("diff", good_id, bad_id, "--db", db, "--format", "json")
    assert worse.returncode == 1, worse.stderr
    d = json.loads(worse.stdout)
    assert d["worse"] is True
    changes = {(c["source_host"], c["dest_host"], c["port"]): c["change"] for c in d["cells"]}
    assert changes[("cs01", "vcenter", 10443)] == "regressed"
    assert changes[("ps-azure", "mt01", 9443)] == "regressed"
    assert "new" in changes.values() and "vanished" in changes.values()
    assert {"host": "src-win01", "change": "vanished"} in d["hosts"]
    better = netcheck("diff", bad_id, again_id, "--db", db)
    assert better.returncode == 0, better.stdout
    assert "Fixed (failed, now passes)" in better.stdout


def test_unknown_ids_and_missing_database(tmp_path: Path, demos: tuple[Path, Path]) -> None:
    demo = demos[0]
    db = str(tmp_path / "nc.db")
    none = netcheck("history", "--db", db)
    assert none.returncode == 2 and "no sweep database at" in none.stderr
    sweep = netcheck("sweep", str(demo), "--db", db)
    sid = _sweep_id(sweep)
    for args in (["report", "deadbeef"], ["diff", sid, "deadbeef"]):
        proc = netcheck(*args, "--db", db)
        assert proc.returncode == 2
        assert "no sweep 'deadbeef'" in proc.stderr and sid in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    bad_thr = netcheck("diff", sid, sid, "--db", db, "--rtt-threshold-ms", "-3")
    assert bad_thr.returncode == 2 and "must be 0 or more" in bad_thr.stderr


def test_no_store_and_env_database(tmp_path: Path, demos: tuple[Path, Path]) -> None:
    demo = demos[0]
    db = tmp_path / "env.db"
    env = {**os.environ, "NETCHECK_DB": str(db)}
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck", "sweep", str(demo), "--no-store"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0 and "stored" not in proc.stdout and not db.exists()
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck", "sweep", str(demo)],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0 and f"stored in {db}" in proc.stdout


def test_interrupted_sweep_keeps_its_measured_cells(
    tmp_path: Path, demos: tuple[Path, Path]
) -> None:
    faults = demos[1]
    db = str(tmp_path / "nc.db")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netcheck",
            "sweep",
            str(faults),
            "--db",
            db,
            "--format",
            "json",
            "--samples",
            "20",
            "--timeout-ms",
            "1000",
            "--interval-ms",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    # the open cells finish in ~2 s; the filtered ones need 20 s: interrupt in between
    assert wait_for_stored_results(Path(db), at_least=1) >= 1, "no cell finished"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    live = json.loads(out)
    stored = json.loads(netcheck("report", live["sweep_id"], "--db", db, "--format", "json").stdout)
    assert stored == live
    statuses = {c["status"] for c in stored["cells"]}
    assert {"measured", "not_run"} <= statuses and stored["partial"] is True
    hist = netcheck("history", "--db", db).stdout
    assert "PARTIAL" in hist and "NO-GO" in hist


def test_killed_sweep_keeps_what_it_committed(tmp_path: Path, demos: tuple[Path, Path]) -> None:
    """SIGKILL: no teardown, no on_finish — the batches committed so far are in the store."""
    faults = demos[1]
    db = tmp_path / "nc.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netcheck",
            "sweep",
            str(faults),
            "--db",
            str(db),
            "--samples",
            "20",
            "--timeout-ms",
            "1000",
            "--interval-ms",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    measured = 0
    while time.monotonic() < deadline and measured < 3:
        time.sleep(0.5)
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    measured = conn.execute("SELECT count(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                measured = 0  # not created yet
    proc.kill()
    proc.communicate(timeout=30)
    assert measured >= 3
    hist = netcheck("history", "--db", str(db))
    assert "INCOMPLETE" in hist.stdout and "PARTIAL" in hist.stdout
    report = netcheck("report", "last", "--db", str(db), "--format", "json")
    doc = json.loads(report.stdout)
    assert doc["partial"] is True
    done = [c for c in doc["cells"] if c["status"] == "measured"]
    assert len(done) >= measured and all(len(c["samples"]) == 20 for c in done)
    assert any("did not finish" in c["reason"] for c in doc["cells"] if c["status"] == "not_run")


def test_newer_schema_and_corrupt_database(tmp_path: Path, demos: tuple[Path, Path]) -> None:
    demo, faults = demos
    db = tmp_path / "nc.db"
    first = netcheck("sweep", str(demo), "--db", str(db))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    hist = netcheck("history", "--db", str(db))
    assert hist.returncode == 2
    assert "written by a newer netcheck" in hist.stderr and "--db" in hist.stderr
    # a sweep still runs and reports; it only can't be stored
    sweep = netcheck("sweep", str(demo), "--db", str(db))
    assert sweep.returncode == 0 and "GO: 13 of 13 cells pass" in sweep.stdout
    assert "netcheck: warning: storing sweep" in sweep.stderr and "newer netcheck" in sweep.stderr
    assert _sweep_id(first) != _sweep_id(sweep)

    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    for args in (["history"], ["report", "last"]):
        proc = netcheck(*args, "--db", str(junk))
        assert proc.returncode == 2, proc.stderr
        assert (
            "corrupt or not a netcheck database" in proc.stderr and "Traceback" not in proc.stderr
        )
    sweep = netcheck("sweep", str(faults), "--db", str(junk))
    assert sweep.returncode == 1 and "NO-GO" in sweep.stdout
    assert "storing sweep" in sweep.stderr and "corrupt" in sweep.stderr


def _in_private_mount(script: str) -> list[str]:
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def test_read_only_database_path(tmp_path: Path, demos: tuple[Path, Path]) -> None:
    """The report is printed, the exit code is the sweep's, a warning says storing failed;
    the sweeps stored before stay readable."""
    demo, faults = demos
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "nc.db"
    assert netcheck("sweep", str(demo), "--db", str(db)).returncode == 0
    cmd = f"{sys.executable} -m netcheck sweep {faults} --db {db}"
    if os.geteuid() == 0:  # root writes through permission bits: use a read-only mount
        require(shutil.which("unshare") is not None, "unshare (util-linux) not installed")
        args = _in_private_mount(
            f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec {cmd}"
        )
    else:
        folder.chmod(0o500)
        db.chmod(0o400)
        args = cmd.split()
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=90, cwd=ROOT)
    finally:
        folder.chmod(0o700)
        db.chmod(0o600)
    assert proc.returncode == 1, proc.stderr
    assert "NO-GO: 7 of 11 cells pass" in proc.stdout
    assert "netcheck: warning: storing sweep" in proc.stderr
    assert "read-only" in proc.stderr or "readonly" in proc.stderr
    assert "Traceback" not in proc.stderr
    hist = netcheck("history", "--db", str(db))
    assert hist.returncode == 0 and hist.stdout.count("local-demo") == 1


def test_full_disk_while_storing(tmp_path: Path, demos: tuple[Path, Path]) -> None:
    """A real full filesystem (a 1 MiB tmpfs, filled up): the sweep reports, warns, and
    the sweep stored before it is intact."""
    demo, faults = demos
    require(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare")
    mnt = tmp_path / "small"
    mnt.mkdir()
    db = mnt / "nc.db"
    out = tmp_path / "out.txt"
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {mnt} && "
        f"{sys.executable} -m netcheck sweep {demo} --db {db} --format json > {tmp_path}/first.json && "
        f"(dd if=/dev/zero of={mnt}/fill bs=4k 2>/dev/null; true) && "
        f"{{ {sys.executable} -m netcheck sweep {faults} --db {db} > {out}; echo $? > {out}.rc; }} && "
        f"rm -f {mnt}/fill && "
        # its exit code is the stored sweep's verdict (the half-stored one is NO-GO)
        f"{{ {sys.executable} -m netcheck report last --db {db} --format json "
        f"> {tmp_path}/stored.json; true; }}"
    )
    proc = subprocess.run(
        _in_private_mount(script), capture_output=True, text=True, timeout=180, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.txt.rc").read_text().strip() == "1"
    assert "NO-GO: 7 of 11 cells pass" in out.read_text()
    assert "storing sweep" in proc.stderr and "full" in proc.stderr, proc.stderr
    first = json.loads((tmp_path / "first.json").read_text())
    stored = json.loads((tmp_path / "stored.json").read_text())
    # `last` may be the half-stored second sweep or the first; the first is intact either way
    if stored["sweep_id"] == first["sweep_id"]:
        assert stored == first
    else:
        assert stored["topology"]["name"] == "local-demo-faults"


def test_progress_off_a_terminal_is_log_lines_with_v_only(
    tmp_path: Path, demos: tuple[Path, Path]
) -> None:
    demo = demos[0]
    db = str(tmp_path / "nc.db")
    quiet = netcheck("sweep", str(demo), "--db", db)
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = netcheck("-v", "sweep", str(demo), "--db", db)
    assert loud.returncode == 0
    lines = [ln for ln in loud.stderr.splitlines() if ln.startswith("INFO netcheck.progress:")]
    assert lines[0].endswith("of 'local-demo': 13 cells from 5 source hosts")
    assert any("[host=cs01] agent up (local)" in ln for ln in lines)
    assert "done: cells 13/13, failing 0" in lines[-1]
    assert "\r" not in loud.stderr and "\033[" not in loud.stderr  # no status-line redraws


def test_an_empty_file_given_to_read_is_refused_and_left_empty(tmp_path: Path) -> None:
    empty = tmp_path / "placeholder.db"
    empty.touch()
    for argv in (("history",), ("report", "last")):
        proc = netcheck(*argv, "--db", str(empty))
        assert proc.returncode == 2, proc.stderr
        assert "is an empty file, not a sweep database" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert empty.stat().st_size == 0  # never turned into a database by a read
