"""Read stored sweeps: the history list, sweep ids, and a full `SweepResult` for the renderers.

A stored sweep is rebuilt from the topology text stored with it (re-parsed by
this netcheck) and the cells and results stored as they were measured, so
every report format works on old sweeps. Cells that never got a result (the
sweep was killed) come back NOT_RUN, and the sweep is marked interrupted.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from netcheck import __version__
from netcheck.appplan import Params
from netcheck.catalog import Evidence, Rule
from netcheck.errors import ConfigError, StoreError
from netcheck.plan import Limit, Plan, ProbeSpec, build_plan
from netcheck.report.diagnose_report import diagnostics_from_dict
from netcheck.result.cells import AgentInfo, CellResult, CellStatus, Outcome, Sample
from netcheck.result.codec import decode, loads, result_from_dict
from netcheck.result.model import ResponderInfo, SweepResult
from netcheck.store.schema import connect, describe_error
from netcheck.topology import SweepSettings, load_topology_text

__all__ = ["SweepSummary", "list_sweeps", "load_sweep", "open_store", "resolve_sweep_id"]

LATEST = ("last", "latest")


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """One line of `netcheck history`."""

    sweep_id: str
    topology_name: str
    topology_file: str
    started_at: float
    finished_at: float | None  # None: the sweep died before it finished
    interrupted: bool
    verdict: str | None  # "go" | "no-go" | None (did not finish)
    cells: int
    passed: int
    failed: int  # failing results stored
    recorded: int  # results stored

    @property
    def partial(self) -> bool:
        return self.interrupted or self.finished_at is None or self.recorded < self.cells


@contextmanager
def open_store(path: Path) -> Iterator[sqlite3.Connection]:
    """A read connection; SQLite errors while reading become a StoreError naming the file."""
    conn = connect(path, create=False)
    try:
        yield conn
    except sqlite3.Error as exc:
        raise StoreError(
            f"{path}: reading the sweep database failed: {describe_error(exc)}"
        ) from None
    finally:
        conn.close()


_SUMMARY_SQL = """
SELECT s.id, s.topology_name, s.topology_file, s.started_at, s.finished_at, s.interrupted,
       s.verdict, s.cells,
       (SELECT count(*) FROM results r WHERE r.sweep_id = s.id AND r.passed = 1),
       (SELECT count(*) FROM results r WHERE r.sweep_id = s.id AND r.passed = 0),
       (SELECT count(*) FROM results r WHERE r.sweep_id = s.id)
