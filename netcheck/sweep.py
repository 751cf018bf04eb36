"""Run a plan: start agents, open responders, stream probe results, tear down.

The one orchestrator, as a sequence of small phases over one `_Sweep`: agents,
responders, readiness facts, probes (with the per-NIC cells around them),
diagnostics, bandwidth, teardown; then `result()` assembles the `SweepResult`.
Failures are data: an agent that can't start becomes "agent unavailable" cells
for its host, an agent that dies mid-sweep leaves its finished cells and marks
the rest "agent lost", and an interrupt keeps every result that had arrived (the
sweep is marked partial).
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
from dataclasses import replace

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.azure.nsg import Predictions
from netcheck.azure.nsg.compare import NsgFinding, compare_cells
from netcheck.bandwidth import BandwidthOutcome, BandwidthStatus, run_bandwidth_checks
from netcheck.bandwidth.run import unavailable as bandwidth_not_run
from netcheck.deadline import AGENT_START_S, ProbeLoad, StartPace
from netcheck.diagnose import DiagnoseSettings, Diagnostics, run_diagnostics
from netcheck.errors import AgentLost, TransportError
from netcheck.nic.run import ALL_NICS, NicOptions, NicSession
from netcheck.plan import Plan, ProbeSpec
from netcheck.probing import probe_batch
from netcheck.proof import OTHER_SWEEP, ResponderProof
from netcheck.readiness import LiveStatus, ReadinessResult, evaluate
from netcheck.readiness.live import read_facts
from netcheck.result.cells import (
    AgentInfo,
    CellResult,
    CellStatus,
    Outcome,
    ProbeQueuing,
    agent_down_reason,
    responder_not_opened_reason,
)
from netcheck.result.events import SweepObserver
from netcheck.result.judge import CellJudge
from netcheck.result.model import ResponderInfo, SweepResult
from netcheck.topology.model import Host, Role
from netcheck.transports.base import Transport

# SweepObserver, SweepResult and ResponderInfo live in netcheck.result; re-exported here
__all__ = ["ResponderInfo", "SweepObserver", "SweepResult", "run_sweep"]

log = logging.getLogger(__name__)


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
    nsg: Predictions | None = None,
) -> SweepResult:
    """Run `plan`. `transports` maps a transport name ("local", "ssh") to its Transport.

    With `readiness`, the agents on master targets also read their host facts and the
    result carries the failback readiness checks (netcheck.readiness), whose failing
    checks make the sweep no-go. With `diagnose`, failing cells are traced toward their
    port and every declared path is measured (netcheck.diagnose) after the probes.
    `nic` says which multi-NIC hosts get the dual-NIC checks (netcheck.nic; all by default).
    With `nsg` (the plan's NSG predictions, netcheck.azure.nsg), each predicted cell's
    measured verdict is compared with its prediction (`SweepResult.nsg`).
    Cancelling the task (Ctrl-C) stops probing and returns a partial result.
    """
    with _few_full_collections():
        sweep = _Sweep(plan, transports, observer or SweepObserver(), host_concurrency, clock, nic)
        await sweep.run(readiness, diagnose)
        return sweep.result(readiness, nsg)


class _Sweep:
    """One sweep's state; each phase is a method, `run` calls them in order."""

    def __init__(
        self,
        plan: Plan,
        transports: Mapping[str, Transport],
        observer: SweepObserver,
        host_concurrency: int,
        clock: Callable[[], float],
        nic: NicOptions,
    ) -> None:
        self.plan = plan
        self.topo = plan.topology
        self.transports = transports
        self.obs = observer
        self.clock = clock
        self.judge = CellJudge.for_plan(plan)
        self.sweep_id = uuid.uuid4().hex[:12]
        self.nonce = secrets.token_hex(16)
        self.gate = asyncio.Semaphore(host_concurrency)
        # the agents' hello limit: per host, stretched while the fleet comes up
        self.pace = StartPace()
        self.results: dict[str, CellResult] = {}
        self.agents: dict[str, AgentInfo] = {}
        self.responders: list[ResponderInfo] = []
        # (address, port) where our responder should listen but its agent is unavailable
        self.no_listener: dict[tuple[str, int], str] = {}
        self.clients: dict[str, AgentClient] = {}
        self.responder_ids: dict[str, str] = {}
        # a transport marked `shared` (the local one) runs one agent for all its hosts
        self.shared: dict[str, asyncio.Future[tuple[AgentClient, dict[str, float]]]] = {}
        self.host_facts: dict[str, p.Facts] = {}
        self.facts_status: dict[str, LiveStatus] = {}
        self.bandwidth: dict[int, BandwidthOutcome] = {}
        self.diagnostics: Diagnostics | None = None
        self.queuing: list[ProbeQueuing] = []
        self.interrupted = False
        self.phases: dict[str, float] = {}
        self._mark = time.perf_counter()
        self.started = clock()
        self.by_source = plan.by_source()
        self.listeners = plan.listeners()
        # dual-NIC checks: per-NIC cells next to the plan's, with their own listeners
        self.nic = NicSession(plan, nic)
        self.nic_hosts = {h.name for h in self.nic.hosts}
        for host_name, pairs in self.nic.listeners().items():
            have = self.listeners.setdefault(host_name, [])
            have.extend(x for x in pairs if x not in have)
        self.needed = self._hosts_needing_an_agent()

    def _hosts_needing_an_agent(self) -> list[Host]:
        """Every source, destinations that may open responders, both ends of every
        bandwidth test, and the multi-NIC hosts."""
        bw_hosts = {name for c in self.topo.bandwidth for name in (c.source, c.dest)}
        return [
            h
            for h in self.topo.hosts
            if h.agent.runs
            and (
                h.name in self.by_source
                or (h.agent.responders and h.name in self.listeners)
                or h.name in bw_hosts
                or h.name in self.nic_hosts
            )
        ]

    def _phase(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = now - self._mark
        self._mark = now

    def _nobody_listens(self, host: Host, wanted: Sequence[tuple[str, int]], why: str) -> None:
        for pair in wanted:
            self.no_listener[pair] = agent_down_reason(host.name, why)

    def record(self, result: CellResult) -> None:
        spec = result.spec
        why = self.no_listener.get((spec.dest_address, spec.port)) if self.no_listener else None
        if (
            why is not None
            and result.status is CellStatus.MEASURED
            and result.samples
            and all(x.outcome is Outcome.REFUSED for x in result.samples)
        ):
            # A reset where our responder should have answered: nothing listens because
            # the destination's agent could not start, not because a firewall said no.
            result = CellResult(spec, CellStatus.NO_LISTENER, result.samples, reason=why)
        self.results[spec.cell_id] = result
        self.obs.on_result(result)

    # --- the sequence ---------------------------------------------------------------------

    async def run(self, readiness: bool, diagnose: DiagnoseSettings | None) -> None:
        self.obs.on_start(self.plan, self.sweep_id)
        self._mark = time.perf_counter()
        try:
            self.obs.on_phase("agents")
            await asyncio.gather(*(self.start_agent(h) for h in self.needed))
            self._phase("agents_s")
            self.obs.on_phase("responders")
            hosts = [h for h in self.topo.hosts if h.name in self.listeners]
            await asyncio.gather(*(self.open_responders(h) for h in hosts))
            self._phase("responders_s")
            if readiness:
                self.obs.on_phase("facts")
                masters = self.topo.hosts_with(Role.MASTER_TARGET)
                await asyncio.gather(*(self.read_host_facts(h) for h in masters))
                self._phase("facts_s")
            self.obs.on_phase("probes")
            await self.probe(ResponderProof(self.nonce, self.responders))
            if diagnose is not None:
                self.obs.on_phase("diagnostics")
                await self.diagnose(diagnose)
            if self.topo.bandwidth:
                self.obs.on_phase("bandwidth")
                await self.measure_bandwidth()
        except asyncio.CancelledError:
            self.interrupted = True
        finally:
            self.obs.on_phase("teardown")
            self._mark = time.perf_counter()
            await asyncio.shield(_teardown(self.clients, self.responder_ids))
            self._phase("teardown_s")

    # --- agents and responders ------------------------------------------------------------

    async def _connect(
        self, host: Host, transport: Transport
    ) -> tuple[AgentClient, dict[str, float]]:
        t0 = time.perf_counter()
        began = asyncio.get_running_loop().time()  # this host's own start-up clock
        try:
            channel = await asyncio.wait_for(transport.start(host), AGENT_START_S)
        except asyncio.TimeoutError:
            raise TransportError(
                host.name,
                f"the agent did not start within {AGENT_START_S:g} s (login, upload, start)",
            ) from None
        t1 = time.perf_counter()
        self.pace.progress(asyncio.get_running_loop().time())
        client = await AgentClient.connect(host.name, channel, pace=self.pace, began=began)
        timings = dict(getattr(channel, "timings", {}))
        timings["start_s"] = t1 - t0
        timings["ready_s"] = time.perf_counter() - t0
        return client, timings

    async def _client_for(self, host: Host) -> tuple[AgentClient, dict[str, float]]:
        transport = self.transports.get(host.agent.transport.value)
        if transport is None:
            raise TransportError(host.name, f"no {host.agent.transport.value} transport configured")
        if not getattr(transport, "shared", False):
            return await self._connect(host, transport)
        fut = self.shared.get(transport.name)
        if fut is None:
            fut = asyncio.ensure_future(self._connect(host, transport))
            self.shared[transport.name] = fut
        return await asyncio.shield(fut)

    async def start_agent(self, host: Host) -> None:
        async with self.gate:
            try:
                client, timings = await self._client_for(host)
            except TransportError as exc:
                info = AgentInfo(host.name, host.agent.transport.value, False, exc.reason)
            else:
                self.clients[host.name] = client
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
        self.agents[host.name] = info
        self.obs.on_agent(info)

    async def open_responders(self, host: Host) -> None:
        wanted = self.listeners.get(host.name, [])
        client = self.clients.get(host.name)
        if not wanted:
            return
        if client is None or not host.agent.responders:
            why = "no agent on the host" if client is None else "responders disabled for this host"
            self.responders += [
                ResponderInfo(host.name, a, port, "none", why) for a, port in wanted
            ]
            if client is None and host.agent.runs:  # its agent should have opened them
                info = self.agents.get(host.name)
                self._nobody_listens(host, wanted, info.reason if info else "not started")
            return
        try:
            rid, outcome = await client.start_responders(
                wanted,
                self.nonce,
                _responder_ttl(self.plan),
                max_conns=_answer_budget(self.plan),
                host=host.name,
            )
        except (AgentLost, TransportError) as exc:
            self.responders += [
                ResponderInfo(host.name, a, port, "none", str(exc)) for a, port in wanted
            ]
            self._nobody_listens(host, wanted, str(exc))
            return
        self.responder_ids[host.name] = rid
        for addr, port in outcome.listening:
            self.responders.append(ResponderInfo(host.name, addr, port, "responder"))
        for addr, port, reason, detail in outcome.refused:
            state = _REFUSED_STATE.get(reason, "none")
            self.responders.append(ResponderInfo(host.name, addr, port, state, detail or reason))
            if state == "none":  # not a service nor another sweep: nothing listens there
                why = detail or reason
                self.no_listener[(addr, port)] = responder_not_opened_reason(
                    host.name, addr, port, why
                )

    # --- readiness facts ------------------------------------------------------------------

    async def read_host_facts(self, host: Host) -> None:
        client = self.clients.get(host.name)
        if client is None:
            info = self.agents.get(host.name)
            why = info.reason if info else "this sweep started no agent there"
            kind = "no_agent" if not host.agent.runs else "unavailable"
            self.facts_status[host.name] = LiveStatus(host.name, kind, why or "agent: none")
            return
        got = await read_facts(client, host)
        if isinstance(got, LiveStatus):
            self.facts_status[host.name] = got
        else:
            self.host_facts[host.name] = got
            self.facts_status[host.name] = LiveStatus(host.name, "live")

    # --- probes ---------------------------------------------------------------------------

    async def probe(self, proof: ResponderProof) -> None:
        """The plan's cells, with the per-NIC cells' captures around them."""
        if self.nic_hosts:  # before the probes, so the handshakes are seen on every interface
            await self.nic.read_facts(self.clients)
            await self.nic.start_captures(self.clients, _responder_ttl(self.plan))
        await self.probe_plan(proof)
        self._phase("probes_s")
        if self.nic_hosts:  # after the plan's cells, so the go/no-go cells never wait for them
            self.obs.on_phase("NIC checks")
            await self.nic.probe(self.clients, proof)
            await self.nic.finish(self.clients)
            self._phase("nic_s")

    async def probe_plan(self, proof: ResponderProof) -> None:
        per_agent: dict[int, tuple[AgentClient, list[ProbeSpec]]] = {}
        for source, specs in self.by_source.items():
            client = self.clients.get(source)
            if client is None:
                info = self.agents.get(source)
                reason = f"agent unavailable on {source}: {info.reason if info else 'not started'}"
                for s in specs:
                    self.record(CellResult(s, CellStatus.AGENT_UNAVAILABLE, reason=reason))
                continue
            per_agent.setdefault(id(client), (client, []))[1].extend(specs)
        await asyncio.gather(*(self.probe_with(c, specs, proof) for c, specs in per_agent.values()))

    async def probe_with(
        self, client: AgentClient, specs: Sequence[ProbeSpec], proof: ResponderProof
    ) -> None:
        """One batch on one agent; for a shared agent, the cells of several source hosts."""
        try:
            await probe_batch(client, specs, self.plan.settings, proof, self.record)
            queued, limit = client.queued_attempts, client.in_flight_limit
            if queued and limit is not None:
                sources = sorted({s.source_host for s in specs})
                served = f" and {len(sources) - 1} more hosts" if len(sources) > 1 else ""
                self.queuing.append(ProbeQueuing(client.host + served, len(specs), queued, limit))
        except AgentLost as exc:
            for source in sorted({s.source_host for s in specs}):
                self.agents[source] = _lost(self.agents[source], exc.reason)
            for s in specs:
                if s.cell_id not in self.results:
                    why = f"agent lost on {s.source_host}: {exc.reason}"
                    self.record(CellResult(s, CellStatus.AGENT_LOST, reason=why))

    # --- diagnostics and bandwidth ----------------------------------------------------------

    async def diagnose(self, settings: DiagnoseSettings) -> None:
        """While the responders still listen, so path traces can reach their targets."""
        rows = [(r, self.judge(r)) for r in self.results.values()]
        self.diagnostics = await run_diagnostics(self.topo, rows, self.clients, settings)
        self._phase("diagnose_s")

    async def measure_bandwidth(self) -> None:
        """After the probes, one path at a time (see netcheck.bandwidth.run); responders
        go first so an endpoint may take a port they held (e.g. 9443)."""
        await _stop_responders(self.clients, self.responder_ids)
        why = {h: a.reason for h, a in self.agents.items()}
        index = {id(c): i for i, c in enumerate(self.topo.bandwidth)}
        await run_bandwidth_checks(
            self.topo,
            self.topo.bandwidth,
            self.clients,
            why,
            on_outcome=lambda o: self.bandwidth.__setitem__(index[id(o.check)], o),
        )
        self._phase("bandwidth_s")

    # --- the result -------------------------------------------------------------------------

    def result(self, readiness: bool, nsg: Predictions | None = None) -> SweepResult:
        interrupted_why = "not measured: the sweep was interrupted"
        for s in self.plan.specs:
            if s.cell_id not in self.results:
                self.results[s.cell_id] = CellResult(s, CellStatus.NOT_RUN, reason=interrupted_why)
        for h in self.needed:
            self.agents.setdefault(
                h.name, AgentInfo(h.name, h.agent.transport.value, False, "not started")
            )
        result = SweepResult(
            sweep_id=self.sweep_id,
            plan=self.plan,
            results=tuple(self.results[s.cell_id] for s in self.plan.specs),
            agents=tuple(self.agents[h.name] for h in self.needed),
            responders=tuple(self.responders),
            started_at=self.started,
            finished_at=self.clock(),
            interrupted=self.interrupted,
            phases=self.phases,
            bandwidth=tuple(
                self.bandwidth.get(i)
                or bandwidth_not_run(self.topo, c, BandwidthStatus.NOT_RUN, interrupted_why)
                for i, c in enumerate(self.topo.bandwidth)
            ),
            readiness=self._readiness() if readiness else None,
            diagnostics=self.diagnostics,
            nics=self.nic.reports(self.results, self.judge, self.interrupted),
            nsg=self._nsg(nsg) if nsg is not None else (),
            queuing=tuple(self.queuing),
        )
        self.obs.on_finish(result)
        return result

    def _nsg(self, predictions: Predictions) -> tuple[NsgFinding, ...]:
        """Each predicted cell's measurement against its NSG prediction; a filtered cell's
        trace (when diagnosed) names the last hop that answered."""
        measured, expect, hops = {}, {}, {}
        for r in self.results.values():
            if r.status is not CellStatus.MEASURED:
                continue
            cell = r.spec.cell_id
            measured[cell] = self.judge(r).verdict
            expect[cell] = r.spec.expect_reachable
            d = self.diagnostics.for_cell(cell) if self.diagnostics is not None else None
            if d is not None and d.where.last_label:
                hops[cell] = d.where.last_label
        return compare_cells(predictions, measured, expect_reachable=expect, last_hops=hops)

    def _readiness(self) -> ReadinessResult:
        status = [
            self.facts_status.get(h.name)
            or LiveStatus(h.name, "unavailable", "not read: the sweep was interrupted")
            for h in self.topo.hosts_with(Role.MASTER_TARGET)
        ]
        return evaluate(self.topo, self.host_facts, status, live_requested=True)


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
