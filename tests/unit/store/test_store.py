"""The sweep store over hand-built sweeps: round trip, incremental writes, bad databases.

Real SQLite files in a temp folder; the sweep itself is crafted (no agent, no socket).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from netcheck.errors import StoreError
from netcheck.report.formats import FORMATS
from netcheck.result.cells import AgentInfo, CellStatus
from netcheck.result.model import ResponderInfo, SweepResult
from netcheck.store import (
    SCHEMA_VERSION,
    StoreObserver,
    connect,
    list_sweeps,
    load_sweep,
    open_store,
    resolve_sweep_id,
    topology_digest,
)
from netcheck.store import schema as schema_mod
from tests.unit.report.reportkit import (
    DEFAULT,
    PS_MT,
    RDP,
    TOPOLOGY,
    make_sweep,
    report_plan,
    spec_of,
)

AGENTS = (
    AgentInfo(
        "vm1",
        "ssh",
        True,
        agent_version="0.1.0",
        python="3.11.7",
        platform="Linux-6",
        capabilities={"raw_sockets": False, "tcp_info": True},
        pid=4242,
        timings={"connect_s": 0.12, "ready_s": 0.3},
    ),
    AgentInfo("ps-azure", "ssh", True, "channel closed", lost=True, pid=7),
    AgentInfo("mt01", "ssh", False, "host key mismatch"),
)
RESPONDERS = (
    ResponderInfo("cs01", "127.0.3.10", 10443, "responder"),
    ResponderInfo("mt01", "127.0.2.20", 9443, "none", "no agent on the host"),
)


def _sweep(**kw: object) -> SweepResult:
    s = make_sweep(agents=AGENTS, responders=RESPONDERS, **kw)  # type: ignore[arg-type]
    return replace(s, phases={"agents_s": 0.5, "probes_s": 1.25})


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


def _store(
    sweep: SweepResult, db: Path, warn: Warnings | None = None, **kw: object
) -> StoreObserver:
    """Feed `sweep` through a StoreObserver as run_sweep would (finish included)."""
    obs = StoreObserver(
        db, warn=warn if warn is not None else Warnings(), topology_text=TOPOLOGY, **kw
    )  # type: ignore[arg-type]
    obs.on_start(sweep.plan, sweep.sweep_id)
    for a in sweep.agents:
        obs.on_agent(a)
    for r in sweep.results:
        if r.status is not CellStatus.NOT_RUN:
            obs.on_result(r)
    obs.on_finish(sweep)
    return obs


def _load(db: Path, sweep_id: str) -> SweepResult:
    with open_store(db) as conn:
        return load_sweep(conn, sweep_id)


def test_round_trip_renders_the_same_in_every_format(tmp_path: Path) -> None:
    db = tmp_path / "nc.db"
    sweep = _sweep()
    warn = Warnings()
    obs = _store(sweep, db, warn)
    assert warn == [] and obs.failed is None
    loaded = _load(db, sweep.sweep_id)
    assert loaded.results == sweep.results
    assert loaded.agents == sweep.agents
    assert loaded.responders == sweep.responders
    assert loaded.phases == sweep.phases
    assert (loaded.started_at, loaded.interrupted) == (sweep.started_at, False)
    assert loaded.plan.specs == sweep.plan.specs
    assert loaded.plan.skipped == sweep.plan.skipped
    assert (loaded.finished_at, loaded.sweep_id) == (sweep.finished_at, sweep.sweep_id)
    for fmt, render in FORMATS.items():
        assert render(loaded) == render(sweep), fmt


def test_file_layout_digest_and_permissions(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "dir" / "nc.db"
    _store(_sweep(), db)
    assert (db.stat().st_mode & 0o777) == 0o600
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    (digest,) = conn.execute("SELECT topology_sha256 FROM sweeps").fetchone()
    assert digest == topology_digest(TOPOLOGY)
    # a second sweep of the same topology shares the stored text
    conn.close()
    _store(replace(_sweep(), sweep_id="sw-0002"), db)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM topology_text").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sweeps").fetchone()[0] == 2


def test_results_are_committed_while_the_sweep_runs(tmp_path: Path) -> None:
    """A sweep that dies (no on_finish) keeps what it measured; the loader says it did not finish."""
    db = tmp_path / "nc.db"
    sweep = _sweep()
    obs = StoreObserver(db, warn=Warnings(), topology_text=TOPOLOGY, batch_size=2)
    obs.on_start(sweep.plan, sweep.sweep_id)
    for r in sweep.results[:4]:
        obs.on_result(r)
    # another process reads the database now: four results are there, nothing is lost
    with open_store(db) as conn:
        (summary,) = list_sweeps(conn)
        assert (summary.recorded, summary.cells, summary.verdict) == (4, 6, None)
        assert summary.partial
        loaded = load_sweep(conn, sweep.sweep_id)
    assert loaded.interrupted and not loaded.go
    assert loaded.results[:4] == sweep.results[:4]
    assert {r.status for r in loaded.results[4:]} == {CellStatus.NOT_RUN}
    assert "did not finish" in loaded.results[5].reason
    obs.close()


def test_batches_commit_within_the_time_bound_inside_the_loop(tmp_path: Path) -> None:
    db = tmp_path / "nc.db"
    sweep = _sweep()

    async def run() -> tuple[int, int]:
        obs = StoreObserver(
            db, warn=Warnings(), topology_text=TOPOLOGY, batch_size=1000, max_delay_s=0.05
        )
        obs.on_start(sweep.plan, sweep.sweep_id)
        obs.on_result(sweep.results[0])
        obs.on_result(sweep.results[1])
        before = _count(db)
        await asyncio.sleep(0.5)  # generous: the bound is 0.05 s
        after = _count(db)
        obs.close()
        return before, after

    assert asyncio.run(run()) == (0, 2)


def _count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
    finally:
        conn.close()


def test_interrupted_sweep_stores_not_run_cells_and_flag(tmp_path: Path) -> None:
    db = tmp_path / "nc.db"
    sweep = _sweep(kinds={**DEFAULT, PS_MT: CellStatus.NOT_RUN}, interrupted=True)
    _store(sweep, db)
    loaded = _load(db, sweep.sweep_id)
    assert loaded.interrupted and loaded.partial
    assert loaded.results == sweep.results
    with open_store(db) as conn:
        (s,) = list_sweeps(conn)
    assert s.verdict == "no-go" and s.interrupted and s.recorded == 6


def test_history_filters_and_orders(tmp_path: Path) -> None:
    db = tmp_path / "nc.db"
    for i in range(3):
        s = replace(_sweep(kinds={RDP: "refused"} if i == 2 else None), sweep_id=f"abc{i}")
        _store(replace(s, started_at=s.started_at + i), db)
    with open_store(db) as conn:
        rows = list_sweeps(conn)
        assert [r.sweep_id for r in rows] == ["abc2", "abc1", "abc0"]
        assert [(r.verdict, r.passed, r.failed) for r in rows][:2] == [
            ("go", 6, 0),
            ("no-go", 3, 3),
        ]
        assert [r.sweep_id for r in list_sweeps(conn, limit=1)] == ["abc2"]
        assert list_sweeps(conn, topology="other") == []
        assert len(list_sweeps(conn, topology="report-demo")) == 3


def test_resolving_ids(tmp_path: Path) -> None:
    db = tmp_path / "nc.db"
    for i, sid in enumerate(["a1b2c3d4e5f6", "a1b2ffffffff", "0123456789ab"]):
        s = replace(_sweep(), sweep_id=sid)
        _store(replace(s, started_at=s.started_at + i), db)
    with open_store(db) as conn:
        assert resolve_sweep_id(conn, "a1b2c3d4e5f6") == "a1b2c3d4e5f6"
        assert resolve_sweep_id(conn, "a1b2c") == "a1b2c3d4e5f6"
        assert resolve_sweep_id(conn, "last") == "0123456789ab"
        with pytest.raises(StoreError, match=r"ambiguous.*a1b2"):
            resolve_sweep_id(conn, "a1b2")
        with pytest.raises(StoreError) as unknown:
            resolve_sweep_id(conn, "zzz")
        msg = str(unknown.value)
        assert "no sweep 'zzz'" in msg and "0123456789ab" in msg and "a1b2ffffffff" in msg
        with pytest.raises(StoreError, match="no sweep '%'"):
            resolve_sweep_id(conn, "%")  # LIKE wildcards are literal


def test_missing_database_says_how_to_get_one(tmp_path: Path) -> None:
    with (
        pytest.raises(StoreError, match=r"no sweep database at .*run `netcheck sweep` first"),
        open_store(tmp_path / "none.db"),
    ):
        pass
    assert not (tmp_path / "none.db").exists()


def test_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "nc.db"
    _store(_sweep(), db)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(
        StoreError, match=r"written by a newer netcheck.*upgrade netcheck or use --db"
    ):
        connect(db, create=False)
    warn = Warnings()
    obs = _store(replace(_sweep(), sweep_id="sw-0002"), db, warn)
    assert obs.failed is not None and len(warn) == 1
    assert "newer netcheck" in warn[0] and "report is complete" in warn[0]
    assert db.read_bytes() == before


def test_corrupt_and_foreign_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all\n" * 200)
    with (
        pytest.raises(StoreError, match="corrupt or not a netcheck database"),
        open_store(garbage),
    ):
        pass
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not netcheck's"):
        connect(foreign, create=True)
    # damaged pages after a valid header: reading says so and names the file
    db = tmp_path / "nc.db"
    _store(_sweep(), db)
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    data = bytearray(db.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=str(db)), open_store(db) as conn:
        load_sweep(conn, "sw-0001")


def test_full_disk_mid_sweep_keeps_what_was_stored(tmp_path: Path) -> None:
    """SQLITE_FULL while writing (max_page_count stands in for the disk): one warning,
    the sweep goes on, the batches committed before stay readable."""
    db = tmp_path / "nc.db"
    conn = connect(db, create=True)
    sweep = _sweep()
    warn = Warnings()
    obs = StoreObserver(db, warn=warn, topology_text=TOPOLOGY, batch_size=1, connection=conn)
    obs.on_start(sweep.plan, sweep.sweep_id)
    obs.on_result(sweep.results[0])
    obs.on_result(sweep.results[1])
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = replace(sweep.results[2], reason="x" * 200_000)  # needs many more pages
    obs.on_result(big)
    for r in sweep.results[3:]:
        obs.on_result(r)
    obs.on_finish(sweep)
    assert len(warn) == 1
    assert "disk is full" in warn[0] and "2 results stored before are kept" in warn[0]
    with open_store(db) as rconn:
        (s,) = list_sweeps(rconn)
        assert s.recorded == 2 and s.verdict is None
        loaded = load_sweep(rconn, sweep.sweep_id)
    assert loaded.results[:2] == sweep.results[:2]


def test_topology_that_no_longer_loads_is_named(tmp_path: Path) -> None:
    db = tmp_path / "nc.db"
    _store(_sweep(), db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE topology_text SET text = 'version: 1\nname: x\nbogus_key: 1\n'")
    conn.commit()
    conn.close()
    with pytest.raises(
        StoreError, match=r"sw-0001: its topology .*report-demo.yaml.* no longer loads"
    ):
        _load(db, "sw-0001")


def test_a_rule_this_catalog_lacks_still_renders(tmp_path: Path) -> None:
    db = tmp_path / "nc.db"
    sweep = _sweep()
    _store(sweep, db)
    cell = spec_of(report_plan(), PS_MT).cell_id
    conn = sqlite3.connect(db)
    conn.execute("UPDATE cells SET rule_ids = '[\"retired-rule\"]' WHERE cell_id = ?", (cell,))
    conn.commit()
    conn.close()
    loaded = _load(db, sweep.sweep_id)
    assert "retired-rule" in FORMATS["table"](loaded)
    assert "not in this netcheck's catalog" in FORMATS["md"](loaded)


def test_migrations_upgrade_an_older_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "nc.db"
    _store(_sweep(), db)
    v2 = "CREATE TABLE notes (sweep_id TEXT NOT NULL, text TEXT NOT NULL)"
    monkeypatch.setattr(schema_mod, "MIGRATIONS", (*schema_mod.MIGRATIONS, v2))
    monkeypatch.setattr(schema_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    conn = schema_mod.connect(db, create=False)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.execute("INSERT INTO notes VALUES ('sw-0001', 'hi')")
    assert load_sweep(conn, "sw-0001").results == _sweep().results  # old rows still read
    conn.close()
    # a failing migration leaves the database at its old version
    monkeypatch.setattr(
        schema_mod, "MIGRATIONS", (*schema_mod.MIGRATIONS, "CREATE TABLE notes (x)")
    )
    monkeypatch.setattr(schema_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 2)
    with pytest.raises(StoreError):
        schema_mod.connect(db, create=False)
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    check.close()


def test_report_exit_code_is_the_sweeps_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from netcheck.cli import main

    db = tmp_path / "nc.db"
    _store(_sweep(kinds={RDP: "refused"}), db)
    assert main(["report", "sw-0001", "--db", str(db)]) == 0
    assert "GO: 6 of 6 cells pass" in capsys.readouterr().out
    _store(replace(_sweep(), sweep_id="sw-0002"), db)  # failing cells
    assert main(["report", "sw-0002", "--db", str(db)]) == 1
    assert "NO-GO" in capsys.readouterr().out


def test_report_of_a_sweep_stored_before_schema_3_keeps_its_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An older netcheck stored no bandwidth, readiness or NIC results: `report` says so,
    and its exit code is the verdict the sweep had when it ran."""
    from netcheck.cli import main

    db = tmp_path / "nc.db"
    _store(_sweep(kinds={RDP: "refused"}), db)
    conn = sqlite3.connect(db)
    # as an older netcheck leaves a sweep whose readiness check failed
    conn.execute("UPDATE sweeps SET verdict = 'no-go', result = NULL")
    conn.commit()
    conn.close()
    assert main(["report", "sw-0001", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "stored by an older netcheck" in err and "it was NO-GO when it ran" in err


def test_a_schema_2_database_migrates_and_its_sweeps_still_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database an older netcheck wrote (schema 2: no whole result, no params) is
    upgraded in place; its sweeps render from their rows, with their stored verdict."""
    from netcheck.cli import main

    db = tmp_path / "old.db"
    sweep = _sweep(kinds={RDP: "refused"})
    _store(sweep, db)
    # turn it into what schema 2 left: drop what migration 3 added
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE sweeps DROP COLUMN result")
    conn.execute("ALTER TABLE cells DROP COLUMN params")
    conn.execute("UPDATE sweeps SET verdict = 'no-go'")  # its bandwidth test had failed
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    assert main(["report", "sw-0001", "--db", str(db), "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert "stored by an older netcheck" in captured.err
    doc = json.loads(captured.out)
    assert doc["summary"]["passed"] == 6  # the cells it kept
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    columns = {r[1] for r in conn.execute("PRAGMA table_info(sweeps)")}
    assert "result" in columns
    conn.close()
    # a new sweep in the upgraded database is stored whole
    _store(replace(sweep, sweep_id="sw-0002"), db)
    assert main(["report", "sw-0002", "--db", str(db), "--format", "json"]) == 0
    assert "older netcheck" not in capsys.readouterr().err
