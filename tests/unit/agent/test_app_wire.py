"""The application probes' pure parts: DNS and SNTP packets, the DER certificate reader,
params/facts in protocol messages. Crafted bytes, then hypothesis on every parser."""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netcheck_agent import protocol as p
from netcheck_agent.probes import dnswire, ntpwire, x509
from netcheck_agent.probes._app import parse_status_line, split_host_port

# -- DNS ----------------------------------------------------------------------------


def test_query_bytes_are_rfc1035() -> None:
    q = dnswire.build_query("Vault.Blob.core.windows.net", 0x1234)
    assert q[:12] == bytes.fromhex("1234 0100 0001 0000 0000 0000")
    assert q[12:] == (b"\x05Vault\x04Blob\x04core\x07windows\x03net\x00" + b"\x00\x01\x00\x01")
    assert dnswire.frame_tcp(q)[:2] == struct.pack("!H", len(q))


@pytest.mark.parametrize("bad", ["", ".", "a..b", "x" * 64 + ".com", ("a." * 128) + "com"])
def test_names_that_cannot_be_queried(bad: str) -> None:
    with pytest.raises(dnswire.DnsError):
        dnswire.encode_name(bad)


def _response(qid: int, flags: int, question: bytes, answers: list[bytes]) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, 1, len(answers), 0, 0) + question + b"".join(answers)


QUESTION = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"


def test_answer_with_compression_cname_and_addresses() -> None:
    cname = struct.pack("!HHHIH", 0xC00C, 5, 1, 60, 6) + b"\x03cdn\xc0\x10"  # cdn.example.com
    a = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([198, 18, 0, 7])
    aaaa = struct.pack("!HHHIH", 0xC00C, 28, 1, 60, 16) + bytes(15) + b"\x01"
    ans = dnswire.parse_response(_response(7, 0x8180, QUESTION, [cname, a, aaaa]))
    assert (ans.qid, ans.rcode, ans.question) == (7, 0, "www.example.com")
    assert ans.answers == ("CNAME cdn.example.com", "198.18.0.7", "::1")
    assert ans.recursion_available and not ans.truncated and not ans.authoritative
    assert dnswire.addresses(ans) == ["198.18.0.7", "::1"]


def test_rcodes_and_flags() -> None:
    ans = dnswire.parse_response(_response(1, 0x8000 | 0x0400 | 0x0200 | 3, QUESTION, []))
    assert dnswire.rcode_name(ans.rcode) == "NXDOMAIN"
    assert ans.authoritative and ans.truncated
    assert dnswire.rcode_name(5) == "REFUSED" and dnswire.rcode_name(14) == "RCODE14"


