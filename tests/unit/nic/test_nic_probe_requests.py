"""The per-NIC cells are asked for exactly as the sweep asks for its own (issue 12).

The per-NIC run used a copy of the sweep's request builder that passed no `params`
(a per-NIC DNS cell was answered "bad request: params.name ... is required"), skipped
the per-kind attempt timeout and dropped the samples' `facts`. Both now go through
`netcheck.probing`; this feeds `NicSession.probe` a recording stand-in for the agent
client (a pure unit test: no socket) and checks the requests and the results.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, cast

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.appplan import attempt_timeout_ms
from netcheck.nic.run import NicOptions, NicSession
from netcheck.plan import build_plan
from netcheck.probing import probe_request
from netcheck.proof import ResponderProof
from netcheck.topology import load_topology

TOPOLOGY = Path(__file__).resolve().parents[3] / "topologies" / "asr-failback-expressroute.yaml"


class RecordingClient:
    """Answers every request with one sample carrying DNS facts, and keeps the requests."""

    def __init__(self) -> None:
        self.requests: list[p.ProbeRequest] = []

    async def run_batch(
        self, probes: Sequence[p.ProbeRequest], concurrency: int
    ) -> AsyncIterator[p.Result]:
        for r in probes:
            self.requests.append(r)
            facts: dict[str, Any] | None = (
                {"rcode": "NOERROR", "answers": ["198.18.9.9"]} if r.kind == "dns" else None
            )
            sample = p.Sample("open", rtt_us=100, t=1.7e9, facts=facts)
            yield p.Result(batch="b1", cell=r.cell, samples=(sample,))


def test_a_per_nic_dns_cell_is_requested_with_its_params_timeout_and_keeps_its_facts() -> None:
    plan = build_plan(load_topology(TOPOLOGY))
    session = NicSession(plan, NicOptions(peers_per_group=None))
    dns = [s for s in session.extra if s.kind == "dns"]
    assert dns, "the dual-NIC configuration server must have per-NIC DNS cells"
    client = RecordingClient()
    clients = {h: cast(AgentClient, client) for h in session.by_source()}
    proof = ResponderProof("n" * 32, ())
    asyncio.run(session.probe(clients, proof))

    asked = {r.cell: r for r in client.requests}
    for spec in dns:
        req = asked[spec.cell_id]
        assert req.params is not None and req.params["name"] == dict(spec.params)["name"]
        assert req.timeout_ms == attempt_timeout_ms("dns", plan.settings.timeout_ms)
        assert req == probe_request(spec, plan.settings, proof)  # the sweep's builder
        (sample,) = session.results[spec.cell_id].samples
        assert sample.facts == {"rcode": "NOERROR", "answers": ["198.18.9.9"]}
