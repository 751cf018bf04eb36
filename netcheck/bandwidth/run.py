"""Run bandwidth tests between agents: endpoint on one, sender/receiver on the other.

One test: a fresh one-time token (`secrets.token_hex`, never logged), the
destination agent opens a one-shot endpoint bounded in seconds and bytes, the
source agent dials it and streams interval samples, then both report. Tests
on one path run one after the other (they would share and so halve its
capacity); tests on different paths run at once. Every wait is bounded; an
interrupt stops both sides and keeps what was measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.bandwidth.model import (
    BandwidthOutcome,
    BandwidthSample,
    BandwidthStatus,
    EndpointReport,
)
from netcheck.errors import AgentLost
from netcheck.topology.bandwidth import BandwidthCheck
from netcheck.topology.model import Topology

__all__ = [
    "endpoints_of",
    "path_key",
    "run_bandwidth_check",
    "run_bandwidth_checks",
    "unavailable",
]

log = logging.getLogger(__name__)

#: Ceiling on what one endpoint accepts: 100 Gbit/s for the test's duration.
MAX_RATE_BYTES_S = 12.5e9
CONNECT_TIMEOUT_MS = 5000
ACCEPT_TIMEOUT_S = 30.0
#: Beyond the duration: connecting, the receiver's drain and report, slack.
SLACK_S = 30.0
REPLY_TIMEOUT_S = 30.0


def endpoints_of(topo: Topology, check: BandwidthCheck) -> tuple[str, str, str | None]:
    """(source address, destination address, path): the NIC rule of DESIGN.md."""
    src = topo.host(check.source)
    dst = topo.host(check.dest)
    path = topo.path_between(src.site, dst.site)
    return (
        str(src.nic_facing(dst.site).address),
        str(dst.nic_facing(src.site).address),
        path.name if path else None,
    )


def path_key(topo: Topology, check: BandwidthCheck) -> str:
    """Tests with the same key share a link and must not overlap."""
    _, _, path = endpoints_of(topo, check)
    if path is not None:
        return f"path:{path}"
    a, b = sorted((topo.host(check.source).site, topo.host(check.dest).site))
    return f"sites:{a}|{b}"


async def _next(q: asyncio.Queue[p.Message | None], timeout: float) -> p.Message | None:
    try:
        return await asyncio.wait_for(q.get(), timeout)
    except asyncio.TimeoutError:
        raise TimeoutError from None


async def run_bandwidth_check(
    topo: Topology,
    check: BandwidthCheck,
    source: AgentClient,
    dest: AgentClient,
    interval_ms: int = 1000,
    clock: Callable[[], float] = time.time,
) -> BandwidthOutcome:
    """Run one test; failures come back as an outcome with a reason, never raised."""
    src_addr, dst_addr, path = endpoints_of(topo, check)
    token = secrets.token_hex(16)
    tag = uuid.uuid4().hex[:10]
    eid, rid = f"bwe-{tag}", f"bwr-{tag}"
    started = clock()

    def outcome(status: BandwidthStatus, reason: str, **kw: object) -> BandwidthOutcome:
        return BandwidthOutcome(
            check,
            path,
            src_addr,
            dst_addr,
            status,
            reason,
            started_at=started,
            **kw,  # type: ignore[arg-type]
        )

    eq = dest.bandwidth_subscribe(eid)
    rq = source.bandwidth_subscribe(rid)
    run_sent = False
    try:
        listen = p.BandwidthListen(
            id=eid,
            address=dst_addr,
            port=check.port,
            token=token,
            max_bytes=int(min(2**50, check.duration_s * MAX_RATE_BYTES_S + 2**30)),
            max_seconds=check.duration_s + SLACK_S + ACCEPT_TIMEOUT_S,
            streams=check.streams,
            reverse=check.reverse,
            accept_timeout_s=ACCEPT_TIMEOUT_S,
        )
        try:
            await dest.bandwidth_send(listen)
            reply = await _next(eq, REPLY_TIMEOUT_S)
        except AgentLost as exc:
            return outcome(BandwidthStatus.AGENT_LOST, f"agent lost on {check.dest}: {exc.reason}")
        except TimeoutError:
            return outcome(
                BandwidthStatus.AGENT_LOST, f"{check.dest}: no answer to bandwidth_listen"
            )
        if reply is None:
            return outcome(BandwidthStatus.AGENT_LOST, f"agent lost on {check.dest}")
        if isinstance(reply, p.Error):
            return outcome(
                BandwidthStatus.FAILED, f"{check.dest} could not open the endpoint: {reply.message}"
            )
        assert isinstance(reply, p.BandwidthListening)
        port = reply.port
        run = p.BandwidthRun(
            id=rid,
            dst=dst_addr,
            port=port,
            token=token,
            src=src_addr,
            streams=check.streams,
            duration_s=check.duration_s,
            reverse=check.reverse,
            interval_ms=interval_ms,
            connect_timeout_ms=CONNECT_TIMEOUT_MS,
        )
        samples: list[BandwidthSample] = []
        result: p.BandwidthResult | None = None
        lost: str | None = None
        try:
            await source.bandwidth_send(run)
            run_sent = True
            deadline = time.monotonic() + check.duration_s + SLACK_S
            last_t = 0.0
            while result is None:
                msg = await _next(rq, max(0.1, deadline - time.monotonic()))
                if msg is None:
                    lost = f"agent lost on {check.source}: {source.lost or 'gone'}"
                    break
                if isinstance(msg, p.BandwidthInterval):
                    samples.append(BandwidthSample(msg.t, msg.t - last_t, msg.bytes, msg.retrans))
                    last_t = msg.t
                elif isinstance(msg, p.BandwidthResult):
                    result = msg
                elif isinstance(msg, p.Error):
                    lost = f"{check.source} refused the test: {msg.message}"
                    break
        except AgentLost as exc:
            lost = f"agent lost on {check.source}: {exc.reason}"
        except TimeoutError:
            lost = f"{check.source}: no result within {check.duration_s + SLACK_S:g} s"
        closed = await _endpoint_closed(dest, eq, eid, stop=result is None)
        return _combine(outcome, check, port, samples, result, closed, lost)
    except asyncio.CancelledError:
        # Interrupted: stop both sides (bounded), then let the cancel through.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                asyncio.shield(_stop_both(source, dest, rid if run_sent else None, eid)), 3.0
            )
        raise
    finally:
        dest.bandwidth_unsubscribe(eid)
        source.bandwidth_unsubscribe(rid)


async def _stop_both(source: AgentClient, dest: AgentClient, rid: str | None, eid: str) -> None:
    if rid is not None:
        with contextlib.suppress(AgentLost):
            await source.bandwidth_send(p.BandwidthStop(id=rid))
    with contextlib.suppress(AgentLost):
        await dest.bandwidth_send(p.BandwidthStop(id=eid))


async def _endpoint_closed(
    dest: AgentClient, eq: asyncio.Queue[p.Message | None], eid: str, stop: bool
) -> p.BandwidthClosed | None:
    """The endpoint's own report; asks it to stop first when the run went wrong."""
    if stop:
        with contextlib.suppress(AgentLost):
            await dest.bandwidth_send(p.BandwidthStop(id=eid))
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while True:
        try:
            msg = await _next(eq, max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            return None
        if msg is None or isinstance(msg, p.Error):
            return None
        if isinstance(msg, p.BandwidthClosed):
            return msg


def _combine(
    outcome: Callable[..., BandwidthOutcome],
    check: BandwidthCheck,
    port: int,
    samples: list[BandwidthSample],
    result: p.BandwidthResult | None,
    closed: p.BandwidthClosed | None,
    lost: str | None,
) -> BandwidthOutcome:
    endpoint = (
        None
        if closed is None
        else EndpointReport(
            closed.bytes,
            closed.seconds,
            closed.connections,
            closed.rejected,
            closed.reason,
            closed.retransmits,
        )
    )
    common = {"port": port, "intervals": tuple(samples), "endpoint": endpoint}
    if result is None:
        # Nothing final from the runner: the endpoint's count is all there is.
        if closed is not None and closed.bytes > 0 and closed.seconds > 0:
            return outcome(
                BandwidthStatus.AGENT_LOST,
                lost or "no result",
                bytes=closed.bytes,
                seconds=closed.seconds,
                mbps=round(closed.bytes * 8 / closed.seconds / 1e6, 3),
                streams=closed.connections,
                figure_source="endpoint",
                **common,
            )
        return outcome(BandwidthStatus.AGENT_LOST, lost or "no result", **common)
    if result.bytes == 0 and result.streams == 0:
        return outcome(BandwidthStatus.FAILED, result.reason, **common)
    nbytes, seconds, mbps, source = result.bytes, result.seconds, result.mbps, result.source
    if (
        not check.reverse
        and source != p.SOURCE_RECEIVER
        and closed is not None
        and closed.bytes > 0
        and closed.seconds > 0
    ):
        # The receiver outlived the sender's view of it: its own count is better.
        nbytes, seconds, source = closed.bytes, closed.seconds, p.SOURCE_RECEIVER
        mbps = round(nbytes * 8 / seconds / 1e6, 3)
    retrans = closed.retransmits if check.reverse and closed is not None else result.retransmits
    reason = result.reason
    if closed is not None and closed.reason in (p.BW_MAX_BYTES, p.BW_MAX_SECONDS):
        reason = f"{reason} (the endpoint closed at its {closed.reason} bound)"
    return outcome(
        BandwidthStatus.MEASURED,
        reason,
        bytes=nbytes,
        seconds=seconds,
        mbps=mbps,
        retransmits=retrans,
        streams=result.streams,
        figure_source=source,
        **common,
    )


def unavailable(
    topo: Topology, check: BandwidthCheck, status: BandwidthStatus, reason: str
) -> BandwidthOutcome:
    src_addr, dst_addr, path = endpoints_of(topo, check)
    return BandwidthOutcome(check, path, src_addr, dst_addr, status, reason)


async def run_bandwidth_checks(
    topo: Topology,
    checks: Sequence[BandwidthCheck],
    clients: Mapping[str, AgentClient],
    why_missing: Mapping[str, str] | None = None,
    on_outcome: Callable[[BandwidthOutcome], None] | None = None,
    interval_ms: int = 1000,
) -> list[BandwidthOutcome]:
    """Every check, serialized per path, concurrent across paths; results in `checks` order.

    A check whose agent is missing is an `agent_unavailable` outcome. Each
    outcome also goes to `on_outcome` as it finishes, so a caller that is
    cancelled midway keeps the finished ones (and marks the rest `not_run`).
    """
    results: dict[int, BandwidthOutcome] = {}
    groups: dict[str, list[int]] = {}
    for i, check in enumerate(checks):
        groups.setdefault(path_key(topo, check), []).append(i)

    async def one_path(indices: list[int]) -> None:
        for i in indices:
            check = checks[i]
            missing = [h for h in (check.source, check.dest) if h not in clients]
            if missing:
                h = missing[0]
                why = (why_missing or {}).get(h, "not started")
                res = unavailable(
                    topo,
                    check,
                    BandwidthStatus.AGENT_UNAVAILABLE,
                    f"agent unavailable on {h}: {why}",
                )
            else:
                res = await run_bandwidth_check(
                    topo, check, clients[check.source], clients[check.dest], interval_ms
                )
            results[i] = res
            if on_outcome is not None:
                on_outcome(res)

    await asyncio.gather(*(one_path(ix) for ix in groups.values()))
    return [results[i] for i in range(len(checks))]