@pytest.mark.parametrize(
    "data, why",
    [
        (b"\x00" * 5, "shorter than a DNS header"),
        (_response(1, 0x0100, QUESTION, []), "QR bit"),
        (_response(1, 0x8180, b"\xc0\x0c\x00\x01\x00\x01", []), "loop"),  # points at itself
        (_response(1, 0x8180, b"\x40abc", []), "label type"),
        (
            _response(
                1, 0x8180, QUESTION, [b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x09\x01"]
            ),
            "past",
        ),
    ],
)
def test_malformed_responses_are_dns_errors(data: bytes, why: str) -> None:
    with pytest.raises(dnswire.DnsError, match=why):
        dnswire.parse_response(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_dns_parser_never_raises_anything_else(data: bytes) -> None:
    try:
        ans = dnswire.parse_response(data)
    except dnswire.DnsError:
        return
    assert 0 <= ans.rcode <= 15 and len(ans.answers) <= 64


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=12, max_size=300), st.integers(0, 0xFFFF))
def test_dns_parser_on_mutated_real_answers(tail: bytes, qid: int) -> None:
    a = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([198, 18, 0, 7])
    good = _response(qid, 0x8180, QUESTION, [a])
    for cut in (len(good) // 2, len(good) - 1):
        data = good[:cut] + tail
        with contextlib.suppress(dnswire.DnsError):
            dnswire.parse_response(data)


# -- NTP ----------------------------------------------------------------------------


def test_ntp_timestamps_round_trip() -> None:
    for t in (0.0, 1_700_000_000.25, 2_000_000_000.999):
        assert abs(ntpwire.from_ntp(ntpwire.to_ntp(t)) - t) < 1e-6


def test_request_is_a_version4_client_packet() -> None:
    packet, stamp = ntpwire.build_request(1_700_000_000.5)
    assert len(packet) == 48 and packet[0] == 0x23  # LI 0, VN 4, mode 3
    assert struct.unpack("!Q", packet[40:48])[0] == stamp


def _reply(origin: int, server_time: float, stratum: int = 2, first: int = 0x24) -> bytes:
    ts = ntpwire.to_ntp(server_time)
    return struct.pack("!BBbbII4sQQQQ", first, stratum, 6, -20, 0, 0, b"GPS\0", ts, origin, ts, ts)


def test_reply_offset_and_delay() -> None:
    _packet, stamp = ntpwire.build_request(1000.0)
    reply = ntpwire.parse_reply(_reply(stamp, 1000.0 + 1200.05), stamp)
    assert (reply.mode, reply.version, reply.stratum, reply.leap) == (4, 4, 2, 0)
    offset, delay = ntpwire.offset_and_delay(1000.0, reply.receive, reply.transmit, 1000.1)
    assert offset == pytest.approx(1200.0, abs=1e-3)  # 20 minutes behind the server
    assert delay == pytest.approx(0.1, abs=1e-3)


def test_replies_that_are_not_ours() -> None:
    _, stamp = ntpwire.build_request(1000.0)
    with pytest.raises(ntpwire.NtpError, match="origin"):
        ntpwire.parse_reply(_reply(stamp + 1, 1000.0), stamp)
    with pytest.raises(ntpwire.NtpError, match="mode"):
        ntpwire.parse_reply(_reply(stamp, 1000.0, first=0x23), stamp)
    with pytest.raises(ntpwire.NtpError, match="shorter"):
        ntpwire.parse_reply(b"\x24" * 47, stamp)
    kod = ntpwire.parse_reply(
        struct.pack("!BBbbII4sQQQQ", 0xE4, 0, 0, 0, 0, 0, b"RATE", 0, stamp, 0, 0), stamp
    )
    assert (kod.stratum, kod.ref_id, kod.leap) == (0, "RATE", 3)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=100), st.integers(0, 2**64 - 1))
def test_ntp_parser_never_raises_anything_else(data: bytes, stamp: int) -> None:
    with contextlib.suppress(ntpwire.NtpError):
        ntpwire.parse_reply(data, stamp)


# -- certificates -----------------------------------------------------------------


