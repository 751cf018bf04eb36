"""Statistics and verdicts: pure functions from samples to what the report says.

A reachable rule passes when its cell is open and *most* of its attempts got
through: more than :data:`DEFAULT_MAX_LOSS_PCT` percent failed attempts fail
the cell, unless the path the cell crosses states its own limit
(``paths.<name>.expect.max_loss_pct``). One lucky attempt out of twenty is no
pass, whatever flooded or broke the other nineteen.

An open cell's attempts must also have reached the *intended* responder: an
attempt another responder of the sweep answered (a NAT or a wrong route;
"answered by a different netcheck responder (mt01?)") or one of another
sweep answered ("another netcheck sweep holds this port") fails the cell.
"""

from __future__ import annotations

import enum
import errno
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netcheck_agent.challenge import DETAIL_MISDIRECTED, DETAIL_OTHER_SWEEP

from netcheck.appverdict import AppVerdict, judge_app
from netcheck.plan import ProbeSpec
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from netcheck.topology.model import PathExpect

__all__ = [
    "DEFAULT_MAX_LOSS_PCT",
    "CellStats",
    "CellVerdict",
    "RttStats",
    "Verdict",
    "cell_stats",
    "classify",
    "judge",
    "percentile",
    "rtt_stats",
]


#: The share of failed attempts (%) above which a reachable cell fails, where its
#: path's `expect.max_loss_pct` says nothing (or it crosses no declared path).
DEFAULT_MAX_LOSS_PCT = 20.0


class Verdict(enum.Enum):
    OPEN = "open"
    REFUSED = "refused"
    FILTERED = "filtered"
    UNREACHABLE = "unreachable"
    HANDSHAKE_ONLY = "handshake-only"
    ERROR = "error"
    AGENT_UNAVAILABLE = "agent-unavailable"
    AGENT_LOST = "agent-lost"
    NOT_RUN = "not-run"
    NO_LISTENER = "no-listener"  # nothing could listen: not a firewall's doing, not proven

    @property
    def blocked(self) -> bool:
        """The port can't be reached (what a negative rule wants)."""
        return self in (Verdict.REFUSED, Verdict.FILTERED, Verdict.UNREACHABLE)


@dataclass(frozen=True, slots=True)
class RttStats:
    """Round-trip times of the answered attempts, in milliseconds."""

    count: int
    min: float
    avg: float
    p50: float
    p95: float
    p99: float
    max: float
    jitter: float  # mean absolute difference of consecutive RTTs (RFC 3550 style)
    source: str  # "tcp_info", "monotonic" or "mixed"


@dataclass(frozen=True, slots=True)
class CellStats:
    sent: int
    answered: int  # attempts that reached an open port
    loss_pct: float
    rtt: RttStats | None


@dataclass(frozen=True, slots=True)
class CellVerdict:
    verdict: Verdict
    passed: bool
    reason: str
    stats: CellStats
    app: AppVerdict | None = None  # what a TLS/DNS/NTP/endpoint probe's facts say


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of an ascending sequence."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def rtt_stats(samples: Iterable[Sample]) -> RttStats | None:
    timed = [s for s in samples if s.outcome is Outcome.OPEN and s.rtt_us is not None]
    if not timed:
        return None
    in_order = [s.rtt_us / 1000.0 for s in timed if s.rtt_us is not None]
    ordered = sorted(in_order)
    jitter = 0.0
    if len(in_order) > 1:
        jitter = sum(abs(b - a) for a, b in zip(in_order, in_order[1:], strict=False)) / (
            len(in_order) - 1
        )
        # A mean of |steps| never exceeds the range; float rounding of the sum and of
        # max - min can put it a hair above, so hold the invariant exactly.
        jitter = min(jitter, ordered[-1] - ordered[0])
    sources = {s.rtt_source or "monotonic" for s in timed}
    return RttStats(
        count=len(ordered),
        min=ordered[0],
        avg=sum(ordered) / len(ordered),
        p50=percentile(ordered, 50),
        p95=percentile(ordered, 95),
        p99=percentile(ordered, 99),
        max=ordered[-1],
        jitter=jitter,
        source=sources.pop() if len(sources) == 1 else "mixed",
    )


