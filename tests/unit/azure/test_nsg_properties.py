"""Properties of the evaluator: priority order, first match wins, subnet-then-NIC order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netcheck.azure.nsg.evaluate import Outcome
from tests.unit.azure.nsgdocs import PS1, SUBNET_B, VM1, export, nsg, predict, rule

PORT = 9443

# a rule: (priority, allow?, matches the flow?) — a non-matching rule carries another port
rules_st = st.lists(
    st.tuples(st.integers(100, 4096), st.booleans(), st.booleans()),
    min_size=0,
    max_size=12,
    unique_by=lambda r: r[0],
)


def _docs(rules: list[tuple[int, bool, bool]]) -> list[dict[str, object]]:
    return [
        rule(
            f"r{prio}",
            prio,
            "Allow" if allow else "Deny",
            ports=str(PORT) if matches else "1-1000",
        )
        for prio, allow, matches in rules
    ]


def _expected(rules: list[tuple[int, bool, bool]]) -> tuple[bool, str]:
    """(allowed?, deciding rule) by the definition: the lowest-numbered matching rule,
    else the default rules (VM1 → PS1 is VNet to VNet: AllowVnetInBound)."""
    matching = sorted((p, a) for p, a, m in rules if m)
    if matching:
        prio, allow = matching[0]
        return allow, f"r{prio}"
    return True, "AllowVnetInBound"


@settings(max_examples=150, deadline=None)
@given(rules=rules_st, order=st.randoms(use_true_random=False))
def test_priority_order_whatever_the_json_order(rules, order) -> None:  # type: ignore[no-untyped-def]
    docs = _docs(rules)
    order.shuffle(docs)
    p = predict(export([nsg("n", docs, subnets=(SUBNET_B,))]), VM1, PS1, PORT)
    allowed, deciding = _expected(rules)
    assert p.outcome is (Outcome.ALLOWED if allowed else Outcome.DENIED)
    (stage,) = [s for s in p.stages if s.nsg == "n"]
    assert stage.rule is not None and stage.rule.name == deciding


@settings(max_examples=150, deadline=None)
@given(rules=rules_st, extra=st.tuples(st.integers(100, 4096), st.booleans()))
def test_first_match_wins(rules, extra) -> None:  # type: ignore[no-untyped-def]
    """A matching rule added ahead of the decider takes over; behind it, changes nothing."""
    prio, allow = extra
    if any(p == prio for p, _a, _m in rules):
        return
    before, _deciding = _expected(rules)
    p = predict(
        export([nsg("n", _docs([*rules, (prio, allow, True)]), subnets=(SUBNET_B,))]),
        VM1,
        PS1,
        PORT,
    )
    first_matching = min((q for q, _a, m in rules if m), default=65000)
    if prio < first_matching:
        assert p.outcome is (Outcome.ALLOWED if allow else Outcome.DENIED)
    else:
        assert p.outcome is (Outcome.ALLOWED if before else Outcome.DENIED)


ACCESS = st.sampled_from(["Allow", "Deny"])


@settings(max_examples=60, deadline=None)
@given(subnet_in=ACCESS, nic_in=ACCESS, subnet_out=ACCESS, nic_out=ACCESS)
def test_subnet_then_nic_inbound_nic_then_subnet_outbound(  # type: ignore[no-untyped-def]
    subnet_in, nic_in, subnet_out, nic_out
) -> None:
    """Both NSGs must allow; the first denying one on the packet's way is named."""
    out_r = {"direction": "Outbound"}
    ex = export(
        [
            nsg("vm-nic", [rule("x", 100, nic_out, **out_r)], nics=("nic-vm1",)),  # type: ignore[arg-type]
            nsg(
                "app-subnet",
                [rule("x", 100, subnet_out, **out_r)],
                subnets=(SUBNET_B.replace("/ps", "/app"),),
            ),  # type: ignore[arg-type]
            nsg("ps-subnet", [rule("x", 100, subnet_in)], subnets=(SUBNET_B,)),
            nsg("ps-nic", [rule("x", 100, nic_in)], nics=("nic-ps1",)),
        ]
    )
    p = predict(ex, VM1, PS1, PORT)
    way = [
        ("vm-nic", nic_out),
        ("app-subnet", subnet_out),
        ("ps-subnet", subnet_in),
        ("ps-nic", nic_in),
    ]
    denying = [name for name, access in way if access == "Deny"]
    if not denying:
        assert p.outcome is Outcome.ALLOWED
    else:
        assert p.outcome is Outcome.DENIED
        assert p.deciding is not None and p.deciding.nsg == denying[0]
