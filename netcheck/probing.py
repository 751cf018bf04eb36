"""Plan cells to probe requests, and the agent's answers back to results: one of each.

The sweep and the per-NIC checks (netcheck.nic.run) both probe through here, so a
cell is asked for the same way wherever it comes from: its kind's attempt timeout,
its application parameters (SNI, DNS name, proxy, resolver) and, where a responder
proves the far end, the sweep's nonce with the destination identity the answer must be
keyed with (netcheck.proof); and every sample keeps what the agent reported,
application facts included, a misdirected answer's responder named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.appplan import attempt_timeout_ms
from netcheck.plan import ProbeSpec
from netcheck.proof import ResponderProof
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from netcheck.topology import SweepSettings

__all__ = ["cell_result", "probe_batch", "probe_request", "sample_from_wire"]


def probe_request(
    spec: ProbeSpec,
    settings: SweepSettings,
    proof: ResponderProof,
) -> p.ProbeRequest:
    """The agent's request for one cell."""
    return p.ProbeRequest(
        cell=spec.cell_id,
        kind=spec.kind,
        dst=spec.dest_address,
        port=spec.port,
        src=spec.source_address,
        samples=settings.samples,
        interval_ms=settings.interval_ms,
        timeout_ms=attempt_timeout_ms(spec.kind, settings.timeout_ms),
        nonce=proof.nonce_for(spec),
        params=dict(spec.params) if spec.params else None,
        dst_host=proof.dst_host_for(spec),
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


def cell_result(spec: ProbeSpec, res: p.Result, proof: ResponderProof) -> CellResult:
    samples = tuple(sample_from_wire(proof.explain(x)) for x in res.samples)
    return CellResult(spec, CellStatus.MEASURED, samples)


async def probe_batch(
    client: AgentClient,
    specs: Sequence[ProbeSpec],
    settings: SweepSettings,
    proof: ResponderProof,
    record: Callable[[CellResult], None],
) -> None:
    """Probe `specs` in one batch on one agent, recording each result as it arrives.

    AgentLost propagates: the caller labels the cells that got no result.
    """
    requests = [probe_request(s, settings, proof) for s in specs]
    index = {s.cell_id: s for s in specs}
    async for res in client.run_batch(requests, settings.concurrency):
        spec = index.get(res.cell)
        if spec is not None:
            record(cell_result(spec, res, proof))
