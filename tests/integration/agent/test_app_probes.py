"""The application probes against real local services on 127.77.1.x (never anything else):
a TLS server with a self-signed (openssl CLI) / expired / CA-signed certificate answering
GET / with 400 like a process server, a DNS responder on UDP+TCP, SNTP servers 3 s and
20 minutes off, an HTTP CONNECT proxy and one answering 407."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netcheck_agent import Agent, memory_channel_pair
from netcheck_agent import protocol as p
from netcheck_agent.probes import _app, get_probe

from tests.integration.appservers import (
    AppServers,
    app_servers,
    dated_certificate,
    openssl_self_signed,
)

PS = "127.77.1.4"
OLD = "127.77.1.5"
CA_SIGNED = "127.77.1.6"
DNS = "127.77.1.53"
NTP_OK = "127.77.1.123"
NTP_SKEW = "127.77.1.124"
PROXY = "127.77.1.80"
PROXY_AUTH = "127.77.1.81"
VAULT = "contosocache.blob.core.windows.net"
NOW = dt.datetime.now(dt.timezone.utc)


class Env:
    def __init__(self, srv: AppServers, tmp: Path) -> None:
        self.srv = srv
        cert, key = openssl_self_signed(tmp, "ps-azure", f"DNS:ps-azure.contoso.test,IP:{PS}")
        self.ps = srv.tls(PS, 0, cert, key)
        ocert, okey, _ = dated_certificate(
            tmp,
            "old",
            ["old.contoso.test"],
            NOW - dt.timedelta(days=400),
            NOW - dt.timedelta(days=3),
        )
        self.old = srv.tls(OLD, 0, ocert, okey, status="200 OK")
        ca_path, _, ca = dated_certificate(
            tmp,
            "netcheck-test-ca",
            [],
            NOW - dt.timedelta(days=1),
            NOW + dt.timedelta(days=90),
            ca=True,
        )
        ccert, ckey, _ = dated_certificate(
            tmp, VAULT, [VAULT], NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=12), issuer=ca
        )
        self.ca_file = ca_path
        self.vault = srv.tls(CA_SIGNED, 0, ccert, ckey, status="404 Not Found")
        self.dns = srv.dns(
            DNS, 0, {VAULT: [CA_SIGNED], "ps-azure.contoso.test": [PS]}, {"broken.test": 2}
        )
        self.ntp_ok = srv.ntp(NTP_OK, 0, 3.0)
        self.ntp_skew = srv.ntp(NTP_SKEW, 0, 20 * 60.0)
        self.proxy = srv.proxy(PROXY, 0, {VAULT: CA_SIGNED})
        self.proxy_auth = srv.proxy(PROXY_AUTH, 0, {}, require_auth=True)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with app_servers() as srv:
        yield Env(srv, tmp_path_factory.mktemp("app"))


def probe(
    kind: str, dst: str, port: int, params: dict[str, Any] | None = None, timeout_ms: int = 5000
) -> p.Sample:
    req = p.ProbeRequest(
        "c", kind, dst, port, src="127.0.0.1", timeout_ms=timeout_ms, params=params
    )
    sample: p.Sample = asyncio.run(asyncio.wait_for(get_probe(kind)(req, None), 20))  # type: ignore[misc]
    assert (
        p.Sample.from_dict(p.Sample(**{**sample.__dict__}).to_dict()) == sample
    )  # valid on the wire
    return sample


def facts(s: p.Sample) -> dict[str, Any]:
    assert s.facts is not None
    return s.facts


# -- tls ------------------------------------------------------------------------------


def test_process_server_answers_400_over_a_self_signed_certificate(env: Env) -> None:
    s = probe("tls", PS, env.ps, {"http": True})
    f = facts(s)
    assert s.outcome == "open" and s.rtt_us is not None
    assert f["tls_version"] in ("TLSv1.2", "TLSv1.3") and f["cipher"]
    assert f["cert_subject"] == "CN=ps-azure, O=netcheck test"
    assert f["cert_self_signed"] is True and f["cert_san"] == [
        "DNS:ps-azure.contoso.test",
        f"IP:{PS}",
    ]
    assert f["chain_verified"] is False and "self-signed" in f["verify_error"]
    assert f["name_matches"] is True  # the IP SAN
    assert 360 <= f["cert_days_left"] <= 365
    assert (f["http_status"], f["http_status_line"]) == (400, "HTTP/1.1 400 Bad Request")


def test_expired_certificate_is_reported_with_its_dates(env: Env) -> None:
    f = facts(probe("tls", OLD, env.old, {"sni": "old.contoso.test", "http": True}))
    assert f["cert_days_left"] in (-3, -4) and f["cert_not_after"].endswith("Z")
    assert f["sni"] == "old.contoso.test" and f["name_matches"] is True
    assert f["chain_verified"] is False and f["http_status"] == 200


def test_chain_verifies_against_the_trust_store(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(env.ca_file))  # the test CA is the "system store"
    monkeypatch.setattr(_app, "_contexts", {})
    f = facts(probe("tls", CA_SIGNED, env.vault, {"sni": VAULT}))
    assert f["chain_verified"] is True and "verify_error" not in f
    assert f["cert_issuer"] == "CN=netcheck-test-ca, O=netcheck test" and f["cert_days_left"] in (
        11,
        12,
    )


def test_plain_tcp_service_is_a_failed_handshake(env: Env) -> None:
    # The DNS responder's TCP port speaks DNS, not TLS: connected, then the handshake fails.
    s = probe("tls", DNS, env.dns, timeout_ms=3000)
    assert s.outcome == "handshake_only" and s.rtt_us is not None
    assert facts(s)["stage"] == "tls" and facts(s)["tls_error"]


def test_tls_to_a_closed_port_is_refused(env: Env) -> None:
    s = probe("tls", PS, 9, {"http": True})
    assert (s.outcome, facts(s)["stage"]) == ("refused", "connect")


# -- dns ------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_dns_query(env: Env, transport: str) -> None:
    s = probe("dns", DNS, env.dns, {"name": VAULT, "transport": transport})
    assert s.outcome == "open" and s.rtt_us is not None
    f = facts(s)
    assert (f["rcode"], f["answers"], f["transport"], f["query"]) == (
        "NOERROR",
        [CA_SIGNED],
        transport,
        VAULT,
    )
    f = facts(probe("dns", DNS, env.dns, {"name": "nope.contoso.test", "transport": transport}))
    assert (f["rcode"], f["answers"]) == ("NXDOMAIN", [])
    assert (
        facts(probe("dns", DNS, env.dns, {"name": "broken.test", "transport": transport}))["rcode"]
        == "SERVFAIL"
    )


def test_dns_to_a_closed_udp_port_is_refused(env: Env) -> None:
    s = probe("dns", "127.77.1.54", env.dns, {"name": VAULT})
    assert s.outcome == "refused"  # ICMP port unreachable on the connected UDP socket


def test_dns_without_a_name_is_a_bad_request(env: Env) -> None:
    assert probe("dns", DNS, env.dns, {}).outcome == "error"


# -- ntp ------------------------------------------------------------------------------


def test_ntp_offsets(env: Env) -> None:
    f = facts(probe("ntp", NTP_OK, env.ntp_ok))
    assert f["offset_ms"] == pytest.approx(3000, abs=100) and f["stratum"] == 2
    assert 0 <= f["delay_ms"] < 1000
    f = facts(probe("ntp", NTP_SKEW, env.ntp_skew))
    assert f["offset_ms"] == pytest.approx(1_200_000, abs=100)


def test_ntp_to_a_silent_port_times_out(env: Env) -> None:
    # The DNS responder's UDP port ignores a 48-byte NTP packet it cannot parse as DNS? It
    # answers garbage-in with nothing: the attempt ends at its deadline.
    s = probe("ntp", DNS, env.dns, timeout_ms=600)
    assert s.outcome in ("timeout", "handshake_only")


# -- https_endpoint ---------------------------------------------------------------------


def test_endpoint_resolved_through_the_declared_resolver(env: Env) -> None:
    s = probe("https_endpoint", VAULT, env.vault, {"resolver": f"{DNS}:{env.dns}"})
    f = facts(s)
    assert s.outcome == "open"
    assert (f["resolved"], f["address"], f["resolver"]) == (
        [CA_SIGNED],
        CA_SIGNED,
        f"{DNS}:{env.dns}",
    )
    assert f["name_matches"] is True and f["cert_subject"] == f"CN={VAULT}, O=netcheck test"
    assert env.srv.seen.get(f"dns-udp {DNS}", 0) >= 1


def test_endpoint_name_that_does_not_resolve(env: Env) -> None:
    s = probe(
        "https_endpoint",
        "missing.blob.core.windows.net",
        env.vault,
        {"resolver": f"{DNS}:{env.dns}"},
    )
    f = facts(s)
    assert s.outcome == "error" and s.detail.startswith("DNS:")
    assert (f["stage"], f["dns_rcode"]) == ("dns", "NXDOMAIN")


def test_endpoint_through_the_proxy(env: Env) -> None:
    before = env.srv.seen.get(f"proxy {PROXY}", 0)
    s = probe(
        "https_endpoint",
        VAULT,
        env.vault,
        {"proxy": f"{PROXY}:{env.proxy}", "resolver": f"{DNS}:{env.dns}"},
    )
    f = facts(s)
    assert s.outcome == "open", s.detail
    assert (f["proxy_status"], f["resolver"], f["address"]) == (200, "proxy", PROXY)
    assert "resolved" not in f  # the proxy resolved the name, not the agent
    assert f["cert_san"] == [f"DNS:{VAULT}"]
    assert env.srv.seen[f"proxy {PROXY}"] > before


def test_authenticating_proxy_is_named(env: Env) -> None:
    s = probe("https_endpoint", VAULT, env.vault, {"proxy": f"{PROXY_AUTH}:{env.proxy_auth}"})
    assert s.outcome == "handshake_only"
    assert "authenticating proxy" in s.detail and "not supported by ASR classic" in s.detail
    assert (facts(s)["proxy_status"], facts(s)["stage"]) == (407, "proxy")


def test_proxy_that_cannot_reach_the_name(env: Env) -> None:
    s = probe(
        "https_endpoint", "other.blob.core.windows.net", 443, {"proxy": f"{PROXY}:{env.proxy}"}
    )
    assert s.outcome == "handshake_only" and facts(s)["proxy_status"] == 502


# -- through a whole agent: one batch mixing tcp_connect and the application kinds ------


def test_mixed_batch_runs_every_kind(env: Env) -> None:
    async def main() -> dict[str, p.Result]:
        agent_side, coord = memory_channel_pair()
        task = asyncio.get_running_loop().create_task(Agent(agent_side).run(max_seconds=60))
        assert isinstance(p.decode(await coord.receive()), p.Hello)
        cells = (
            p.ProbeRequest("tcp", "tcp_connect", PS, env.ps, samples=2),
            p.ProbeRequest(
                "tls", "tls", PS, env.ps, samples=2, timeout_ms=5000, params={"http": True}
            ),
            p.ProbeRequest("dns", "dns", DNS, env.dns, params={"name": VAULT, "transport": "tcp"}),
            p.ProbeRequest("ntp", "ntp", NTP_SKEW, env.ntp_skew),
            p.ProbeRequest(
                "ep",
                "https_endpoint",
                VAULT,
                env.vault,
                timeout_ms=5000,
                params={"resolver": f"{DNS}:{env.dns}"},
            ),
        )
        await coord.send(p.encode(p.ProbeBatch("b1", cells)))
        out: dict[str, p.Result] = {}
        while True:
            msg = p.decode(await coord.receive())
            if isinstance(msg, p.BatchDone):
                assert msg.cells == len(cells)
                break
            assert isinstance(msg, p.Result)
            out[msg.cell] = msg
        await coord.send(p.encode(p.Bye()))
        await asyncio.wait_for(task, 10)
        return out

    got = asyncio.run(asyncio.wait_for(main(), 60))
    assert {c: [s.outcome for s in r.samples] for c, r in got.items()} == {
        "tcp": ["open", "open"],
        "tls": ["open", "open"],
        "dns": ["open"],
        "ntp": ["open"],
        "ep": ["open"],
    }
    assert got["tcp"].samples[0].facts is None
    assert got["tls"].samples[1].facts and got["tls"].samples[1].facts["http_status"] == 400
