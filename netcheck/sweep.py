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
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.appplan import attempt_timeout_ms
from netcheck.bandwidth import (
    BandwidthOutcome,
    BandwidthStatus,
    BandwidthVerdict,
    judge_bandwidth,
    run_bandwidth_checks,
)
from netcheck.bandwidth.run import unavailable as bandwidth_not_run
from netcheck.deadline import AGENT_START_S, ProbeLoad
from netcheck.diagnose import DiagnoseSettings, Diagnostics, run_diagnostics
from netcheck.errors import AgentLost, TransportError
from netcheck.nic.model import HostNicReport
from netcheck.nic.run import ALL_NICS, NicOptions, NicSession
from netcheck.plan import Plan, ProbeSpec
from netcheck.proof import OTHER_SWEEP, ResponderProof
from netcheck.readiness import LiveStatus, ReadinessResult, evaluate
from netcheck.readiness.live import read_facts
from netcheck.results import AgentInfo, CellResult, CellStatus, Outcome, Sample
from netcheck.stats import CellVerdict, judge
from netcheck.topology.model import Host, Role
from netcheck.transports.base import Transport

__all__ = ["ResponderInfo", "SweepObserver", "SweepResult", "run_sweep"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResponderInfo:
    """What listened on a destination port during the sweep."""

    host: str
    address: str
    port: int
    # "responder" | "service" (real service holds the port) | "other_sweep" (a responder of
    # another netcheck sweep holds it: not a real service, nothing proven) | "none"
    state: str
    detail: str = ""


@dataclass(frozen=True, slots=True, repr=False)
class SweepResult:
    sweep_id: str
    plan: Plan
    results: tuple[CellResult, ...]  # in plan order
    agents: tuple[AgentInfo, ...]
    responders: tuple[ResponderInfo, ...]
    started_at: float
    finished_at: float
    interrupted: bool = False
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per sweep phase
    bandwidth: tuple[BandwidthOutcome, ...] = ()  # the topology's bandwidth tests, in order
    readiness: ReadinessResult | None = None  # failback prerequisites, when checked
    diagnostics: Diagnostics | None = None  # traces of failing cells, path checks (when run)
    nics: tuple[HostNicReport, ...] = ()  # dual-NIC checks, one per multi-NIC host
    _verdicts: list[tuple[CellResult, CellVerdict]] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    @property
    def partial(self) -> bool:
        return self.interrupted or any(r.status is CellStatus.NOT_RUN for r in self.results)

    def verdicts(self) -> list[tuple[CellResult, CellVerdict]]:
        """Each cell judged against its rule and path (computed once: results are frozen)."""
        if self._verdicts is None:
            expects = {x.name: x.expect for x in self.plan.topology.paths}
            timeout = self.plan.settings.timeout_ms
            judged = [
                (r, judge(r, expects.get(r.spec.path) if r.spec.path else None, timeout))
                for r in self.results
            ]
            if self.diagnostics is not None and self.diagnostics.cells:
                judged = _with_diagnosis(judged, self.diagnostics)
            object.__setattr__(self, "_verdicts", judged)
        return list(self._verdicts or ())

    @property
    def go(self) -> bool:
        if self.readiness is not None and not self.readiness.go:  # a failing check: no-go
            return False
        if not all(v.passed for _, v in self.bandwidth_verdicts()):
            return False
        if self.diagnostics is not None and not self.diagnostics.passed:  # path checks
            return False
        if not all(n.go for n in self.nics):  # a failing dual-NIC finding
            return False
        return not self.interrupted and all(v.passed for _, v in self.verdicts())

    def bandwidth_verdicts(self) -> list[tuple[BandwidthOutcome, BandwidthVerdict]]:
        return [(b, judge_bandwidth(b, self.plan.topology)) for b in self.bandwidth]

    def __repr__(self) -> str:
        # Short on purpose: asyncio.run (3.11's Runner) reprs its main task, and so
        # this result, when it restores the SIGINT handler; the field-by-field repr
        # of a 5,000-cell sweep took ~0.4 s.
        return (
            f"SweepResult(sweep_id={self.sweep_id!r}, cells={len(self.results)}, "
            f"agents={len(self.agents)}, interrupted={self.interrupted})"
        )


def _with_diagnosis(
    judged: list[tuple[CellResult, CellVerdict]], diagnostics: Diagnostics
) -> list[tuple[CellResult, CellVerdict]]:
    """An unreachable cell's reason names the ICMP answer its trace got, and from whom.

    A connect fails with EHOSTUNREACH for admin-prohibited and host-unreachable
    alike; the trace (raw or error-queue) tells them apart.
    """
    out = []
    for r, v in judged:
        d = diagnostics.for_cell(r.spec.cell_id)
        if d is not None and not v.passed and d.where.icmp:
            hop = d.where.last_hop
            ttl = f" at hop {hop.ttl}" if hop is not None else ""
            why = f"ICMP {d.where.icmp} from {d.where.last_label}{ttl} (traced)"
            v = replace(v, reason=f"{v.reason}; {why}")
        out.append((r, v))
    return out


class SweepObserver:
    """Hooks for progress displays and the store; every method is optional."""

    def on_start(self, plan: Plan, sweep_id: str) -> None:
        pass

    def on_agent(self, info: AgentInfo) -> None:
        pass

    def on_result(self, result: CellResult) -> None:
        pass

    def on_finish(self, result: SweepResult) -> None:
        pass


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


#: `ResponderInfo.state` of a listener the agent could not open, by its refusal reason.
_REFUSED_STATE = {p.REFUSED_IN_USE: "service", p.REFUSED_OTHER_SWEEP: OTHER_SWEEP}


def _answer_budget(plan: Plan) -> int:
    """How many challenges one responder set may answer (its `max_conns`): as many as
    every attempt of every cell (and as many again for the per-NIC cells), at least 1,000.
    Only this sweep's probes can spend it; connections without its challenge don't."""
    return min(p.MAX_CONNS, max(1000, 2 * plan.settings.samples * len(plan.specs)))


def _responder_ttl(plan: Plan) -> int:
    """A safety net only (responders are stopped explicitly): the longest a source may take."""
    st = plan.settings
    per_source = max((len(v) for v in plan.by_source().values()), default=0)
    load = ProbeLoad(per_source, st.samples, st.interval_ms, st.timeout_ms, st.concurrency)
    worst = load.budget().seconds if per_source else 0.0  # the agents' own probe deadline
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
    st_timeout = plan.settings.timeout_ms

    clients: dict[str, AgentClient] = {}
    responder_ids: dict[str, str] = {}
    interrupted = False
    gate = asyncio.Semaphore(host_concurrency)

    # A transport marked `shared` (the local one) runs one agent for all its hosts.
    shared_agents: dict[str, asyncio.Future[tuple[AgentClient, dict[str, float]]]] = {}

    async def connect(host: Host, transport: Transport) -> tuple[AgentClient, dict[str, float]]:
        t0 = time.perf_counter()
        try:
            channel = await asyncio.wait_for(transport.start(host), AGENT_START_S)
        except asyncio.TimeoutError:
            raise TransportError(
                host.name,
                f"the agent did not start within {AGENT_START_S:g} s (login, upload, start)",
            ) from None
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
                wanted,
                nonce,
                _responder_ttl(plan),
                max_conns=_answer_budget(plan),
                host=host.name,
            )
        except (AgentLost, TransportError) as exc:
            for addr, port in wanted:
                state.responders.append(ResponderInfo(host.name, addr, port, "none", str(exc)))
            return
        responder_ids[host.name] = rid
        for addr, port in outcome.listening:
            state.responders.append(ResponderInfo(host.name, addr, port, "responder"))
        for addr, port, reason, detail in outcome.refused:
            st = _REFUSED_STATE.get(reason, "none")
            state.responders.append(ResponderInfo(host.name, addr, port, st, detail or reason))

    def record(result: CellResult) -> None:
        state.results[result.spec.cell_id] = result
        obs.on_result(result)

    async def probe_with(
        client: AgentClient, specs: Sequence[ProbeSpec], proof: ResponderProof
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
                nonce=proof.nonce_for(s),
                params=dict(s.params) if s.params else None,
                dst_host=proof.dst_host_for(s),
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
                            spec,
                            CellStatus.MEASURED,
                            tuple(_sample(proof.explain(x)) for x in res.samples),
                        )
                    )
        except AgentLost as exc:
            for source in sorted({s.source_host for s in specs}):
                state.agents[source] = _lost(state.agents[source], exc.reason)
            for s in specs:
                if s.cell_id not in state.results:
                    why = f"agent lost on {s.source_host}: {exc.reason}"
                    record(CellResult(s, CellStatus.AGENT_LOST, reason=why))

    async def probe_all(proof: ResponderProof) -> None:
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
        await asyncio.gather(*(probe_with(c, specs, proof) for c, specs in per_agent.values()))

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
        proof = ResponderProof(nonce, state.responders)
        if nic_hosts:  # before the probes, so the handshakes are seen on every interface
            await nic_session.read_facts(clients)
            await nic_session.start_captures(clients, _responder_ttl(plan))
        await probe_all(proof)
        phase("probes_s")
        if nic_hosts:  # after the plan's cells, so the go/no-go cells never wait for them
            await nic_session.probe(clients, proof)
            await nic_session.finish(clients)
            phase("nic_s")
        if diagnose is not None:
            # while the responders still listen, so path traces can reach their targets
            expects = {x.name: x.expect for x in topo.paths}
            rows = [
                (r, judge(r, expects.get(r.spec.path) if r.spec.path else None, st_timeout))
                for r in state.results.values()
            ]
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
        nics=nic_session.reports(state.results, _judge_for(plan), interrupted),
    )
    obs.on_finish(result)
    return result


def _judge_for(plan: Plan) -> Callable[[CellResult], CellVerdict]:
    expects = {x.name: x.expect for x in plan.topology.paths}
    timeout = plan.settings.timeout_ms

    def judged(r: CellResult) -> CellVerdict:
        return judge(r, expects.get(r.spec.path) if r.spec.path else None, timeout)

    return judged


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
