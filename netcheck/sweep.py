"""Run a plan: start agents, open responders, stream probe results, tear down.

The one orchestrator. Failures are data: an agent that can't start becomes
"agent unavailable" cells for its host, an agent that dies mid-sweep leaves
its finished cells and marks the rest "agent lost", and an interrupt keeps
every result that had arrived (the sweep is marked partial).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.appplan import attempt_timeout_ms
from netcheck.bandwidth import BandwidthOutcome, BandwidthStatus, run_bandwidth_checks
from netcheck.bandwidth.run import unavailable as bandwidth_not_run
from netcheck.diagnose import DiagnoseSettings, Diagnostics, run_diagnostics
from netcheck.errors import AgentLost, TransportError
from netcheck.nic.run import ALL_NICS, NicOptions, NicSession
from netcheck.plan import Plan, ProbeSpec
from netcheck.readiness import LiveStatus, evaluate
from netcheck.readiness.live import read_facts
from netcheck.result.cells import AgentInfo, CellResult, CellStatus, Outcome, Sample
from netcheck.result.events import SweepObserver
from netcheck.result.judge import CellJudge
from netcheck.result.model import ResponderInfo, SweepResult
from netcheck.topology.model import Host, Role
from netcheck.transports.base import Transport

__all__ = [
    "ResponderInfo",
    "SweepObserver",
    "SweepResult",
    "run_sweep",
]  # the first three: re-exported from netcheck.result

log = logging.getLogger(__name__)


@dataclass
class _State:
    results: dict[str, CellResult] = field(default_factory=dict)
    agents: dict[str, AgentInfo] = field(default_factory=dict)
    responders: list[ResponderInfo] = field(default_factory=list)


def _sample(s: p.Sample) -> Sample:
    return Sample(
        outcome=Outcome(s.outcome),
        rtt_us=s.rtt_us,
        rtt_source=s.rtt_source,
        errno=s.errno,
        detail=s.detail,
        proven=s.proven,
        t=s.t,
        facts=s.facts,
    )


def _responder_ttl(plan: Plan) -> int:
    """A safety net only (responders are stopped explicitly): the longest a source may take."""
    st = plan.settings
    per_source = max((len(v) for v in plan.by_source().values()), default=0)
    rounds = math.ceil(per_source / st.concurrency) if per_source else 0
    worst = rounds * st.samples * (st.timeout_ms + st.interval_ms) / 1000
    return int(min(86_400, 60 + 2 * worst))


_gc_depth = 0
_gc_saved = gc.get_threshold()


@contextlib.contextmanager
def _few_full_collections() -> Iterator[None]:
    """Keep the cyclic GC's full collections out of the sweep.

    A sweep allocates quickly (tasks, messages, results: ~80k live objects for
    a 1,000-VM plan), so the default thresholds run several full collections
    that each walk the whole heap: a sixth of a local 1,000-VM sweep's CPU.
    Objects alive at the start (the plan, the topology, modules) are frozen
    out of collections, and full collections wait until the sweep ends; young
    cycles are still collected. Nested or concurrent sweeps share one setting.
    """
    global _gc_depth, _gc_saved
    _gc_depth += 1
    if _gc_depth == 1:
        _gc_saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(_gc_saved[0], _gc_saved[1], max(_gc_saved[2], 1000))
    try:
        yield
    finally:
        _gc_depth -= 1
        if _gc_depth == 0:
            gc.set_threshold(*_gc_saved)
            gc.unfreeze()


async def run_sweep(
    plan: Plan,
    transports: Mapping[str, Transport],
    observer: SweepObserver | None = None,
    host_concurrency: int = 16,
    clock: Callable[[], float] = time.time,
    readiness: bool = False,
    diagnose: DiagnoseSettings | None = None,
    nic: NicOptions = ALL_NICS,
) -> SweepResult:
    """Run `plan`. `transports` maps a transport name ("local", "ssh") to its Transport.

    With `readiness`, the agents on master targets also read their host facts and the
    result carries the failback readiness checks (netcheck.readiness), whose failing
    checks make the sweep no-go. With `diagnose`, failing cells are traced toward their
    port and every declared path is measured (netcheck.diagnose) after the probes.
    `nic` says which multi-NIC hosts get the dual-NIC checks (netcheck.nic; all by default).
    Cancelling the task (Ctrl-C) stops probing and returns a partial result.
    """
    with _few_full_collections():
        return await _run_sweep(
            plan, transports, observer, host_concurrency, clock, readiness, diagnose, nic
        )


async def _run_sweep(
    plan: Plan,
    transports: Mapping[str, Transport],
    observer: SweepObserver | None,
    host_concurrency: int,
    clock: Callable[[], float],
    readiness: bool,
    diagnose: DiagnoseSettings | None = None,
    nic: NicOptions = ALL_NICS,
) -> SweepResult:
    obs = observer or SweepObserver()
    topo = plan.topology
    sweep_id = uuid.uuid4().hex[:12]
    nonce = secrets.token_hex(16)
    state = _State()
    started = clock()
    obs.on_start(plan, sweep_id)
    by_source = plan.by_source()
    listeners = plan.listeners()
    # dual-NIC checks: per-NIC cells next to the plan's, with their own listeners
    nic_session = NicSession(plan, nic)
    nic_hosts = {h.name for h in nic_session.hosts}
    for host_name, pairs in nic_session.listeners().items():
        have = listeners.setdefault(host_name, [])
        have.extend(x for x in pairs if x not in have)

    # Hosts that need an agent: every source, and destinations that may open responders,
    # and both ends of every bandwidth test.
    bw_hosts = {name for c in topo.bandwidth for name in (c.source, c.dest)}
    needed: list[Host] = []
    for h in topo.hosts:
        if not h.agent.runs:
            continue
        if (
            h.name in by_source
            or (h.agent.responders and h.name in listeners)
            or h.name in bw_hosts
            or h.name in nic_hosts
        ):
            needed.append(h)
    bw_done: dict[int, BandwidthOutcome] = {}
    diagnostics: Diagnostics | None = None

    clients: dict[str, AgentClient] = {}
    responder_ids: dict[str, str] = {}
    interrupted = False
    gate = asyncio.Semaphore(host_concurrency)

    # A transport marked `shared` (the local one) runs one agent for all its hosts.
    shared_agents: dict[str, asyncio.Future[tuple[AgentClient, dict[str, float]]]] = {}

    async def connect(host: Host, transport: Transport) -> tuple[AgentClient, dict[str, float]]:
        t0 = time.perf_counter()
        channel = await transport.start(host)
        t1 = time.perf_counter()
        client = await AgentClient.connect(host.name, channel)
        timings = dict(getattr(channel, "timings", {}))
        timings["start_s"] = t1 - t0
        timings["ready_s"] = time.perf_counter() - t0
        return client, timings

    async def start_agent(host: Host) -> None:
        transport = transports.get(host.agent.transport.value)
        async with gate:
            try:
                if transport is None:
                    raise TransportError(
                        host.name, f"no {host.agent.transport.value} transport configured"
                    )
                if getattr(transport, "shared", False):
                    fut = shared_agents.get(transport.name)
                    if fut is None:
                        fut = asyncio.ensure_future(connect(host, transport))
                        shared_agents[transport.name] = fut
                    client, timings = await asyncio.shield(fut)
                else:
                    client, timings = await connect(host, transport)
            except TransportError as exc:
                info = AgentInfo(host.name, host.agent.transport.value, False, exc.reason)
            else:
                clients[host.name] = client
                h = client.hello
                info = AgentInfo(
                    host.name,
                    host.agent.transport.value,
                    True,
                    agent_version=h.agent_version,
                    python=h.python,
                    platform=h.platform,
                    capabilities=dict(h.capabilities),
                    pid=h.pid,
                    timings=timings,
                )
        state.agents[host.name] = info
        obs.on_agent(info)

    async def open_responders(host: Host) -> None:
        wanted = listeners.get(host.name, [])
        client = clients.get(host.name)
        if not wanted:
            return
        if client is None or not host.agent.responders:
            why = "no agent on the host" if client is None else "responders disabled for this host"
            for addr, port in wanted:
                state.responders.append(ResponderInfo(host.name, addr, port, "none", why))
            return
        try:
            rid, outcome = await client.start_responders(
                wanted, nonce, _responder_ttl(plan), max_conns=max(1000, 4 * len(plan.specs))
            )
        except (AgentLost, TransportError) as exc:
            for addr, port in wanted:
                state.responders.append(ResponderInfo(host.name, addr, port, "none", str(exc)))
            return
        responder_ids[host.name] = rid
        for addr, port in outcome.listening:
            state.responders.append(ResponderInfo(host.name, addr, port, "responder"))
        for addr, port, reason, detail in outcome.refused:
            st = "service" if reason == p.REFUSED_IN_USE else "none"
            state.responders.append(ResponderInfo(host.name, addr, port, st, detail or reason))

    def record(result: CellResult) -> None:
        state.results[result.spec.cell_id] = result
        obs.on_result(result)

    async def probe_with(
        client: AgentClient, specs: Sequence[ProbeSpec], proven: set[tuple[str, int]]
    ) -> None:
        """One batch on one agent; for a shared agent, the cells of several source hosts."""
        st = plan.settings
        requests = [
            p.ProbeRequest(
                cell=s.cell_id,
                kind=s.kind,
                dst=s.dest_address,
                port=s.port,
                src=s.source_address,
                samples=st.samples,
                interval_ms=st.interval_ms,
                timeout_ms=attempt_timeout_ms(s.kind, st.timeout_ms),
                nonce=nonce if (s.dest_address, s.port) in proven else None,
                params=dict(s.params) if s.params else None,
            )
            for s in specs
        ]
        index = {s.cell_id: s for s in specs}
        try:
            async for res in client.run_batch(requests, st.concurrency):
                spec = index.get(res.cell)
                if spec is not None:
                    record(
                        CellResult(
                            spec, CellStatus.MEASURED, tuple(_sample(x) for x in res.samples)
                        )
                    )
        except AgentLost as exc:
            for source in sorted({s.source_host for s in specs}):
                state.agents[source] = _lost(state.agents[source], exc.reason)
            for s in specs:
                if s.cell_id not in state.results:
                    why = f"agent lost on {s.source_host}: {exc.reason}"
                    record(CellResult(s, CellStatus.AGENT_LOST, reason=why))

    async def probe_all(proven: set[tuple[str, int]]) -> None:
        per_agent: dict[int, tuple[AgentClient, list[ProbeSpec]]] = {}
        for source, specs in by_source.items():
            client = clients.get(source)
            if client is None:
                info = state.agents.get(source)
                reason = f"agent unavailable on {source}: {info.reason if info else 'not started'}"
                for s in specs:
                    record(CellResult(s, CellStatus.AGENT_UNAVAILABLE, reason=reason))
                continue
            per_agent.setdefault(id(client), (client, []))[1].extend(specs)
        await asyncio.gather(*(probe_with(c, specs, proven) for c, specs in per_agent.values()))

    host_facts: dict[str, p.Facts] = {}
    facts_status: dict[str, LiveStatus] = {}

    async def read_host_facts(host: Host) -> None:
        client = clients.get(host.name)
        if client is None:
            info = state.agents.get(host.name)
            why = info.reason if info else "this sweep started no agent there"
            kind = "no_agent" if not host.agent.runs else "unavailable"
            facts_status[host.name] = LiveStatus(host.name, kind, why or "agent: none")
            return
        got = await read_facts(client, host)
        if isinstance(got, LiveStatus):
            facts_status[host.name] = got
        else:
            host_facts[host.name] = got
            facts_status[host.name] = LiveStatus(host.name, "live")

    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = now - mark
        mark = now

    try:
        await asyncio.gather(*(start_agent(h) for h in needed))
        phase("agents_s")
        await asyncio.gather(*(open_responders(h) for h in topo.hosts if h.name in listeners))
        phase("responders_s")
        if readiness:
            await asyncio.gather(*(read_host_facts(h) for h in topo.hosts_with(Role.MASTER_TARGET)))
            phase("facts_s")
        proven = {(r.address, r.port) for r in state.responders if r.state == "responder"}
        if nic_hosts:  # before the probes, so the handshakes are seen on every interface
            await nic_session.read_facts(clients)
            await nic_session.start_captures(clients, _responder_ttl(plan))
        await probe_all(proven)
        phase("probes_s")
        if nic_hosts:  # after the plan's cells, so the go/no-go cells never wait for them
            await nic_session.probe(clients, nonce, proven)
            await nic_session.finish(clients)
            phase("nic_s")
        if diagnose is not None:
            # while the responders still listen, so path traces can reach their targets
            judge = CellJudge.for_plan(plan)
            rows = [(r, judge(r)) for r in state.results.values()]
            diagnostics = await run_diagnostics(topo, rows, clients, diagnose)
            phase("diagnose_s")
        if topo.bandwidth:
            # After the probes, one path at a time (see netcheck.bandwidth.run); responders
            # go first so an endpoint may take a port they held (e.g. 9443).
            await _stop_responders(clients, responder_ids)
            why = {h: a.reason for h, a in state.agents.items()}
            index = {id(c): i for i, c in enumerate(topo.bandwidth)}
            await run_bandwidth_checks(
                topo,
                topo.bandwidth,
                clients,
                why,
                on_outcome=lambda o: bw_done.__setitem__(index[id(o.check)], o),
            )
            phase("bandwidth_s")
    except asyncio.CancelledError:
        interrupted = True
    finally:
        mark = time.perf_counter()
        await asyncio.shield(_teardown(clients, responder_ids))
        phase("teardown_s")

    for s in plan.specs:
        if s.cell_id not in state.results:
            state.results[s.cell_id] = CellResult(
                s, CellStatus.NOT_RUN, reason="not measured: the sweep was interrupted"
            )
    for h in needed:
        state.agents.setdefault(
            h.name, AgentInfo(h.name, h.agent.transport.value, False, "not started")
        )
    result = SweepResult(
        sweep_id=sweep_id,
        plan=plan,
        results=tuple(state.results[s.cell_id] for s in plan.specs),
        agents=tuple(state.agents[h.name] for h in needed),
        responders=tuple(state.responders),
        started_at=started,
        finished_at=clock(),
        interrupted=interrupted,
        phases=phases,
        bandwidth=tuple(
            bw_done.get(i)
            or bandwidth_not_run(
                topo, c, BandwidthStatus.NOT_RUN, "not measured: the sweep was interrupted"
            )
            for i, c in enumerate(topo.bandwidth)
        ),
        readiness=evaluate(
            topo,
            host_facts,
            [
                facts_status.get(h.name)
                or LiveStatus(h.name, "unavailable", "not read: the sweep was interrupted")
                for h in topo.hosts_with(Role.MASTER_TARGET)
            ],
            live_requested=True,
        )
        if readiness
        else None,
        diagnostics=diagnostics,
        nics=nic_session.reports(state.results, CellJudge.for_plan(plan), interrupted),
    )
    obs.on_finish(result)
    return result


def _lost(info: AgentInfo, reason: str) -> AgentInfo:
    return replace(info, reason=reason, lost=True)


async def _stop_responders(clients: Mapping[str, AgentClient], ids: dict[str, str]) -> None:
    """Stop every responder set now (the teardown then has none left to stop)."""
    todo = {h: rid for h, rid in ids.items() if h in clients}
    ids.clear()
    await asyncio.gather(
        *(clients[h].stop_responders(rid) for h, rid in todo.items()), return_exceptions=True
    )


async def _teardown(clients: Mapping[str, AgentClient], responder_ids: dict[str, str]) -> None:
    await _stop_responders(clients, responder_ids)
    unique = {id(c): c for c in clients.values()}  # a shared agent serves several hosts
    await asyncio.gather(*(c.close() for c in unique.values()), return_exceptions=True)