def cell_stats(samples: Sequence[Sample]) -> CellStats:
    answered = sum(1 for s in samples if s.outcome is Outcome.OPEN)
    sent = len(samples)
    loss = 100.0 * (sent - answered) / sent if sent else 100.0
    return CellStats(sent=sent, answered=answered, loss_pct=loss, rtt=rtt_stats(samples))


# When attempts disagree and none opened, the most frequent outcome wins; ties go to
# the outcome that says most about where the flow breaks.
_PRIORITY = [
    Outcome.HANDSHAKE_ONLY,
    Outcome.REFUSED,
    Outcome.UNREACHABLE,
    Outcome.TIMEOUT,
    Outcome.ERROR,
]
_VERDICT_OF = {
    Outcome.OPEN: Verdict.OPEN,
    Outcome.REFUSED: Verdict.REFUSED,
    Outcome.TIMEOUT: Verdict.FILTERED,
    Outcome.UNREACHABLE: Verdict.UNREACHABLE,
    Outcome.HANDSHAKE_ONLY: Verdict.HANDSHAKE_ONLY,
    Outcome.ERROR: Verdict.ERROR,
}


def classify(samples: Sequence[Sample]) -> tuple[Verdict, Sample | None]:
    """The cell's verdict from its attempts, and the attempt that explains it."""
    if not samples:
        raise ValueError("no samples to classify")
    for s in samples:
        if s.outcome is Outcome.OPEN:
            return Verdict.OPEN, s
    counts = Counter(s.outcome for s in samples)
    best = max(_PRIORITY, key=lambda o: (counts.get(o, 0), -_PRIORITY.index(o)))
    witness = next(s for s in samples if s.outcome is best)
    return _VERDICT_OF[best], witness


def _why(sample: Sample) -> str:
    """The symbolic errno (EHOSTUNREACH) rather than its number, else the agent's detail."""
    if sample.errno is not None and sample.errno in errno.errorcode:
        return errno.errorcode[sample.errno]
    return sample.detail or str(sample.errno)


def _explain(verdict: Verdict, witness: Sample | None, spec: ProbeSpec, timeout_ms: int) -> str:
    where = f"{spec.dest_host} {spec.dest_address}:{spec.port}"
    via = f" across {spec.path}" if spec.path else ""
    detail = f" ({_why(witness)})" if witness and (witness.errno or witness.detail) else ""
    if verdict is Verdict.REFUSED:
        return (
            f"connection refused by {where}: a TCP reset came back — nothing listens on the port, "
            f"or a firewall rejects it"
        )
    if verdict is Verdict.FILTERED:
        return (
            f"no answer from {where} within {timeout_ms} ms{via}: a firewall drops the packets "
            f"or there is no route back"
        )
    if verdict is Verdict.UNREACHABLE:
        return (
            f"{where} unreachable{detail}: a router or firewall answered with ICMP unreachable{via}"
        )
    if verdict is Verdict.HANDSHAKE_ONLY and witness is not None:
        if witness.detail.startswith(DETAIL_MISDIRECTED):
            return (
                f"connection to {where} {witness.detail}: a NAT, a port forward or a wrong "
                f"route{via} delivers this traffic to another host"
            )
        if witness.detail == DETAIL_OTHER_SWEEP:
            return (
                f"{where}: {DETAIL_OTHER_SWEEP} (its responder answered, not this sweep's), so "
                f"nothing is proven there; run one sweep at a time"
            )
    if verdict is Verdict.HANDSHAKE_ONLY:
        return (
            f"TCP handshake with {where} completed, but netcheck's responder did not answer the "
            f"challenge{detail}: a middlebox (SYN proxy, transparent proxy) or another service "
            f"answered instead"
        )
    if verdict is Verdict.ERROR:
        return f"probe error{detail}"
    return ""


