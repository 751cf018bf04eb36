"""Path diagnostics in the agent, without a network and without scapy (runs on Python 3.9).

Crafted ``sock_extended_err`` payloads as the kernel lays them out, the two search
loops (windowed traceroute, PMTU search) over crafted answers, the diag messages'
round trip and validation, and the agent importing and degrading without scapy.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from netcheck_agent import protocol as p
from netcheck_agent.probes import pathsearch
from netcheck_agent.probes.replies import (
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_LOCAL,
    Reply,
    classify_extended_err,
    icmp_name,
    parse_extended_err,
    syn_outcome,
)

AGENTS = Path(__file__).resolve().parents[3] / "agents"


def ee_bytes(
    err: int, origin: int, icmp_type: int, code: int, info: int = 0, offender: str | None = None
) -> bytes:
    """struct sock_extended_err + the offender sockaddr_in, native byte order like the kernel."""
    head = struct.pack("=IBBBBII", err, origin, icmp_type, code, 0, info, 0)
    if offender is None:
        return head + struct.pack("=H", socket.AF_UNSPEC) + b"\x00" * 14
    return (
        head
        + struct.pack("=H", socket.AF_INET)
        + b"\x00\x00"
        + socket.inet_aton(offender)
        + b"\x00" * 8
    )


# --- sock_extended_err ----------------------------------------------------------------


def test_time_exceeded_names_the_router() -> None:
    ee = parse_extended_err(ee_bytes(113, SO_EE_ORIGIN_ICMP, 11, 0, offender="198.18.200.2"))
    assert (ee.errno, ee.icmp_type, ee.icmp_code, ee.offender) == (113, 11, 0, "198.18.200.2")
    r = classify_extended_err(ee)
    assert (r.reply, r.address, r.icmp, r.mtu, r.from_target) == (
        "time-exceeded",
        "198.18.200.2",
        "time-exceeded",
        None,
        False,
    )


def test_frag_needed_carries_the_next_hop_mtu_in_ee_info() -> None:
    r = classify_extended_err(
        parse_extended_err(ee_bytes(90, SO_EE_ORIGIN_ICMP, 3, 4, info=1400, offender="198.19.1.1"))
    )
    assert (r.reply, r.icmp, r.mtu, r.address) == ("unreachable", "frag-needed", 1400, "198.19.1.1")


def test_admin_prohibited_is_told_from_host_unreachable() -> None:
    # a connect() sees EHOSTUNREACH for both; the error queue has the code
    prohibited = classify_extended_err(
        parse_extended_err(ee_bytes(113, SO_EE_ORIGIN_ICMP, 3, 13, offender="198.18.200.6"))
    )
    host = classify_extended_err(
        parse_extended_err(ee_bytes(113, SO_EE_ORIGIN_ICMP, 3, 1, offender="198.18.200.6"))
    )
    assert (prohibited.icmp, host.icmp) == ("admin-prohibited", "host-unreachable")
    assert syn_outcome(prohibited) == syn_outcome(host) == "unreachable"
    assert prohibited.mtu is None  # only frag-needed carries an MTU


def test_port_unreachable_comes_from_the_target() -> None:
    r = classify_extended_err(
        parse_extended_err(ee_bytes(111, SO_EE_ORIGIN_ICMP, 3, 3, offender="198.18.2.20"))
    )
    assert r.from_target and r.icmp == "port-unreachable"


def test_local_emsgsize_has_no_offender_and_the_known_pmtu() -> None:
    r = classify_extended_err(parse_extended_err(ee_bytes(90, SO_EE_ORIGIN_LOCAL, 0, 0, info=1400)))
    assert (r.reply, r.address, r.mtu) == ("local-error", None, 1400)


def test_short_payload_is_an_error() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        parse_extended_err(b"\x00" * 10)


@given(st.binary(max_size=64))
def test_parser_never_raises_anything_but_valueerror(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        classify_extended_err(parse_extended_err(data))


def test_icmp_names() -> None:
    assert icmp_name(3, 0) == "net-unreachable"
    assert icmp_name(3, 10) == "host-prohibited"
    assert icmp_name(3, 99) == "unreachable-code-99"
    assert icmp_name(11, 0) == "time-exceeded"
    assert icmp_name(0, 0) == "echo-reply"
    assert icmp_name(42, 1) == "icmp-42/1"


# --- the search loops ------------------------------------------------------------------


def network(
    routers: list[str], target: str, silent_from: int | None = None, reject_at: int | None = None
):  # type: ignore[no-untyped-def]
    """A crafted path: hop i (1-based) is routers[i-1]; the target sits one hop after the last.

    `silent_from`: this hop and later never answer (a drop there). `reject_at`: the
    router at that hop answers admin-prohibited to TTLs that would pass it.
    """
    sent: list[tuple[int, int]] = []

    def send(keys, timeout_s):  # type: ignore[no-untyped-def]
        sent.extend(keys)
        out = {}
        for ttl, attempt in keys:
            if silent_from is not None and ttl >= silent_from:
                continue
            if reject_at is not None and ttl > reject_at:
                out[(ttl, attempt)] = (
                    Reply("unreachable", routers[reject_at - 1], 3, 13, "admin-prohibited"),
                    0.002,
                )
            elif ttl <= len(routers):
                out[(ttl, attempt)] = (
                    Reply("time-exceeded", routers[ttl - 1], 11, 0, "time-exceeded"),
                    0.001 * ttl,
                )
            else:
                out[(ttl, attempt)] = (Reply("syn-ack", target), 0.005)
        return out

    return send, sent


ROUTERS = ["198.19.1.1", "198.18.200.2", "198.18.200.6"]


def run_trace(send, **kw):  # type: ignore[no-untyped-def]
    args = {
        "max_ttl": 30,
        "probes_per_hop": 1,
        "timeout_s": 0.01,
        "deadline_s": 10.0,
        "max_packets": 64,
    }
    args.update(kw)
    return pathsearch.trace(send, **args)


def test_trace_stops_at_the_first_answer_from_the_target() -> None:
    send, sent = network(ROUTERS, "198.18.2.20")
    out = run_trace(send)
    assert out.reached and out.stopped == "reached"
    assert [h.reply.address for h in out.hops] == [*ROUTERS, "198.18.2.20"]
    assert max(t for t, _ in sent) == 4  # one window of 4 TTLs was enough


def test_trace_of_a_drop_stops_after_the_silent_gap_not_at_max_ttl() -> None:
    send, sent = network(ROUTERS, "198.18.2.20", silent_from=3)
    out = run_trace(send, max_ttl=30)
    assert out.stopped == "gap" and not out.reached
    answered = [h for h in out.hops if h.reply.reply != "none"]
    assert answered[-1].reply.address == "198.18.200.2"
    assert len(sent) == 8  # two windows, not 30 TTLs
    assert out.packets == len(sent)


def test_trace_stops_at_an_icmp_unreachable() -> None:
    send, _ = network(ROUTERS, "198.18.2.20", reject_at=3)
    out = run_trace(send)
    assert out.stopped == "unreachable"
    assert out.hops[-1].reply.icmp == "admin-prohibited"
    assert out.hops[-1].ttl == 4


def test_trace_respects_the_packet_budget_and_probes_per_hop() -> None:
    send, sent = network(ROUTERS, "198.18.2.20", silent_from=1)
    out = run_trace(send, max_packets=6, probes_per_hop=3, gap_limit=99)
    assert len(sent) <= 6 and out.stopped == "budget"
    assert {a for _, a in sent} == {0, 1, 2}


def test_trace_respects_the_deadline() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def send(keys, timeout_s):  # type: ignore[no-untyped-def]
        now[0] += timeout_s
        return {}

    out = pathsearch.trace(
        send,
        max_ttl=64,
        probes_per_hop=1,
        timeout_s=1.0,
        deadline_s=2.5,
        max_packets=512,
        gap_limit=99,
        clock=clock,
    )
    assert out.stopped == "deadline" and out.packets == 8  # two 1-second windows


def pmtu_path(mtu: int, *, tell_mtu: bool = True, silent_above: bool = False):  # type: ignore[no-untyped-def]
    sizes: list[int] = []

    def probe(size: int, timeout_s: float):  # type: ignore[no-untyped-def]
        sizes.append(size)
        if size <= mtu:
            return Reply("echo-reply", "198.18.2.20", 0, 0, "echo-reply"), 0.002
        if silent_above:  # a PMTU black hole: the frag-needed never comes back
            return Reply("none"), None
        return Reply(
            "unreachable", "198.19.1.1", 3, 4, "frag-needed", mtu if tell_mtu else 0
        ), 0.001

    return probe, sizes


def run_pmtu(probe, **kw):  # type: ignore[no-untyped-def]
    args = {"max_mtu": 1500, "timeout_s": 0.01, "deadline_s": 10.0, "max_packets": 16}
    args.update(kw)
    return pathsearch.search_pmtu(probe, **args)


def test_pmtu_uses_the_next_hop_mtu_of_frag_needed() -> None:
    probe, sizes = pmtu_path(1400)
    out = run_pmtu(probe)
    assert out.pmtu == 1400 and sizes == [1500, 1400]


def test_pmtu_bisects_when_the_router_gives_no_mtu() -> None:
    probe, sizes = pmtu_path(1400, tell_mtu=False)
    out = run_pmtu(probe)
    assert out.pmtu == 1400
    assert len(sizes) <= 12


def test_pmtu_black_hole_retries_a_silent_size_once_and_still_converges() -> None:
    probe, sizes = pmtu_path(1400, silent_above=True)
    out = run_pmtu(probe, max_packets=40)
    assert out.pmtu == 1400
    assert sizes[:2] == [1500, 1500]


def test_pmtu_full_path_is_one_probe() -> None:
    probe, sizes = pmtu_path(1500)
    assert run_pmtu(probe).pmtu == 1500 and sizes == [1500]


def test_pmtu_budget_and_refusal() -> None:
    probe, sizes = pmtu_path(1400, silent_above=True)
    out = run_pmtu(probe, max_packets=3)
    assert len(sizes) == 3 and out.pmtu is None and "budget" in out.detail
    assert "between 750 and 1499" in out.detail  # a bound, not an answer

    def refused(size: int, timeout_s: float):  # type: ignore[no-untyped-def]
        return Reply("unreachable", "198.18.200.6", 3, 13, "admin-prohibited"), 0.001

    out = run_pmtu(refused)
    assert out.pmtu is None and "admin-prohibited from 198.18.200.6" in out.detail


# --- messages ----------------------------------------------------------------------------


def test_diag_messages_round_trip() -> None:
    req = p.DiagRequest("d1", "traceroute", "198.18.2.20", 9443, "198.19.1.4", max_ttl=8)
    hop = p.Hop(3, "unreachable", "198.18.200.6", 1200, 3, 13, "admin-prohibited")
    res = p.DiagResult(
        "d1", "traceroute", "recverr", "stopped: unreachable", (hop,), False, 3, 3,
        iface="eth0", iface_mtu=1500, packets=6, elapsed_ms=12,
    )  # fmt: skip
    for msg in (req, res):
        assert p.decode(p.encode(msg)) == msg


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "nmap"}, "diag_request.kind"),
        ({"dst": "example.com"}, "diag_request.dst"),
        ({"max_ttl": 65}, "diag_request.max_ttl"),
        ({"max_packets": 100000}, "diag_request.max_packets"),
        ({"deadline_ms": 10**9}, "diag_request.deadline_ms"),
        ({"port": 0}, "diag_request.port"),  # a TCP traceroute needs its port
        ({"prefer": "hping3"}, "diag_request.prefer"),
    ],
)
def test_diag_request_bounds_are_enforced(change: dict, field: str) -> None:  # type: ignore[type-arg]
    d = p.DiagRequest("d1", "traceroute", "198.18.2.20", 9443).to_dict()
    d.update(change)
    with pytest.raises(p.ProtocolError) as exc:
        p.decode(json.dumps(d))
    assert exc.value.field == field
    assert exc.value.ref == "d1"


def test_diag_result_rejects_an_unknown_method_and_reply() -> None:
    with pytest.raises(p.ProtocolError, match="method"):
        p.DiagResult("d1", "echo", "hping3")
    with pytest.raises(p.ProtocolError, match="reply"):
        p.Hop(1, "maybe")


# --- without scapy -----------------------------------------------------------------------


def _agent_python(code: str, **env: str) -> str:
    full = {**os.environ, "PYTHONPATH": str(AGENTS), **env}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=full
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_agent_imports_and_answers_without_scapy() -> None:
    # scapy made unimportable: the agent starts, says scapy: false, and a diagnostic
    # uses a fallback or says why not, never an empty success
    code = (
        "import sys; sys.modules['scapy'] = None\n"
        "from netcheck_agent import agent, diagnose\n"
        "from netcheck_agent.capabilities import detect\n"
        "from netcheck_agent.protocol import DiagRequest\n"
        "caps = detect()\n"
        "assert 'scapy' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]\n"
        "r = diagnose.run(DiagRequest('d', 'echo', '127.0.0.1', prefer='scapy'))\n"
        "print(caps.scapy, r.method, r.detail)\n"
    )
    scapy_flag, method, detail = _agent_python(code).strip().split(" ", 2)
    assert (scapy_flag, method) == ("False", "unavailable")
    assert "scapy was asked for and cannot run here" in detail
    assert "scapy is not installed" in detail


def test_the_no_scapy_switch_makes_the_agent_fall_back() -> None:
    code = (
        "import socket\n"
        "from netcheck_agent import diagnose\n"
        "from netcheck_agent.capabilities import detect\n"
        "from netcheck_agent.protocol import DiagRequest\n"
        "ls = socket.socket(); ls.bind(('127.0.0.1', 0)); ls.listen(4)\n"
        "port = ls.getsockname()[1]\n"
        "r = diagnose.run(DiagRequest('d', 'traceroute', '127.0.0.1', port))\n"
        "print(detect().scapy, r.method, r.reached, r.hops[-1].reply)\n"
    )
    out = _agent_python(code, NETCHECK_AGENT_NO_SCAPY="1").split()
    if sys.platform.startswith("linux"):
        assert out == ["False", "recverr", "True", "syn-ack"]
    else:
        assert out[:2] == ["False", "unavailable"]


def test_a_bug_in_a_diagnostic_still_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from netcheck_agent import diagnose

    def broken(req: p.DiagRequest, raw_sockets: object = None) -> p.DiagResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(diagnose, "run", broken)
    sent: list[p.Message] = []
    asyncio.run(diagnose.answer(p.DiagRequest("d9", "echo", "127.0.0.1"), sent.append))
    (res,) = sent
    assert isinstance(res, p.DiagResult)
    assert (res.id, res.method, res.detail) == ("d9", "unavailable", "internal: RuntimeError: boom")


def test_udp_traceroute_needs_no_port() -> None:
    assert p.DiagRequest("d", "traceroute", "127.0.0.1", 0, proto="udp").port == 0
