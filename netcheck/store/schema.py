"""The sweep database: where it lives, its schema and migrations, and opening it safely.

SQLite in WAL mode: readers (`history`, `report`) never block a sweep that is
writing, and a crash loses at most the last uncommitted batch. The schema
version is `PRAGMA user_version` = the number of migrations applied; a
database from a newer netcheck is refused rather than guessed at.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import sys
from pathlib import Path

from netcheck.errors import StoreError

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "connect",
    "default_db_path",
    "describe_error",
]

APPLICATION_ID = 0x4E43484B  # "NCHK": tells a netcheck database from any other SQLite file

# Each entry upgrades the schema by one version. Never edit a released entry: append.
MIGRATIONS: tuple[str, ...] = (
    # v1
    """
    CREATE TABLE topology_text (
        sha256 TEXT PRIMARY KEY,
        text   TEXT NOT NULL
    );
    CREATE TABLE sweeps (
        id               TEXT PRIMARY KEY,
        topology_name    TEXT NOT NULL,
        topology_file    TEXT NOT NULL,
        topology_sha256  TEXT REFERENCES topology_text(sha256),  -- NULL: file unreadable
        netcheck_version TEXT NOT NULL,
        started_at       REAL NOT NULL,
        finished_at      REAL,              -- NULL while running, or the sweep died
        interrupted      INTEGER NOT NULL DEFAULT 0,
        verdict          TEXT,              -- 'go' | 'no-go', set when finished
        cells            INTEGER NOT NULL,
        settings         TEXT NOT NULL,     -- JSON: samples, interval_ms, timeout_ms, ...
        phases           TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX sweeps_by_start ON sweeps(started_at);
    CREATE TABLE cells (
        sweep_id         TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
        cell_id          TEXT NOT NULL,
        idx              INTEGER NOT NULL,  -- plan order
        source_host      TEXT NOT NULL,
        source_nic       TEXT NOT NULL,
        source_address   TEXT NOT NULL,
        dest_host        TEXT NOT NULL,
        dest_nic         TEXT NOT NULL,
        dest_address     TEXT NOT NULL,
        proto            TEXT NOT NULL,
        port             INTEGER NOT NULL,
        documented_port  INTEGER NOT NULL,
        rule_ids         TEXT NOT NULL,     -- JSON list
        evidence         TEXT NOT NULL,
        expect_reachable INTEGER NOT NULL,
        path             TEXT,
        kind             TEXT NOT NULL,
        PRIMARY KEY (sweep_id, cell_id)
    ) WITHOUT ROWID;
    CREATE TABLE results (
        sweep_id    TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
        cell_id     TEXT NOT NULL,
        status      TEXT NOT NULL,
        reason      TEXT NOT NULL,
        samples     TEXT NOT NULL,          -- JSON list, the JSON report's sample objects
        verdict     TEXT NOT NULL,
        passed      INTEGER NOT NULL,
        rtt_p50_ms  REAL,
        loss_pct    REAL NOT NULL,
        recorded_at REAL NOT NULL,
        PRIMARY KEY (sweep_id, cell_id)
    ) WITHOUT ROWID;
    CREATE TABLE agents (
        sweep_id      TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
        host          TEXT NOT NULL,
        idx           INTEGER NOT NULL,     -- the sweep's order
        transport     TEXT NOT NULL,
        available     INTEGER NOT NULL,
        lost          INTEGER NOT NULL,
        reason        TEXT NOT NULL,
        agent_version TEXT,
        python        TEXT,
        platform      TEXT,
        capabilities  TEXT NOT NULL,        -- JSON object
        pid           INTEGER,
        timings       TEXT NOT NULL,        -- JSON object
        PRIMARY KEY (sweep_id, host)
    ) WITHOUT ROWID;
    CREATE TABLE responders (
        sweep_id TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
        idx      INTEGER NOT NULL,
        host     TEXT NOT NULL,
        address  TEXT NOT NULL,
        port     INTEGER NOT NULL,
        state    TEXT NOT NULL,
        detail   TEXT NOT NULL,
        PRIMARY KEY (sweep_id, idx)
    ) WITHOUT ROWID;
    """,
    # v2: the path diagnostics (traces of failing cells, path checks), as the JSON
    # report's `diagnostics` object; NULL when the sweep did not run them
    """
    ALTER TABLE sweeps ADD COLUMN diagnostics TEXT;
    """,
    # v3: the whole result, losslessly. `result` holds what the indexed rows don't
    # (bandwidth tests, readiness, diagnostics, NIC reports, phases: netcheck.result.codec);
    # `params` the inputs of application probes (SNI, DNS name, ...) a cell was probed with.
    # Sweeps stored before keep `result` NULL: `report` rebuilds them from their rows and
    # says what they lack.
    """
    ALTER TABLE sweeps ADD COLUMN result TEXT;
    ALTER TABLE cells ADD COLUMN params TEXT NOT NULL DEFAULT '[]';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def default_db_path() -> Path:
    """`$NETCHECK_DB`, else `$XDG_DATA_HOME/netcheck/netcheck.db` (~/.local/share/...).

    On Windows: `%LOCALAPPDATA%\\netcheck\\netcheck.db`.
    """
    env = os.environ.get("NETCHECK_DB")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "netcheck" / "netcheck.db"
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "netcheck" / "netcheck.db"


def describe_error(exc: BaseException, path: Path | None = None) -> str:
    """Words for an SQLite or OS error, with the usual causes.

    SQLite reports a write that ran out of space in its WAL as a plain "disk I/O
    error": with the database's `path`, the free space of its file system says
    whether that is what happened.
    """
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if (
        "disk is full" in low
        or "no space" in low
        or ("i/o error" in low and path is not None and _nearly_full(path))
    ):
        return f"{text} (the disk is full)"
    if "readonly" in low or "read-only" in low or "permission" in low:
        return f"{text} (no write permission)"
    if "not a database" in low or "malformed" in low:
        return f"{text} (the file is corrupt or not a netcheck database)"
    return text


def _nearly_full(path: Path) -> bool:
    """Less than 1 MiB left for unprivileged writes on `path`'s file system."""
    try:
        return shutil.disk_usage(path.parent).free < 1 << 20
    except OSError:
        return False


def _damaged(path: Path, exc: BaseException) -> StoreError:
    return StoreError(
        f"{path}: cannot read the sweep database: {describe_error(exc)}; "
        f"move it aside (or pass --db OTHER.db) and netcheck starts a new one"
    )


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """Open (and if `create`, create) the database and bring its schema up to date.

    Without `create`, a missing file is an error that says how to get one. A file
    that is not a netcheck database, or one written by a newer netcheck, is refused
    with a message saying what to do; it is never modified.
    """
    if not create and not path.exists():
        raise StoreError(
            f"no sweep database at {path}: run `netcheck sweep` first (it stores every "
            f"sweep there), or point --db / NETCHECK_DB at the database to read"
        )
    if not create and path.is_file() and path.stat().st_size == 0:
        # never turn a file we were asked to read into a database (a typo'd --db, a
        # placeholder): say so and leave it as it is
        raise StoreError(
            f"{path} is an empty file, not a sweep database: no sweep was stored there; "
            f"run `netcheck sweep --db {path}` first, or point --db / NETCHECK_DB at the "
            f"database to read"
        )
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                # results name hosts and addresses: readable by the owner only
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreError(
                f"cannot create the sweep database {path}: {exc.strerror or exc}"
            ) from None
    uri = path.resolve().as_uri()
    # SQLite needs to write the file and, in WAL mode, create files beside it
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    if create and not writable:
        raise StoreError(
            f"cannot write the sweep database {path}: the file or its folder is read-only; "
            f"pass --db WRITABLE.db, or --no-store"
        )
    readonly = not writable
    try:
        if writable:
            conn = sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=5.0)
        else:  # history/report on a database we may only read (read-only medium, a copy)
            conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise _damaged(path, exc) from None
    conn.isolation_level = None  # explicit BEGIN/COMMIT
    try:
        _check_and_migrate(conn, path, readonly)
    except StoreError:
        conn.close()
        raise
    except sqlite3.DatabaseError as exc:
        conn.close()
        if create and _is_write_failure(exc):
            raise StoreError(
                f"cannot write the sweep database {path}: {describe_error(exc)}; "
                f"pass --db WRITABLE.db, or --no-store"
            ) from None
        raise _damaged(path, exc) from None
    return conn


