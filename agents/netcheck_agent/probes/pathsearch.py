"""The two search loops every diagnostic method shares, with the sending injected.

:func:`trace` sends TTL windows (a few TTLs at once, so a path whose tail is
silent costs a few timeouts, not one per TTL up to the maximum) and stops at
the first answer from the target, at an ICMP unreachable (the path is decided
there), after ``gap_limit`` silent TTLs in a row (like mtr's max-unknown), at
``max_ttl``, at the packet budget or at the deadline. :func:`search_pmtu`
finds the largest size that crosses with DF set: it jumps to a frag-needed's
next-hop MTU when one is given and bisects otherwise, within a probe budget.

Scapy, the error-queue sockets and the unit tests plug in their own senders;
nothing here touches the network.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from .replies import Reply

#: Send one probe per (ttl, attempt) of a window and wait; answers by (ttl, attempt).
#: Each answer is the reply and its RTT in seconds (None when silent).
WindowSender = Callable[
    [Sequence[Tuple[int, int]], float], Dict[Tuple[int, int], Tuple[Reply, Optional[float]]]
]
#: Send one probe of ``size`` bytes (IP total length) with DF set; (reply, rtt seconds).
SizeProber = Callable[[int, float], Tuple[Reply, Optional[float]]]

WINDOW = 4
GAP_LIMIT = 5
MIN_MTU = 68


class TraceHop(NamedTuple):
    ttl: int
    reply: Reply
    rtt_s: Optional[float]


class TraceOutcome(NamedTuple):
    hops: Tuple[TraceHop, ...]
    reached: bool
    packets: int
    stopped: str  # reached | unreachable | gap | max_ttl | budget | deadline


def trace(
    send: WindowSender,
    *,
    max_ttl: int,
    probes_per_hop: int,
    timeout_s: float,
    deadline_s: float,
    max_packets: int,
    window: int = WINDOW,
    gap_limit: int = GAP_LIMIT,
    clock: Callable[[], float] = time.monotonic,
) -> TraceOutcome:
    """Probe TTL 1.. upward in windows; see the module docstring for the stops."""
    end = clock() + deadline_s
    hops: List[TraceHop] = []
    packets = 0
    silent_run = 0
    ttl = 1
    stopped = "max_ttl"
    while ttl <= max_ttl:
        if clock() + timeout_s > end:
            stopped = "deadline"
            break
        room = (max_packets - packets) // probes_per_hop
        if room <= 0:
            stopped = "budget"
            break
        last = min(max_ttl, ttl + min(window, room) - 1)
        keys = [(t, a) for t in range(ttl, last + 1) for a in range(probes_per_hop)]
        answers = send(keys, timeout_s)
        packets += len(keys)
        done = ""
        for t in range(ttl, last + 1):
            got = [answers.get((t, a), (Reply("none"), None)) for a in range(probes_per_hop)]
            for reply, rtt in got:
                hops.append(TraceHop(t, reply, rtt))
            answered = [r for r, _ in got if r.reply != "none"]
            if any(r.from_target for r in answered):
                done = "reached"
            elif any(r.reply == "unreachable" for r in answered):
                done = "unreachable"
            silent_run = 0 if answered else silent_run + 1
            if done:
                break
            if silent_run >= gap_limit:
                done = "gap"
                break
        if done:
            stopped = done
            break
        ttl = last + 1
    return TraceOutcome(tuple(hops), stopped == "reached", packets, stopped)


class PmtuOutcome(NamedTuple):
    pmtu: Optional[int]
    probes: Tuple[Tuple[int, Reply, Optional[float]], ...]  # (size, reply, rtt) in order
    detail: str


def search_pmtu(
    probe: SizeProber,
    *,
    max_mtu: int,
    timeout_s: float,
    deadline_s: float,
    max_packets: int,
    clock: Callable[[], float] = time.monotonic,
) -> PmtuOutcome:
    """The largest size in [68, max_mtu] that reaches the target with DF set.

    ``good`` is the largest size known to cross, ``bad`` the smallest known not
    to; a silent size is tried twice before it counts as not crossing (one
    lost packet must not halve the answer).
    """
    end = clock() + deadline_s
    good, bad = 0, max_mtu + 1
    size = max_mtu
    probes: List[Tuple[int, Reply, Optional[float]]] = []
    silent_tries: Dict[int, int] = {}
    detail = ""
    while bad - good > 1:
        if len(probes) >= max_packets:
            detail = f"probe budget ({max_packets}) spent"
            break
        if clock() + timeout_s > end:
            detail = "deadline reached"
            break
        reply, rtt = probe(size, timeout_s)
        probes.append((size, reply, rtt))
        if reply.from_target:
            good = size
        elif reply.mtu and MIN_MTU <= reply.mtu < size:  # frag-needed (or our stack's EMSGSIZE)
            # Every size above the next-hop MTU fails there: try that MTU itself next.
            bad = min(bad, reply.mtu + 1)
            size = reply.mtu if reply.mtu > good else (good + bad) // 2
            continue
        elif reply.reply == "local-error" or reply.icmp == "frag-needed":
            bad = size
        elif reply.reply == "none":
            silent_tries[size] = silent_tries.get(size, 0) + 1
            if silent_tries[size] < 2:
                continue  # once more, same size
            bad = size
        else:  # admin-prohibited, host-unreachable, ...: sizes are not the problem
            detail = f"{reply.icmp or reply.reply} from {reply.address or '?'} at {size} bytes"
            return PmtuOutcome(good or None, tuple(probes), detail)
        if bad <= MIN_MTU:
            break
        size = max(MIN_MTU, (good + bad) // 2)
    if good == 0 and not detail:
        detail = "no probe size reached the target"
    if good and bad - good > 1:  # not converged: a bound is not the answer
        detail += f"; the path MTU is between {good} and {bad - 1}"
        return PmtuOutcome(None, tuple(probes), detail.lstrip("; "))
    return PmtuOutcome(good or None, tuple(probes), detail)
