"""The coordinator's side of the responder proof: which cells challenge, who answered. Pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from netcheck_agent import challenge
from netcheck_agent import protocol as p

from netcheck.catalog import Evidence
from netcheck.plan import ProbeSpec
from netcheck.proof import ResponderProof
from netcheck.sweep import ResponderInfo

NONCE = "00112233445566778899aabbccddeeff"
CHAL = challenge.new_challenge(challenge.challenge_key(NONCE))

LISTENERS = (
    ResponderInfo("ps-azure", "198.19.1.4", 9443, "responder"),
    ResponderInfo("mt01", "198.18.2.20", 9443, "responder"),
    ResponderInfo("cs01", "198.18.2.10", 443, "service", "EADDRINUSE"),
    ResponderInfo("vcenter", "198.18.2.30", 443, "other_sweep", "another netcheck sweep ..."),
    ResponderInfo("esxi01", "198.18.2.31", 443, "none", "no agent on the host"),
)


def spec(host: str, address: str, port: int) -> ProbeSpec:
    return ProbeSpec(
        cell_id=f"cs01/nic0>{host}/nic0:tcp/{port}",
        source_host="cs01",
        source_nic="nic0",
        source_address="198.18.2.10",
        dest_host=host,
        dest_nic="nic0",
        dest_address=address,
        proto="tcp",
        port=port,
        documented_port=port,
        rule_ids=("r",),
        evidence=Evidence.INFERRED,
        expect_reachable=True,
        path=None,
        kind="tcp_connect",
    )


def test_cells_challenge_where_a_responder_listens_ours_or_another_sweeps() -> None:
    proof = ResponderProof(NONCE, LISTENERS)
    wanted = {
        ("ps-azure", "198.19.1.4", 9443): (NONCE, "ps-azure"),
        ("mt01", "198.18.2.20", 9443): (NONCE, "mt01"),
        ("vcenter", "198.18.2.30", 443): (NONCE, "vcenter"),  # exposes the other sweep
        ("cs01", "198.18.2.10", 443): (None, None),  # the real service: probed as is
        ("esxi01", "198.18.2.31", 443): (None, None),
        ("mt01", "198.18.2.20", 9444): (None, None),
    }
    for ident, expected in wanted.items():
        s = spec(*ident)
        assert (proof.nonce_for(s), proof.dst_host_for(s)) == expected, ident


def misdirected(answer_key: bytes) -> p.Sample:
    token = challenge.answer(answer_key, CHAL)
    return p.Sample(
        "handshake_only",
        900,
        "tcp_info",
        detail=challenge.DETAIL_MISDIRECTED,
        t=1.0,
        facts={"challenge": CHAL, "answer": token},
    )


def test_a_misdirected_answer_names_the_responder_that_gave_it() -> None:
    proof = ResponderProof(NONCE, LISTENERS)
    mt01 = challenge.keys(NONCE, "mt01", "198.18.2.20", 9443).answer
    named = proof.explain(misdirected(mt01))
    assert named.detail == "answered by a different netcheck responder (mt01?)"
    assert named.facts is None and named.outcome == "handshake_only" and named.rtt_us == 900
    assert proof.explain(misdirected(mt01)).detail.endswith("(mt01?)")  # cached order


def test_an_answer_no_identity_of_the_sweep_made_is_said_so() -> None:
    proof = ResponderProof(NONCE, LISTENERS)
    stranger = challenge.keys("ff" * 16, "mt01", "198.18.2.20", 9443).answer
    named = proof.explain(misdirected(stranger))
    assert named.detail == "answered by a different netcheck responder (none of this sweep's)"
    # a non-responder state is no identity: cs01's real service cannot be "named"
    cs01 = challenge.keys(NONCE, "cs01", "198.18.2.10", 443).answer
    assert proof.explain(misdirected(cs01)).detail.endswith("(none of this sweep's)")
    broken = replace(misdirected(cs01), facts={"challenge": 7})
    assert proof.explain(broken).detail.endswith("(none of this sweep's)")


def test_other_samples_pass_through_untouched() -> None:
    proof = ResponderProof(NONCE, LISTENERS)
    for sample in (
        p.Sample("open", 10, "tcp_info", proven=True, t=1.0),
        p.Sample("handshake_only", 10, detail=challenge.DETAIL_OTHER_SWEEP, t=1.0),
        p.Sample("handshake_only", 10, detail="connected, then eof", t=1.0),
    ):
        assert proof.explain(sample) is sample


def test_the_answer_budget_covers_every_attempt_of_the_plan() -> None:
    """A responder set closes after `max_conns` answers: never before the sweep's own."""
    from types import SimpleNamespace

    from netcheck.sweep import _answer_budget

    def plan(cells: int, samples: int) -> Any:
        return SimpleNamespace(specs=[None] * cells, settings=SimpleNamespace(samples=samples))

    assert _answer_budget(plan(3, 20)) == 1000
    assert _answer_budget(plan(1000, 20)) == 40_000  # 20,000 attempts, twice over
    assert _answer_budget(plan(100_000, 10_000)) == p.MAX_CONNS