def _is_write_failure(exc: sqlite3.Error) -> bool:
    low = str(exc).lower()
    return any(w in low for w in ("readonly", "read-only", "disk is full", "disk i/o", "locked"))


def _check_and_migrate(conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
    conn.execute("PRAGMA busy_timeout = 5000")
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id != APPLICATION_ID and (app_id != 0 or tables or version):
        raise StoreError(
            f"{path} is an SQLite database, but not netcheck's; "
            f"pass --db with another file (or set NETCHECK_DB)"
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer netcheck (database schema {version}, this "
            f"netcheck knows up to {SCHEMA_VERSION}); upgrade netcheck or use --db OTHER.db"
        )
    if version < SCHEMA_VERSION:
        if readonly:
            raise StoreError(
                f"{path} has database schema {version} and is read-only, so it can't be "
                f"upgraded to schema {SCHEMA_VERSION}; make it writable or copy it"
            )
        _migrate(conn, version)
    if not readonly:
        with contextlib.suppress(sqlite3.OperationalError):  # WAL needs a writable folder
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Apply the missing migrations, each in one transaction (SQLite DDL is transactional).

    BEGIN IMMEDIATE takes the write lock before the version is read again, so two
    netcheck processes opening a fresh database at once don't both migrate it.
    """
    for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] < target:
                for statement in script.split(";"):  # the scripts hold no ';' in literals
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite already rolled back on SQLITE_FULL: keep its error
                conn.execute("ROLLBACK")
            raise
