"""Plan cells to probe requests, and the agent's answers back to results: one of each.

The sweep and the per-NIC checks (netcheck.nic.run) both probe through here, so a
cell is asked for the same way wherever it comes from: its kind's attempt timeout,
its application parameters (SNI, DNS name, proxy, resolver) and the sweep's nonce
where a responder proves the far end; and every sample keeps what the agent reported,
application facts included.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.appplan import attempt_timeout_ms
from netcheck.plan import ProbeSpec
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from netcheck.topology import SweepSettings

__all__ = ["cell_result", "probe_batch", "probe_request", "sample_from_wire"]


def probe_request(
    spec: ProbeSpec,
    settings: SweepSettings,
    nonce: str,
    proven: Collection[tuple[str, int]],
) -> p.ProbeRequest:
    """The agent's request for one cell (`proven`: the ports a netcheck responder holds)."""
    return p.ProbeRequest(
        cell=spec.cell_id,
        kind=spec.kind,
        dst=spec.dest_address,
        port=spec.port,
        src=spec.source_address,
        samples=settings.samples,
        interval_ms=settings.interval_ms,
        timeout_ms=attempt_timeout_ms(spec.kind, settings.timeout_ms),
        nonce=nonce if (spec.dest_address, spec.port) in proven else None,
        params=dict(spec.params) if spec.params else None,
    )


def sample_from_wire(s: p.Sample) -> Sample:
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


def cell_result(spec: ProbeSpec, res: p.Result) -> CellResult:
    return CellResult(spec, CellStatus.MEASURED, tuple(sample_from_wire(x) for x in res.samples))


async def probe_batch(
    client: AgentClient,
    specs: Sequence[ProbeSpec],
    settings: SweepSettings,
    nonce: str,
    proven: Collection[tuple[str, int]],
    record: Callable[[CellResult], None],
) -> None:
    """Probe `specs` in one batch on one agent, recording each result as it arrives.

    AgentLost propagates: the caller labels the cells that got no result.
    """
    requests = [probe_request(s, settings, nonce, proven) for s in specs]
    index = {s.cell_id: s for s in specs}
    async for res in client.run_batch(requests, settings.concurrency):
        spec = index.get(res.cell)
        if spec is not None:
            record(cell_result(spec, res))
