"""Run the diagnostics after a sweep's probes: trace failing cells, measure declared paths.

For every filtered or unreachable cell (up to `max_cells`), the cell's own
source agent traces toward that very port from the same source address. For
every pair of sites joined by declared paths, one source host on each side
traces, pings and searches the path MTU toward a host on the other side
(preferring a cell that crosses the path and passed, so the trace can reach
its target). Everything runs concurrently across agents, each request bounded
by its own packet budget and deadline; a failed request is a result saying
why, never an aborted sweep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.diagnose.model import (
    CellDiagnosis,
    Diagnostics,
    Hop,
    Measurement,
    Method,
    PathCheck,
    PathDirection,
)
from netcheck.diagnose.verdict import identify_path, judge_path, locate_break
from netcheck.errors import AgentLost, ProtocolError
from netcheck.result.cells import CellResult, CellStatus
from netcheck.stats import CellVerdict, Verdict
from netcheck.topology.model import Topology

__all__ = ["DiagnoseSettings", "measurement_from", "run_diagnostics"]


@dataclass(frozen=True, slots=True)
class DiagnoseSettings:
    """Bounds of the diagnostics a sweep runs (every one also has a packet budget)."""

    max_cells: int = 16  # failing cells traced per sweep
    max_ttl: int = 16
    timeout_ms: int = 1000  # one probe / one TTL window
    deadline_ms: int = 15_000  # one diagnostic, start to end
    echo_count: int = 5
    echo_interval_ms: int = 100
    max_mtu: int = 1500


def measurement_from(
    res: p.DiagResult,
    *,
    source_host: str,
    source_address: str | None,
    dest_host: str,
    dest_address: str,
    proto: str,
    port: int,
) -> Measurement:
    return Measurement(
        kind=res.kind,
        source_host=source_host,
        source_address=source_address,
        dest_host=dest_host,
        dest_address=dest_address,
        proto=proto,
        port=port,
        method=Method(res.method),
        detail=res.detail,
        hops=tuple(
            Hop(
                ttl=h.ttl,
                reply=h.reply,
                address=h.address,
                rtt_ms=None if h.rtt_us is None else round(h.rtt_us / 1000.0, 3),
                icmp=h.icmp,
                icmp_type=h.icmp_type,
                icmp_code=h.icmp_code,
                mtu=h.mtu,
                size=h.size,
            )
            for h in res.hops
        ),
        reached=res.reached,
        sent=res.sent,
        received=res.received,
        pmtu=res.pmtu,
        iface=res.iface,
        iface_mtu=res.iface_mtu,
        packets=res.packets,
        elapsed_ms=res.elapsed_ms,
    )


@dataclass(frozen=True, slots=True)
class _Target:
    source_host: str
    source_address: str | None
    dest_host: str
    dest_address: str
    proto: str
    port: int


async def _ask(
    client: AgentClient | None,
    kind: str,
    t: _Target,
    st: DiagnoseSettings,
    queued: int,
) -> Measurement:
    def unavailable(why: str) -> Measurement:
        return Measurement(
            kind, t.source_host, t.source_address, t.dest_host, t.dest_address, t.proto, t.port,
            Method.UNAVAILABLE, why,
        )  # fmt: skip

    if client is None:
        return unavailable("no agent runs there in this sweep")
    proto = t.proto if kind == "traceroute" else ("icmp" if kind in ("echo", "pmtu") else t.proto)
    port = t.port if proto != "icmp" else 0
    budget = {
        "traceroute": st.max_ttl * 2,
        "echo": st.echo_count,
        "pmtu": 16,
        "syn": 2,
    }[kind]
    req = p.DiagRequest(
        id=client.next_id("d"),
        kind=kind,
        dst=t.dest_address,
        port=port,
        src=t.source_address,
        proto=proto,
        max_ttl=st.max_ttl,
        count=st.echo_count,
        interval_ms=st.echo_interval_ms,
        timeout_ms=st.timeout_ms,
        deadline_ms=st.deadline_ms,
        max_mtu=st.max_mtu,
        max_packets=budget,
    )
    # the agent runs a few diagnostics at once; the rest wait their turn there
    wait = st.deadline_ms / 1000.0 * (1 + queued // 4) + 20.0
    try:
        res = await client.diagnose(req, wait)
    except AgentLost as exc:
        return unavailable(f"the agent did not answer ({exc.reason})")
    except ProtocolError as exc:
        return unavailable(f"the agent refused the request ({exc}); deploy a newer agent")
    return measurement_from(
        res,
        source_host=t.source_host,
        source_address=t.source_address,
        dest_host=t.dest_host,
        dest_address=t.dest_address,
        proto=proto,
        port=port,
    )


def failing_cells(
    rows: Sequence[tuple[CellResult, CellVerdict]],
) -> list[tuple[CellResult, CellVerdict]]:
    """The cells worth tracing: measured, meant to be reachable, filtered or unreachable."""
    return [
        (r, v)
        for r, v in rows
        if r.status is CellStatus.MEASURED
        and r.spec.expect_reachable
        and v.verdict in (Verdict.FILTERED, Verdict.UNREACHABLE)
    ]


def _path_targets(
    topo: Topology,
    rows: Sequence[tuple[CellResult, CellVerdict]],
    clients: Mapping[str, AgentClient],
) -> dict[tuple[str, str], list[_Target]]:
    """Per site pair joined by a declared path: one target from each side (if any)."""
    out: dict[tuple[str, str], list[_Target]] = {}
    for path in topo.paths:
        pair = (path.sites[0], path.sites[1])
        if pair in out or (pair[1], pair[0]) in out:
            continue
        targets: list[_Target] = []
        for a, b in (pair, (pair[1], pair[0])):
            t = _pick(topo, rows, clients, a, b)
            if t is not None:
                targets.append(t)
        out[pair] = targets
    return out


def _pick(
    topo: Topology,
    rows: Sequence[tuple[CellResult, CellVerdict]],
    clients: Mapping[str, AgentClient],
    a: str,
    b: str,
) -> _Target | None:
    crossing = [
        (r, v)
        for r, v in rows
        if topo.host(r.spec.source_host).site == a
        and topo.host(r.spec.dest_host).site == b
        and r.spec.source_host in clients
        and r.spec.proto == "tcp"
    ]
    crossing.sort(key=lambda rv: (not rv[1].passed, rv[1].verdict is not Verdict.OPEN))
    if crossing:
        s = crossing[0][0].spec
        return _Target(s.source_host, s.source_address, s.dest_host, s.dest_address, "tcp", s.port)
    src = next((h for h in topo.hosts if h.site == a and h.name in clients), None)
    dst = next((h for h in topo.hosts if h.site == b), None)
    if src is None or dst is None:
        return None
    return _Target(
        src.name,
        str(src.nic_facing(b).address),
        dst.name,
        str(dst.nic_facing(a).address),
        "icmp",
        0,
    )


async def run_diagnostics(
    topo: Topology,
    rows: Sequence[tuple[CellResult, CellVerdict]],
    clients: Mapping[str, AgentClient],
    settings: DiagnoseSettings | None = None,
) -> Diagnostics:
    st = settings or DiagnoseSettings()
    notes: list[str] = []
    per_host: dict[str, int] = {}

    def slot(host: str) -> int:
        per_host[host] = per_host.get(host, 0) + 1
        return per_host[host] - 1

    todo: list[tuple[CellResult, _Target]] = []
    seen: set[tuple[str, str | None, str, int]] = set()
    for r, _v in failing_cells(rows):
        s = r.spec
        key = (s.source_host, s.source_address, s.dest_address, s.port)
        if key in seen:
            continue
        seen.add(key)
        todo.append(
            (
                r,
                _Target(
                    s.source_host, s.source_address, s.dest_host, s.dest_address, s.proto, s.port
                ),
            )
        )
    if len(todo) > st.max_cells:
        notes.append(f"{len(todo) - st.max_cells} failing cells not traced (limit {st.max_cells})")
        todo = todo[: st.max_cells]
    cell_jobs = [
        _ask(clients.get(t.source_host), "traceroute", t, st, slot(t.source_host)) for _, t in todo
    ]
    pairs = _path_targets(topo, rows, clients)
    path_jobs = []
    for targets in pairs.values():
        for t in targets:
            c = clients.get(t.source_host)
            path_jobs.append(_ask(c, "traceroute", t, st, slot(t.source_host)))
            path_jobs.append(_ask(c, "echo", t, st, slot(t.source_host)))
            path_jobs.append(_ask(c, "pmtu", t, st, slot(t.source_host)))
    done = await asyncio.gather(*cell_jobs, *path_jobs)
    traces, measured = done[: len(cell_jobs)], done[len(cell_jobs) :]

    cells = []
    for (r, _t), trace in zip(todo, traces, strict=True):
        path = next((x for x in topo.paths if x.name == r.spec.path), None)
        site = topo.host(r.spec.source_host).site
        cells.append(CellDiagnosis(r.spec.cell_id, trace, locate_break(trace, topo, path, site)))

    directions: dict[tuple[str, str], list[PathDirection]] = {}
    i = 0
    for pair, targets in pairs.items():
        for t in targets:
            trace, echo, pmtu = measured[i], measured[i + 1], measured[i + 2]
            i += 3
            taken, gws = identify_path(topo, trace.hops, pair[0], pair[1])
            directions.setdefault(pair, []).append(
                PathDirection(
                    t.source_host, t.dest_host, t.dest_address, trace, echo, pmtu, taken, gws
                )
            )
    checks = []
    for path in topo.paths:
        pair = (path.sites[0], path.sites[1])
        dirs = directions.get(pair) or directions.get((pair[1], pair[0])) or []
        expected = topo.path_between(*path.sites)
        checks.append(
            PathCheck(
                path.name,
                expected is not None and expected.name == path.name,
                tuple(dirs),
                judge_path(topo, path, tuple(dirs)),
            )
        )
    return Diagnostics(tuple(cells), tuple(checks), tuple(notes))
