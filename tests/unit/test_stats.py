"""Statistics and verdicts: hand-computed values, then properties."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from netcheck.catalog import Evidence
from netcheck.plan import ProbeSpec
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from netcheck.stats import (
    DEFAULT_MAX_LOSS_PCT,
    CellStats,
    Verdict,
    cell_stats,
    classify,
    judge,
    percentile,
    rtt_stats,
)
from netcheck.topology.model import PathExpect

OPEN, REFUSED, TIMEOUT = Outcome.OPEN, Outcome.REFUSED, Outcome.TIMEOUT
UNREACH, HS, ERROR = Outcome.UNREACHABLE, Outcome.HANDSHAKE_ONLY, Outcome.ERROR


def spec(*, expect_reachable: bool = True, path: str | None = "s2s-vpn") -> ProbeSpec:
    return ProbeSpec(
        cell_id="ps-azure/nic0>mt01/nic0:tcp/9443",
        source_host="ps-azure",
        source_nic="nic0",
        source_address="198.19.1.4",
        dest_host="mt01",
        dest_nic="nic0",
        dest_address="198.18.2.20",
        proto="tcp",
        port=9443,
        documented_port=9443,
        rule_ids=("ps-to-mt-data",),
        evidence=Evidence.INFERRED,
        expect_reachable=expect_reachable,
        path=path,
        kind="tcp_connect",
    )


def opened(*rtt_ms: float, source: str = "tcp_info") -> list[Sample]:
    return [Sample(OPEN, rtt_us=round(ms * 1000), rtt_source=source) for ms in rtt_ms]


def measured(samples: list[Sample], **kw: object) -> CellResult:
    return CellResult(spec(**kw), CellStatus.MEASURED, tuple(samples))  # type: ignore[arg-type]


# --- percentile ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 0, 1),
        ([1, 2, 3, 4], 100, 4),
        ([1, 2, 3, 4], 50, 2.5),  # position 1.5: halfway between 2 and 3
        ([1, 2, 3, 4], 95, 3.85),  # position 2.85
        ([1, 2, 3, 4], 25, 1.75),  # position 0.75
        ([10, 20], 99, 19.9),
        ([1, 2, 3, 4, 5], 50, 3),  # odd count: the middle value exactly
        ([7], 0, 7),
        ([7], 99, 7),
        ([2, 2, 2], 63, 2),
    ],
)
def test_percentile_hand_computed(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected, abs=1e-12)


def test_percentile_rejects_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        percentile([1.0], 100.5)
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        percentile([1.0], -1)


_RTTS = st.lists(
    st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_subnormal=False),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None, database=None)
@given(_RTTS, st.floats(0, 100), st.floats(0, 100))
def test_percentile_is_monotone_in_q_and_bounded(values: list[float], q1: float, q2: float) -> None:
    ordered = sorted(values)
    lo_q, hi_q = sorted((q1, q2))
    p_lo, p_hi = percentile(ordered, lo_q), percentile(ordered, hi_q)
    assert ordered[0] <= p_lo <= p_hi <= ordered[-1]
    assert percentile(ordered, 0) == ordered[0]
    assert percentile(ordered, 100) == ordered[-1]


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.integers(0, 10**8), min_size=1, max_size=30))
@example(rtts_us=[141, 235, 141, 235])  # float rounding once put jitter above max - min
def test_rtt_stats_are_ordered(rtts_us: list[int]) -> None:
    r = rtt_stats([Sample(OPEN, rtt_us=x) for x in rtts_us])
    assert r is not None
    assert r.count == len(rtts_us)
    assert r.min <= r.p50 <= r.p95 <= r.p99 <= r.max
    assert r.min <= r.avg * (1 + 1e-12) and r.avg <= r.max * (1 + 1e-12)
    assert 0 <= r.jitter <= r.max - r.min


# --- rtt_stats / cell_stats -------------------------------------------------------------


def test_rtt_stats_hand_computed() -> None:
    samples = [*opened(1, 3, 2, 6), Sample(REFUSED, errno=111), Sample(OPEN, rtt_us=None)]
    r = rtt_stats(samples)
    assert r is not None
    assert r.count == 4  # the refused attempt and the untimed open are not RTTs
    assert (r.min, r.max, r.avg) == (1.0, 6.0, 3.0)
    assert r.p50 == pytest.approx(2.5)  # sorted 1 2 3 6, position 1.5
    assert r.p95 == pytest.approx(5.55)  # position 2.85: 3 + 0.85 * 3
    assert r.p99 == pytest.approx(5.91)  # position 2.97
    # jitter over the order the attempts were made: |3-1| + |2-3| + |6-2| = 7, over 3 gaps
    assert r.jitter == pytest.approx(7 / 3)
    assert r.source == "tcp_info"


def test_rtt_stats_single_sample_and_sources() -> None:
    r = rtt_stats(opened(0.12, source="monotonic"))
    assert r is not None
    assert (r.count, r.min, r.p50, r.p99, r.max, r.jitter) == (1, 0.12, 0.12, 0.12, 0.12, 0.0)
    assert r.source == "monotonic"
    mixed = rtt_stats([*opened(1), *opened(2, source="monotonic")])
    assert mixed is not None and mixed.source == "mixed"
    unnamed = rtt_stats([Sample(OPEN, rtt_us=1500)])
    assert unnamed is not None and unnamed.source == "monotonic"  # no source: agent clock


def test_rtt_stats_without_answers() -> None:
    assert rtt_stats([]) is None
    assert rtt_stats([Sample(TIMEOUT), Sample(REFUSED)]) is None
    assert rtt_stats([Sample(OPEN)]) is None  # opened, but no RTT measured


def test_cell_stats_loss() -> None:
    s = cell_stats([*opened(1, 2, 3), Sample(TIMEOUT)])
    assert (s.sent, s.answered, s.loss_pct) == (4, 3, 25.0)
    assert s.rtt is not None and s.rtt.count == 3
    none = cell_stats([Sample(TIMEOUT), Sample(REFUSED)])
    assert (none.sent, none.answered, none.loss_pct, none.rtt) == (2, 0, 100.0, None)
    assert cell_stats([]).loss_pct == 100.0
    assert cell_stats(opened(1, 1)).loss_pct == 0.0


# --- classify -------------------------------------------------------------------------


def test_classify_any_open_wins() -> None:
    samples = [Sample(TIMEOUT), Sample(TIMEOUT), *opened(4)]
    verdict, witness = classify(samples)
    assert verdict is Verdict.OPEN and witness is samples[2]


@pytest.mark.parametrize(
    ("outcomes", "verdict", "witness_index"),
    [
        ([TIMEOUT, TIMEOUT, REFUSED], Verdict.FILTERED, 0),  # majority
        ([REFUSED, TIMEOUT, TIMEOUT], Verdict.FILTERED, 1),  # majority, witness is a timeout
        ([TIMEOUT, REFUSED], Verdict.REFUSED, 1),  # tie: a reset says more than silence
        ([TIMEOUT, UNREACH], Verdict.UNREACHABLE, 1),  # tie: ICMP says where it breaks
        ([UNREACH, REFUSED], Verdict.REFUSED, 1),
        ([REFUSED, HS], Verdict.HANDSHAKE_ONLY, 1),  # tie: handshake-only ranks first
        ([ERROR, TIMEOUT], Verdict.FILTERED, 1),  # tie: an error says least
        ([ERROR, ERROR, TIMEOUT], Verdict.ERROR, 0),  # but majority comes before priority
        ([REFUSED], Verdict.REFUSED, 0),
        ([HS, HS, HS], Verdict.HANDSHAKE_ONLY, 0),
    ],
)
def test_classify_mixed_outcomes(
    outcomes: list[Outcome], verdict: Verdict, witness_index: int
) -> None:
    samples = [Sample(o, errno=i) for i, o in enumerate(outcomes)]
    got, witness = classify(samples)
    assert got is verdict
    assert witness is samples[witness_index]


def test_classify_needs_samples() -> None:
    with pytest.raises(ValueError, match="no samples"):
        classify([])


def test_verdict_blocked() -> None:
    assert {v for v in Verdict if v.blocked} == {
        Verdict.REFUSED,
        Verdict.FILTERED,
        Verdict.UNREACHABLE,
    }


# --- judge ---------------------------------------------------------------------------


def test_judge_reachable_and_open() -> None:
    v = judge(measured(opened(0.1, 0.2, 0.3)))
    assert (v.verdict, v.passed, v.reason) == (Verdict.OPEN, True, "")
    assert v.stats.rtt is not None and v.stats.rtt.p50 == pytest.approx(0.2)


def test_judge_open_with_a_few_failed_attempts_passes_with_a_note() -> None:
    v = judge(measured([Sample(TIMEOUT), *opened(*[1] * 8), Sample(TIMEOUT)]))  # 20%: at the limit
    assert (v.verdict, v.passed) == (Verdict.OPEN, True)
    assert v.reason == "20% of attempts failed"


@pytest.mark.parametrize("path", ["s2s-vpn", None])
def test_judge_open_with_mostly_failed_attempts_fails_on_the_default_loss_limit(
    path: str | None,
) -> None:
    """The flood case of issue 13: 15 of 20 attempts refused, one open: no pass."""
    samples = [Sample(REFUSED, errno=111)] * 15 + opened(*[1] * 5)
    v = judge(measured(samples, path=path))  # no expect, or a path without max_loss_pct
    assert (v.verdict, v.passed) == (Verdict.OPEN, False)
    assert v.reason == ("loss 75% (15 of 20 attempts failed) exceeds the default max_loss_pct 20")
    assert DEFAULT_MAX_LOSS_PCT == 20.0
    assert not judge(measured(samples), PathExpect(max_rtt_ms=100)).passed
    overridden = judge(measured(samples), PathExpect(max_loss_pct=80))
    assert overridden.passed and overridden.reason == "75% of attempts failed"
    # just over the default
    assert not judge(measured([Sample(TIMEOUT)] * 3 + opened(*[1] * 11))).passed  # 21%


def test_judge_misdirected_attempts_fail_with_the_responder_named() -> None:
    misdirected = Sample(
        HS,
        rtt_us=900,
        rtt_source="tcp_info",
        detail="answered by a different netcheck responder (cs01?)",
    )
    v = judge(measured([misdirected] * 3))
    assert (v.verdict, v.passed) == (Verdict.HANDSHAKE_ONLY, False)
    assert v.reason == (
        "connection to mt01 198.18.2.20:9443 answered by a different netcheck responder "
        "(cs01?): a NAT, a port forward or a wrong route across s2s-vpn delivers this "
        "traffic to another host"
    )
    # some attempts proven, one elsewhere (a balancer splitting the traffic): still no pass
    split = judge(measured([*opened(*[1] * 9), misdirected]), PathExpect(max_loss_pct=50))
    assert (split.verdict, split.passed) == (Verdict.OPEN, False)
    assert split.reason == (
        "1 of 10 attempts answered by a different netcheck responder (cs01?): "
        "not proven to reach mt01"
    )


def test_judge_a_responder_of_another_sweep_is_neither_a_service_nor_proof() -> None:
    other = Sample(HS, rtt_us=900, detail="another netcheck sweep holds this port")
    v = judge(measured([other] * 2))
    assert (v.verdict, v.passed) == (Verdict.HANDSHAKE_ONLY, False)
    assert v.reason.startswith(
        "mt01 198.18.2.20:9443: another netcheck sweep holds this port (its responder answered"
    )
    assert "middlebox" not in v.reason


def test_judge_refused() -> None:
    v = judge(measured([Sample(REFUSED, errno=111)] * 3))
    assert (v.verdict, v.passed) == (Verdict.REFUSED, False)
    assert v.reason.startswith("connection refused by mt01 198.18.2.20:9443: a TCP reset came back")


def test_judge_filtered_names_timeout_and_path() -> None:
    v = judge(measured([Sample(TIMEOUT)] * 2), timeout_ms=700)
    assert (v.verdict, v.passed) == (Verdict.FILTERED, False)
    assert "no answer from mt01 198.18.2.20:9443 within 700 ms across s2s-vpn" in v.reason
    same_site = judge(measured([Sample(TIMEOUT)], path=None))
    assert "within 1500 ms:" in same_site.reason and "across" not in same_site.reason


def test_judge_unreachable_and_handshake_only_carry_the_detail() -> None:
    v = judge(measured([Sample(UNREACH, errno=113)]))
    assert (v.verdict, v.passed) == (Verdict.UNREACHABLE, False)
    assert v.reason.startswith("mt01 198.18.2.20:9443 unreachable (EHOSTUNREACH): ")
    hs = judge(measured([Sample(HS, detail="bad challenge answer")]))
    assert (hs.verdict, hs.passed) == (Verdict.HANDSHAKE_ONLY, False)
    assert "(bad challenge answer)" in hs.reason and "middlebox" in hs.reason
    err = judge(measured([Sample(ERROR, detail="EMFILE")]))
    assert (err.verdict, err.passed, err.reason) == (Verdict.ERROR, False, "probe error (EMFILE)")


@pytest.mark.parametrize("outcome", [REFUSED, TIMEOUT, UNREACH], ids=lambda o: o.value)
def test_judge_blocked_expectation_passes_when_blocked(outcome: Outcome) -> None:
    v = judge(measured([Sample(outcome)] * 2, expect_reachable=False))
    assert v.passed
    assert v.reason == "blocked, as the rule requires"


@pytest.mark.parametrize("samples", [opened(1), [Sample(HS)]], ids=["open", "handshake-only"])
def test_judge_blocked_expectation_fails_when_reachable(samples: list[Sample]) -> None:
    v = judge(measured(samples, expect_reachable=False))
    assert not v.passed
    assert v.reason == "mt01:9443 is reachable from ps-azure but must not be"


def test_judge_blocked_expectation_with_a_probe_error() -> None:
    # a failed probe shows neither: the cell fails, but it must not claim "reachable"
    v = judge(measured([Sample(ERROR, detail="EMFILE")], expect_reachable=False))
    assert (v.verdict, v.passed, v.reason) == (Verdict.ERROR, False, "probe error (EMFILE)")


def test_judge_path_max_loss() -> None:
    result = measured([*opened(1), Sample(TIMEOUT)])  # 50% loss
    v = judge(result, PathExpect(max_loss_pct=34))
    assert (v.verdict, v.passed) == (Verdict.OPEN, False)
    assert v.reason == "loss 50% exceeds s2s-vpn's max_loss_pct 34"
    assert judge(result, PathExpect(max_loss_pct=50)).passed  # at the budget is within it
    assert not judge(result).passed  # no path expectation: the default limit (20%)


def test_judge_path_max_rtt_uses_the_median() -> None:
    result = measured(opened(20, 45, 50))  # median 45, min 20
    v = judge(result, PathExpect(max_rtt_ms=30))
    assert not v.passed
    assert v.reason == "median RTT 45.0 ms exceeds s2s-vpn's max_rtt_ms 30"
    assert judge(result, PathExpect(max_rtt_ms=45)).passed
    # both budgets broken: both reasons, in order
    both = judge(
        measured([*opened(40), Sample(TIMEOUT)]), PathExpect(max_rtt_ms=30, max_loss_pct=1)
    )
    assert both.reason == (
        "loss 50% exceeds s2s-vpn's max_loss_pct 1; median RTT 40.0 ms exceeds s2s-vpn's max_rtt_ms 30"
    )


def test_judge_path_budget_does_not_apply_to_a_negative_rule() -> None:
    v = judge(measured([Sample(TIMEOUT)], expect_reachable=False), PathExpect(max_loss_pct=0))
    assert v.passed


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (CellStatus.AGENT_UNAVAILABLE, Verdict.AGENT_UNAVAILABLE),
        (CellStatus.AGENT_LOST, Verdict.AGENT_LOST),
        (CellStatus.NOT_RUN, Verdict.NOT_RUN),
    ],
)
def test_judge_not_measured(status: CellStatus, verdict: Verdict) -> None:
    v = judge(CellResult(spec(), status, reason="ssh: connection refused"))
    assert (v.verdict, v.passed, v.reason) == (verdict, False, "ssh: connection refused")
    assert v.stats == CellStats(sent=0, answered=0, loss_pct=100.0, rtt=None)
    # a negative rule that was never measured has not been shown to be blocked either
    neg = judge(CellResult(spec(expect_reachable=False), status))
    assert (neg.passed, neg.reason) == (False, verdict.value)


def test_results_validate() -> None:
    with pytest.raises(ValueError, match="negative RTT"):
        Sample(OPEN, rtt_us=-1)
    with pytest.raises(ValueError, match="measured without samples"):
        CellResult(spec(), CellStatus.MEASURED)