def _answered_elsewhere(sample: Sample) -> bool:
    """Another responder of the sweep, or one of another sweep, answered this attempt."""
    return sample.outcome is Outcome.HANDSHAKE_ONLY and (
        sample.detail.startswith(DETAIL_MISDIRECTED) or sample.detail == DETAIL_OTHER_SWEEP
    )


def judge(
    result: CellResult, expect: PathExpect | None = None, timeout_ms: int = 1500
) -> CellVerdict:
    """The cell's verdict against its rule's expectation and its path's `expect`.

    A reachable cell passes when open, with at most `expect.max_loss_pct` (else
    :data:`DEFAULT_MAX_LOSS_PCT`) percent of failed attempts, its median RTT
    within `expect.max_rtt_ms`, and no attempt answered by another responder
    than the one it meant.
    """
    spec = result.spec
    if result.status is not CellStatus.MEASURED:
        verdict = {
            CellStatus.AGENT_UNAVAILABLE: Verdict.AGENT_UNAVAILABLE,
            CellStatus.AGENT_LOST: Verdict.AGENT_LOST,
            CellStatus.NOT_RUN: Verdict.NOT_RUN,
            CellStatus.NO_LISTENER: Verdict.NO_LISTENER,
        }[result.status]
        stats = (
            cell_stats(result.samples)
            if result.samples
            else CellStats(sent=0, answered=0, loss_pct=100.0, rtt=None)
        )
        return CellVerdict(
            verdict, passed=False, reason=result.reason or verdict.value, stats=stats
        )
    stats = cell_stats(result.samples)
    verdict, witness = classify(result.samples)
    if not spec.expect_reachable:
        if verdict.blocked:
            return CellVerdict(verdict, True, "blocked, as the rule requires", stats)
        if verdict is Verdict.ERROR:  # the probe failed: not shown blocked, nor reachable
            return CellVerdict(verdict, False, _explain(verdict, witness, spec, timeout_ms), stats)
        return CellVerdict(
            verdict,
            False,
            f"{spec.dest_host}:{spec.port} is reachable from {spec.source_host} but must not be",
            stats,
        )
    app = judge_app(spec, result.samples) if spec.kind != "tcp_connect" else None
    if app is not None and app.failed:  # its reason says more than the transport's
        return CellVerdict(verdict, False, app.reason, stats, app)
    if verdict is not Verdict.OPEN:
        return CellVerdict(verdict, False, _explain(verdict, witness, spec, timeout_ms), stats, app)
    problems = []
    elsewhere = [s for s in result.samples if _answered_elsewhere(s)]
    if elsewhere:
        problems.append(
            f"{len(elsewhere)} of {stats.sent} attempts {elsewhere[0].detail}: not proven to "
            f"reach {spec.dest_host}"
        )
    if expect and expect.max_loss_pct is not None:
        if stats.loss_pct > expect.max_loss_pct:
            problems.append(
                f"loss {stats.loss_pct:.0f}% exceeds {spec.path}'s max_loss_pct "
                f"{expect.max_loss_pct:g}"
            )
    elif stats.loss_pct > DEFAULT_MAX_LOSS_PCT:  # no limit stated: the default
        problems.append(
            f"loss {stats.loss_pct:.0f}% ({stats.sent - stats.answered} of {stats.sent} attempts "
            f"failed) exceeds the default max_loss_pct {DEFAULT_MAX_LOSS_PCT:g}"
        )
    if expect and expect.max_rtt_ms is not None and stats.rtt and stats.rtt.p50 > expect.max_rtt_ms:
        problems.append(
            f"median RTT {stats.rtt.p50:.1f} ms exceeds {spec.path}'s max_rtt_ms {expect.max_rtt_ms:g}"
        )
    if problems:
        return CellVerdict(verdict, False, "; ".join(problems), stats, app)
    notes = [f"{stats.loss_pct:.0f}% of attempts failed"] if stats.loss_pct > 0 else []
    if app is not None and app.level == "warn":
        notes.append(app.reason)
    return CellVerdict(verdict, True, "; ".join(notes), stats, app)
