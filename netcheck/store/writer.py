"""Write a sweep into the database while it runs: a `SweepObserver`.

The sweep row and its plan's cells go in at the start; results are buffered
and committed in small batches (a size bound and a time bound), so a sweep
that is interrupted, crashes or is killed keeps all but the last fraction of a
second of what it measured. Writing never stops a sweep: the first database
error (disk full, read-only file, ...) is reported once through `warn`, and
the observer stops writing — what it had committed stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from netcheck import __version__
from netcheck.errors import StoreError
from netcheck.plan import Plan
from netcheck.result.cells import AgentInfo, CellResult, CellStatus, Sample
from netcheck.result.codec import dumps, encode, result_to_dict
from netcheck.result.events import SweepObserver
from netcheck.result.judge import CellJudge
from netcheck.result.model import ResponderInfo, SweepResult
from netcheck.store.schema import connect, describe_error

__all__ = ["StoreObserver", "sample_to_dict", "topology_digest"]

log = logging.getLogger(__name__)


def topology_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sample_to_dict(s: Sample) -> dict[str, Any]:
    d: dict[str, Any] = {
        "outcome": s.outcome.value,
        "rtt_us": s.rtt_us,
        "rtt_source": s.rtt_source,
        "errno": s.errno,
        "detail": s.detail,
        "proven": s.proven,
        "t": s.t,
    }
    if s.facts is not None:  # application probes (TLS, DNS, NTP, Azure endpoints)
        d["facts"] = s.facts
    return d


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class StoreObserver(SweepObserver):
    """Streams one sweep into the database at `path`.

    `topology_text` is the topology file as read (stored once per digest, so a
    stored sweep can be re-rendered later); `None` reads the plan's source file.
    """

    def __init__(
        self,
        path: Path,
        *,
        warn: Callable[[str], None],
        topology_text: str | None = None,
        only_rules: Sequence[str] = (),
        batch_size: int = 200,
        max_delay_s: float = 0.25,
        clock: Callable[[], float] = time.time,
        connection: sqlite3.Connection | None = None,
    ) -> None:
        self.path = path
        self.warn = warn
        self.sweep_id: str | None = None
        self.failed: str | None = None  # why storing stopped
        self.stored_results = 0
        self._topology_text = topology_text
        self._only_rules = list(only_rules)
        self._batch_size = batch_size
        self._max_delay_s = max_delay_s
        self._clock = clock
        self._conn = connection
        self._plan: Plan | None = None
        self._judge = CellJudge()
        self._pending: list[tuple[Any, ...]] = []
        self._agents: dict[str, tuple[int, AgentInfo]] = {}  # not yet written
        self._agents_seen = 0
        self._timer: asyncio.TimerHandle | None = None
        self._finished = False

    # -- SweepObserver -----------------------------------------------------------------

    def on_start(self, plan: Plan, sweep_id: str) -> None:
        self.sweep_id = sweep_id
        self._plan = plan
        self._judge = CellJudge.for_plan(plan)
        self._guard(self._write_start, plan, sweep_id)

    def on_agent(self, info: AgentInfo) -> None:
        self._agents[info.host] = (self._agents_seen, info)
        self._agents_seen += 1
        self._schedule()

    def on_result(self, result: CellResult) -> None:
        if self.failed is not None or self._plan is None:
            return
        self._pending.append(self._result_row(result))
        if len(self._pending) >= self._batch_size:
            self.flush()
        else:
            self._schedule()

    def on_finish(self, result: SweepResult) -> None:
        self._cancel_timer()
        self._guard(self._write_finish, result)
        self._finished = True
        self.close()

    # -- writing -------------------------------------------------------------------------

    def flush(self) -> None:
        """Commit the buffered results and agent infos (one short transaction)."""
        self._cancel_timer()
        if self._pending or self._agents:
            self._guard(self._write_batch)

    def close(self) -> None:
        """Commit what is buffered and close; safe to call more than once (crash path)."""
        if not self._finished:
            self.flush()
        self._cancel_timer()
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _schedule(self) -> None:
        if self._timer is not None or self.failed is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the sweep's loop (tests, tools): write now
            self.flush()
            return
        self._timer = loop.call_later(self._max_delay_s, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.flush()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _guard(self, write: Callable[..., None], *args: Any) -> None:
        if self.failed is not None:
            return
        try:
            if self._conn is None:
                self._conn = connect(self.path, create=True)
            write(*args)
        except (sqlite3.Error, OSError) as exc:
            self._fail(describe_error(exc, self.path))
        except StoreError as exc:  # from connect(): newer schema, not a netcheck database, ...
            self._fail(str(exc))
        except Exception as exc:  # a bug here must not cost the sweep its measurements
            log.debug("storing the sweep", exc_info=True)
            self._fail(f"internal error {type(exc).__name__}: {exc}")

    def _fail(self, why: str) -> None:
        self.failed = why
        self._pending.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        kept = (
            f"; the {self.stored_results} results stored before are kept"
            if self.stored_results
            else ""
        )
        self.warn(
            f"storing sweep {self.sweep_id} in {self.path} failed: {why}{kept}. "
            f"The sweep goes on and its report is complete."
        )

    def _tx(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    def _write_start(self, plan: Plan, sweep_id: str) -> None:
        topo = plan.topology
        text = self._topology_text
        if text is None:
            try:
                text = Path(topo.source).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = None  # stored without it; `report` then says so
        digest = topology_digest(text) if text is not None else None
        st = plan.settings
        settings = {
            "samples": st.samples,
            "interval_ms": st.interval_ms,
            "timeout_ms": st.timeout_ms,
            "concurrency": st.concurrency,
            "only_rules": self._only_rules,
            "limit": [plan.limit.pattern, plan.limit.total_cells] if plan.limit else None,
        }
        conn = self._tx()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if text is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO topology_text (sha256, text) VALUES (?, ?)",
                    (digest, text),
                )
            conn.execute(
                "INSERT INTO sweeps (id, topology_name, topology_file, topology_sha256, "
                "netcheck_version, started_at, cells, settings) VALUES (?,?,?,?,?,?,?,?)",
                (
                    sweep_id,
                    topo.name,
                    topo.source,
                    digest,
                    __version__,
                    self._clock(),
                    len(plan.specs),
                    _json(settings),
                ),
            )
            conn.executemany(
                "INSERT INTO cells (sweep_id, cell_id, idx, source_host, source_nic, "
                "source_address, dest_host, dest_nic, dest_address, proto, port, "
                "documented_port, rule_ids, evidence, expect_reachable, path, kind, params) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        sweep_id,
                        s.cell_id,
                        i,
                        s.source_host,
                        s.source_nic,
                        s.source_address,
                        s.dest_host,
                        s.dest_nic,
                        s.dest_address,
                        s.proto,
                        s.port,
                        s.documented_port,
                        _json(list(s.rule_ids)),
                        s.evidence.value,
                        int(s.expect_reachable),
                        s.path,
                        s.kind,
                        _json(encode(s.params)),
                    )
                    for i, s in enumerate(plan.specs)
                ),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite already rolled back on SQLITE_FULL: keep its error
                conn.execute("ROLLBACK")
            raise

    def _result_row(self, r: CellResult) -> tuple[Any, ...]:
        assert self._plan is not None
        spec = r.spec
        v = self._judge(r)
        return (
            self.sweep_id,
            spec.cell_id,
            r.status.value,
            r.reason,
            _json([sample_to_dict(s) for s in r.samples]),
            v.verdict.value,
            int(v.passed),
            v.stats.rtt.p50 if v.stats.rtt else None,
            v.stats.loss_pct,
            self._clock(),
        )

    _RESULT_SQL = (
        "INSERT OR REPLACE INTO results (sweep_id, cell_id, status, reason, samples, "
        "verdict, passed, rtt_p50_ms, loss_pct, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
    )

    def _agent_rows(self, infos: Iterable[tuple[int, AgentInfo]]) -> list[tuple[Any, ...]]:
        return [
            (
                self.sweep_id,
                a.host,
                i,
                a.transport,
                int(a.available),
                int(a.lost),
                a.reason,
                a.agent_version,
                a.python,
                a.platform,
                _json(a.capabilities),
                a.pid,
                _json(a.timings),
            )
            for i, a in infos
        ]

    _AGENT_SQL = (
        "INSERT OR REPLACE INTO agents (sweep_id, host, idx, transport, available, lost, "
        "reason, agent_version, python, platform, capabilities, pid, timings) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
    )

    def _write_batch(self) -> None:
        rows, self._pending = self._pending, []
        agents, self._agents = list(self._agents.values()), {}
        conn = self._tx()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(self._RESULT_SQL, rows)
            conn.executemany(self._AGENT_SQL, self._agent_rows(agents))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite already rolled back on SQLITE_FULL: keep its error
                conn.execute("ROLLBACK")
            raise
        self.stored_results += len(rows)

    def _write_finish(self, result: SweepResult) -> None:
        rows, self._pending = self._pending, []
        stored = {row[1] for row in rows}
        conn = self._tx()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(self._RESULT_SQL, rows)
            # cells that never reached on_result (NOT_RUN after an interrupt)
            late = [
                self._result_row(r)
                for r in result.results
                if r.status is CellStatus.NOT_RUN and r.spec.cell_id not in stored
            ]
            conn.executemany(self._RESULT_SQL.replace("OR REPLACE", "OR IGNORE"), late)
            conn.executemany(self._AGENT_SQL, self._agent_rows(enumerate(result.agents)))
            conn.executemany(
                "INSERT OR REPLACE INTO responders (sweep_id, idx, host, address, port, "
                "state, detail) VALUES (?,?,?,?,?,?,?)",
                _responder_rows(result.sweep_id, result.responders),
            )
            conn.execute(
                "UPDATE sweeps SET started_at = ?, finished_at = ?, interrupted = ?, "
                "verdict = ?, phases = ?, result = ? WHERE id = ?",
                (
                    result.started_at,
                    result.finished_at,
                    int(result.interrupted),
                    "go" if result.go else "no-go",
                    _json(result.phases),
                    dumps(result_to_dict(result, cells=False)),
                    result.sweep_id,
                ),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite already rolled back on SQLITE_FULL: keep its error
                conn.execute("ROLLBACK")
            raise
        self.stored_results += len(rows) + len(late)
        self._agents.clear()


def _responder_rows(sweep_id: str, responders: Sequence[ResponderInfo]) -> list[tuple[Any, ...]]:
    return [
        (sweep_id, i, r.host, r.address, r.port, r.state, r.detail)
        for i, r in enumerate(responders)
    ]