FROM sweeps s
"""


def _summary(row: tuple[Any, ...]) -> SweepSummary:
    return SweepSummary(
        sweep_id=row[0],
        topology_name=row[1],
        topology_file=row[2],
        started_at=row[3],
        finished_at=row[4],
        interrupted=bool(row[5]),
        verdict=row[6],
        cells=row[7],
        passed=row[8],
        failed=row[9],
        recorded=row[10],
    )


def list_sweeps(
    conn: sqlite3.Connection, limit: int | None = 20, topology: str | None = None
) -> list[SweepSummary]:
    """Newest first."""
    sql = _SUMMARY_SQL
    args: list[Any] = []
    if topology is not None:
        sql += " WHERE s.topology_name = ?"
        args.append(topology)
    sql += " ORDER BY s.started_at DESC, s.rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return [_summary(r) for r in conn.execute(sql, args)]


def resolve_sweep_id(conn: sqlite3.Connection, text: str) -> str:
    """A full id, a unique prefix of one, or `last`; otherwise a StoreError listing recent ids."""
    wanted = text.strip()
    if wanted.lower() in LATEST:
        recent = list_sweeps(conn, limit=1)
        if not recent:
            raise StoreError("no sweeps stored yet: run `netcheck sweep` first")
        return recent[0].sweep_id
    if wanted:
        escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = conn.execute(
            "SELECT id FROM sweeps WHERE id LIKE ? ESCAPE '\\' ORDER BY started_at DESC",
            (escaped + "%",),
        ).fetchall()
        exact = [r[0] for r in rows if r[0] == wanted]
        if exact:
            return str(exact[0])
        if len(rows) == 1:
            return str(rows[0][0])
        if len(rows) > 1:
            ids = ", ".join(r[0] for r in rows[:10])
            raise StoreError(f"sweep id {wanted!r} is ambiguous: it starts {ids}; give more digits")
    recent = list_sweeps(conn, limit=10)
    if not recent:
        raise StoreError(f"no sweep {wanted!r}: the database holds no sweeps yet")
    lines = "\n".join(f"  {s.sweep_id}  {_when(s.started_at)}  {s.topology_name}" for s in recent)
    raise StoreError(
        f"no sweep {wanted!r} in the database; recent sweeps (see `netcheck history`):\n{lines}"
    )


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def load_sweep(conn: sqlite3.Connection, sweep_id: str) -> SweepResult:
    """Rebuild a stored sweep as the `SweepResult` the renderers take."""
    row = conn.execute(
        "SELECT s.topology_name, s.topology_file, s.netcheck_version, s.started_at, "
        "s.finished_at, s.interrupted, s.settings, s.phases, t.text, s.diagnostics, s.result "
        "FROM sweeps s LEFT JOIN topology_text t ON t.sha256 = s.topology_sha256 "
        "WHERE s.id = ?",
        (sweep_id,),
    ).fetchone()
    if row is None:
        raise StoreError(f"no sweep {sweep_id!r} in the database")
    try:
        return _rebuild(conn, sweep_id, row)
    except (ValueError, KeyError, TypeError) as exc:  # json, enums, dataclass checks
        raise StoreError(
            f"stored sweep {sweep_id} ({row[0]}, {row[1]}) is damaged and can't be rebuilt: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _rebuild(conn: sqlite3.Connection, sweep_id: str, row: tuple[Any, ...]) -> SweepResult:
    _name, file, version, started, finished, interrupted, settings_json, phases_json, text = row[:9]
    diagnostics_json, whole_json = row[9], row[10]
    if text is None:
        raise StoreError(
            f"sweep {sweep_id} was stored without its topology text ({file} could not be "
            f"read at the time), so it can't be rendered"
        )
    try:
        topo = load_topology_text(text, file)
    except ConfigError as exc:
        raise StoreError(
            f"sweep {sweep_id}: its topology (the text of {file}, stored with the sweep by "
            f"netcheck {version}) no longer loads with netcheck {__version__}:\n{exc}"
        ) from None
    st = json.loads(settings_json)
    only_rules = st.pop("only_rules", [])
    limit = st.pop("limit", None)  # [pattern, total cells] of a --limit sweep
    settings = SweepSettings(**st)
    try:
        base = build_plan(topo, settings=settings, only_rules=only_rules)
    except ConfigError:
        base = build_plan(topo, settings=settings)  # a rule id this catalog no longer has
    specs = tuple(
        _spec(r)
        for r in conn.execute(
            "SELECT cell_id, source_host, source_nic, source_address, dest_host, dest_nic, "
            "dest_address, proto, port, documented_port, rule_ids, evidence, "
            "expect_reachable, path, kind, params FROM cells WHERE sweep_id = ? ORDER BY idx",
            (sweep_id,),
        )
    )
    plan = _with_rules(replace(base, specs=specs, limit=Limit(*limit) if limit else None))
    stored: dict[str, CellResult] = {}
    by_id = {s.cell_id: s for s in specs}
    last_recorded = started
    for cell_id, status, reason, samples_json, recorded in conn.execute(
        "SELECT cell_id, status, reason, samples, recorded_at FROM results WHERE sweep_id = ?",
        (sweep_id,),
    ):
        spec = by_id.get(cell_id)
        if spec is None:
            continue
        samples = tuple(_sample(d) for d in json.loads(samples_json))
        stored[cell_id] = CellResult(spec, CellStatus(status), samples, reason)
        last_recorded = max(last_recorded, recorded)
    died = finished is None
    missing_reason = (
        "not measured: the sweep did not finish (it was killed or crashed); "
        "results up to then were stored"
        if died
        else "not measured: the sweep was interrupted"
    )
    results = tuple(
        stored.get(s.cell_id) or CellResult(s, CellStatus.NOT_RUN, reason=missing_reason)
        for s in specs
    )
    agents = tuple(
        AgentInfo(
            host=r[0],
            transport=r[1],
            available=bool(r[2]),
            lost=bool(r[3]),
            reason=r[4],
            agent_version=r[5],
            python=r[6],
            platform=r[7],
            capabilities=dict(json.loads(r[8])),
            pid=r[9],
            timings=dict(json.loads(r[10])),
        )
        for r in conn.execute(
            "SELECT host, transport, available, lost, reason, agent_version, python, "
            "platform, capabilities, pid, timings FROM agents WHERE sweep_id = ? ORDER BY idx",
            (sweep_id,),
        )
    )
    responders = tuple(
        ResponderInfo(r[0], r[1], r[2], r[3], r[4])
        for r in conn.execute(
            "SELECT host, address, port, state, detail FROM responders WHERE sweep_id = ? "
            "ORDER BY idx",
            (sweep_id,),
        )
    )
    ended = finished if finished is not None else last_recorded
    if whole_json is not None:  # schema 3 on: the parts beyond the rows, losslessly
        return result_from_dict(
            loads(whole_json),
            plan,
            sweep_id=sweep_id,
            started_at=started,
            finished_at=ended,
            results=results,
            agents=agents,
            responders=responders,
        )
    return SweepResult(  # stored by an older netcheck: cells, agents, diagnostics only
        sweep_id=sweep_id,
        plan=plan,
        results=results,
        agents=agents,
        responders=responders,
        started_at=started,
        finished_at=ended,
        interrupted=bool(interrupted) or died,
        phases={k: float(v) for k, v in json.loads(phases_json).items()},
        diagnostics=None
        if diagnostics_json is None
        else diagnostics_from_dict(json.loads(diagnostics_json)),
    )


def _spec(r: tuple[Any, ...]) -> ProbeSpec:
    return ProbeSpec(
        cell_id=r[0],
        source_host=r[1],
        source_nic=r[2],
        source_address=r[3],
        dest_host=r[4],
        dest_nic=r[5],
        dest_address=r[6],
        proto=r[7],
        port=r[8],
        documented_port=r[9],
        rule_ids=tuple(json.loads(r[10])),
        evidence=Evidence(r[11]),
        expect_reachable=bool(r[12]),
        path=r[13],
        kind=r[14],
        params=decode(Params, json.loads(r[15])),
    )


def _sample(d: dict[str, Any]) -> Sample:
    return Sample(
        outcome=Outcome(d["outcome"]),
        rtt_us=d.get("rtt_us"),
        rtt_source=d.get("rtt_source"),
        errno=d.get("errno"),
        detail=d.get("detail", ""),
        proven=bool(d.get("proven", False)),
        t=float(d.get("t", 0.0)),
        facts=d.get("facts"),
    )


def _with_rules(plan: Plan) -> Plan:
    """Stand-ins for rule ids the stored cells name but this netcheck's catalog lacks."""
    known = {r.id for r in plan.rules}
    extra: dict[str, Rule] = {}
    for s in plan.specs:
        for rid in s.rule_ids:
            if rid not in known and rid not in extra:
                extra[rid] = Rule(
                    id=rid,
                    flows=(),
                    sources=(),
                    targets=(),
                    proto=s.proto,
                    port=s.documented_port,
                    phase="unknown",
                    evidence=s.evidence,
                    doc=f"rule {rid!r} is not in this netcheck's catalog",
                    hint=f"(rule {rid!r} came from another netcheck version; no hint here)",
                )
    if not extra:
        return plan
    return replace(
        plan, catalog=replace(plan.catalog, rules=plan.catalog.rules + tuple(extra.values()))
    )