@pytest.fixture(scope="module")
def openssl_der(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    tmp: Path = tmp_path_factory.mktemp("cert")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(tmp / "k.pem"), "-out", str(tmp / "c.pem"), "-days", "10",
            "-subj", "/C=NL/O=Contoso/CN=ps01.contoso.local",
            "-addext", "subjectAltName=DNS:ps01.contoso.local,DNS:*.ps.contoso.local,IP:198.18.1.4",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return ssl.PEM_cert_to_DER_cert((tmp / "c.pem").read_text())


def test_reads_an_openssl_certificate(openssl_der: bytes) -> None:
    cert = x509.parse_certificate(openssl_der)
    assert cert.subject == "CN=ps01.contoso.local, O=Contoso, C=NL"
    assert cert.subject_cn == "ps01.contoso.local" and cert.self_signed
    assert cert.san == ("DNS:ps01.contoso.local", "DNS:*.ps.contoso.local", "IP:198.18.1.4")
    now = dt.datetime.now(dt.timezone.utc)
    assert cert.not_before <= now < cert.not_after
    assert x509.days_left(cert, now) in (9, 10)
    assert x509.name_matches(cert, "PS01.contoso.local.")
    assert x509.name_matches(cert, "a.ps.contoso.local")
    assert not x509.name_matches(cert, "a.b.ps.contoso.local")  # one label only
    assert x509.name_matches(cert, "198.18.1.4") and not x509.name_matches(cert, "198.18.1.5")


def test_days_left_is_negative_once_expired(openssl_der: bytes) -> None:
    cert = x509.parse_certificate(openssl_der)
    assert x509.days_left(cert, cert.not_after + dt.timedelta(days=3, hours=1)) == -4


def test_certificate_times() -> None:
    assert x509._time(0x17, b"491231235959Z").year == 2049
    assert x509._time(0x17, b"500101000000Z").year == 1950
    assert x509._time(0x18, b"21060207062815Z").year == 2106
    for bad in (b"4912312359Z", b"491231235959", b"49123123595xZ"):
        with pytest.raises(x509.CertificateError):
            x509._time(0x17, bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_certificate_parser_never_raises_anything_else(data: bytes) -> None:
    with contextlib.suppress(x509.CertificateError):
        x509.parse_certificate(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2000), st.binary(min_size=1, max_size=8))
def test_certificate_parser_on_corrupted_real_certificates(
    openssl_der: bytes, pos: int, junk: bytes
) -> None:
    data = bytearray(openssl_der)
    at = pos % len(data)
    data[at : at + len(junk)] = junk
    with contextlib.suppress(x509.CertificateError):
        x509.parse_certificate(bytes(data))


# -- small helpers ----------------------------------------------------------------


def test_status_lines_and_host_port() -> None:
    assert parse_status_line(b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n") == (
        400,
        "HTTP/1.1 400 Bad Request",
    )
    assert parse_status_line(b"NETCHECK1 abc\n") == (None, "NETCHECK1 abc")
    assert split_host_port("198.18.1.5:3128", 80) == ("198.18.1.5", 3128)
    assert split_host_port("[2001:db8::1]:53", 80) == ("2001:db8::1", 53)
    assert split_host_port("2001:db8::1", 53) == ("2001:db8::1", 53)
    assert split_host_port("proxy.lan", 8080) == ("proxy.lan", 8080)
    with pytest.raises(ValueError):
        split_host_port("proxy.lan:99999", 80)


# -- params and facts in protocol messages -----------------------------------------


def test_params_and_facts_round_trip() -> None:
    req = p.ProbeRequest("c", "tls", "198.18.1.4", 9443, params={"sni": "ps01", "http": True})
    assert p.decode(p.encode(p.ProbeBatch("b", (req,)))) == p.ProbeBatch("b", (req,))
    plain = p.ProbeRequest("c", "tcp_connect", "198.18.1.4", 9443)
    assert "params" not in plain.to_dict()  # the hot path stays as it was
    s = p.Sample("open", 10, "monotonic", t=1.0, facts={"answers": ["a"], "offset_ms": -1.5})
    res = p.Result("b", "c", (s,))
    assert p.decode(p.encode(res)) == res
    assert "facts" not in p.Sample("open", t=1.0).to_dict()


@pytest.mark.parametrize(
    "facts, field",
    [
        ({"x": {"nested": 1}}, "facts.x"),
        ({"x": ["a"] * 65}, "facts.x"),
        ({"x": "y" * 1025}, "facts.x"),
        ({f"k{i}": 1 for i in range(49)}, "facts"),
        ({"x": float("nan")}, "facts.x"),
    ],
)
def test_facts_are_bounded(facts: dict[str, object], field: str) -> None:
    with pytest.raises(p.ProtocolError) as ei:
        p.Sample("open", t=1.0, facts=facts)  # type: ignore[arg-type]
    assert ei.value.field == field


def test_params_are_flat_scalars() -> None:
    with pytest.raises(p.ProtocolError) as ei:
        p.ProbeRequest("c", "dns", "198.18.1.53", 53, params={"name": ["a"]})
    assert ei.value.field == "params.name"
    with pytest.raises(p.ProtocolError):
        p.ProbeRequest.from_dict(
            {"cell": "c", "kind": "dns", "dst": "x", "port": 53, "params": [1]}
        )
