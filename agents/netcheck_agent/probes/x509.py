"""Just enough of X.509 (DER) to report a peer certificate. Pure, stdlib only.

The ``ssl`` module decodes a certificate only when it verified it
(``getpeercert()`` is ``{}`` under ``CERT_NONE``), yet the certificates this
tool meets most — the configuration and process servers' own — are
self-signed. So the probe takes the DER bytes (``getpeercert(True)``) and
reads the few fields a report needs: subject, issuer, validity, subject
alternative names. Anything malformed raises :class:`CertificateError`;
nothing else escapes (the parser is fuzzed).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from typing import List, NamedTuple, Optional, Tuple

__all__ = ["Certificate", "CertificateError", "days_left", "name_matches", "parse_certificate"]


class CertificateError(ValueError):
    """The bytes are not a certificate this parser can read."""


class Certificate(NamedTuple):
    subject: str  # "CN=ps01, O=Contoso" (RFC 4514 order reversed: as shown by browsers)
    issuer: str
    subject_cn: Optional[str]
    not_before: _dt.datetime  # UTC, timezone-aware
    not_after: _dt.datetime
    san: Tuple[str, ...]  # "DNS:name", "IP:addr"

    @property
    def self_signed(self) -> bool:
        """Issuer and subject are the same name (the usual ASR server certificate)."""
        return self.subject == self.issuer

    def dns_names(self) -> List[str]:
        return [s[4:] for s in self.san if s.startswith("DNS:")]

    def ip_addresses(self) -> List[str]:
        return [s[3:] for s in self.san if s.startswith("IP:")]


# -- DER -----------------------------------------------------------------------

_SEQUENCE = 0x30
_SET = 0x31
_OID = 0x06
_INTEGER = 0x02
_BOOLEAN = 0x01
_OCTET_STRING = 0x04
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_STRING_TAGS = {
    0x0C,
    0x13,
    0x14,
    0x16,
    0x1A,
    0x1E,
    0x1C,
}  # UTF8, Printable, T61, IA5, Visible, BMP, Universal

_ATTR_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.5": "serialNumber",
    "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.25": "DC",
}
_SAN_OID = "2.5.29.17"


def _tlv(data: bytes, pos: int, end: int) -> Tuple[int, int, int]:
    """(tag, start of value, end of value) of the element at ``pos``."""
    if pos + 2 > end:
        raise CertificateError("truncated element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise CertificateError("multi-byte tags are not used in certificates")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > end:
            raise CertificateError("bad length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > end:
        raise CertificateError("element longer than its container")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> List[Tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tag, vs, ve = _tlv(data, pos, end)
        out.append((tag, vs, ve))
        pos = ve
        if len(out) > 10_000:
            raise CertificateError("too many elements")
    return out


def _expect(elem: Tuple[int, int, int], tag: int, what: str) -> Tuple[int, int, int]:
    if elem[0] != tag:
        raise CertificateError(f"{what}: expected tag 0x{tag:02x}, got 0x{elem[0]:02x}")
    return elem


def _oid(raw: bytes) -> str:
    if not raw:
        raise CertificateError("empty OID")
    parts = [min(raw[0] // 40, 2), raw[0] - 40 * min(raw[0] // 40, 2)]
    value = 0
    for i, b in enumerate(raw[1:], 1):
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
        elif i == len(raw) - 1:
            raise CertificateError("truncated OID")
    return ".".join(map(str, parts))


def _text(tag: int, raw: bytes) -> str:
    if tag == 0x1E:
        return raw.decode("utf-16-be", "replace")
    if tag == 0x1C:
        return raw.decode("utf-32-be", "replace")
    return raw.decode("utf-8", "replace")


def _name(data: bytes, start: int, end: int) -> Tuple[str, Optional[str]]:
    parts = []
    cn = None
    for rdn in _children(data, start, end):
        _expect(rdn, _SET, "name")
        for atv in _children(data, rdn[1], rdn[2]):
            _expect(atv, _SEQUENCE, "attribute")
            kids = _children(data, atv[1], atv[2])
            if len(kids) != 2:
                raise CertificateError("attribute needs a type and a value")
            oid = _oid(data[kids[0][1] : kids[0][2]])
            tag, vs, ve = kids[1]
            value = _text(tag, data[vs:ve]) if tag in _STRING_TAGS else data[vs:ve].hex()
            label = _ATTR_NAMES.get(oid, oid)
            parts.append(f"{label}={value}")
            if label == "CN" and cn is None:
                cn = value
    # Most specific first, as browsers and openssl -nameopt RFC2253 show it.
    return ", ".join(reversed(parts)), cn


def _time(tag: int, raw: bytes) -> _dt.datetime:
    try:
        text = raw.decode("ascii")
        if not text.endswith("Z"):
            raise CertificateError("certificate times must be UTC (Z)")
        if tag == _UTC_TIME and len(text) == 13:
            year = int(text[0:2])
            year += 1900 if year >= 50 else 2000
            rest = text[2:12]
        elif tag == _GENERALIZED_TIME and len(text) == 15:
            year = int(text[0:4])
            rest = text[4:14]
        else:
            raise CertificateError(f"bad time {text!r}")
        if not rest.isdigit():
            raise CertificateError(f"bad time {text!r}")
        return _dt.datetime(
            year,
            int(rest[0:2]),
            int(rest[2:4]),
            int(rest[4:6]),
            int(rest[6:8]),
            int(rest[8:10]),
            tzinfo=_dt.timezone.utc,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, CertificateError):
            raise
        raise CertificateError(f"bad time: {exc}") from None


def _san(data: bytes, start: int, end: int) -> Tuple[str, ...]:
    out = []
    seq = _expect(_tlv(data, start, end), _SEQUENCE, "subjectAltName")
    for tag, vs, ve in _children(data, seq[1], seq[2]):
        raw = data[vs:ve]
        if tag == 0x82:
            out.append("DNS:" + raw.decode("ascii", "replace"))
        elif tag == 0x87 and len(raw) in (4, 16):
            out.append("IP:" + str(ipaddress.ip_address(raw)))
        elif tag == 0x81:
            out.append("email:" + raw.decode("ascii", "replace"))
        elif tag == 0x86:
            out.append("URI:" + raw.decode("ascii", "replace"))
    return tuple(out)


def parse_certificate(der: bytes) -> Certificate:
    """Subject, issuer, validity and SAN of a DER certificate."""
    data = bytes(der)
    cert = _expect(_tlv(data, 0, len(data)), _SEQUENCE, "certificate")
    parts = _children(data, cert[1], cert[2])
    if len(parts) < 1:
        raise CertificateError("empty certificate")
    tbs = _expect(parts[0], _SEQUENCE, "tbsCertificate")
    fields = _children(data, tbs[1], tbs[2])
    i = 1 if fields and fields[0][0] == 0xA0 else 0  # [0] EXPLICIT version
    if len(fields) < i + 6:
        raise CertificateError("tbsCertificate too short")
    _expect(fields[i], _INTEGER, "serialNumber")
    _expect(fields[i + 1], _SEQUENCE, "signature")
    issuer = _expect(fields[i + 2], _SEQUENCE, "issuer")
    validity = _expect(fields[i + 3], _SEQUENCE, "validity")
    subject = _expect(fields[i + 4], _SEQUENCE, "subject")
    times = _children(data, validity[1], validity[2])
    if len(times) != 2:
        raise CertificateError("validity needs notBefore and notAfter")
    not_before = _time(times[0][0], data[times[0][1] : times[0][2]])
    not_after = _time(times[1][0], data[times[1][1] : times[1][2]])
    issuer_text, _ = _name(data, issuer[1], issuer[2])
    subject_text, cn = _name(data, subject[1], subject[2])
    san: Tuple[str, ...] = ()
    for tag, vs, ve in fields[i + 6 :]:
        if tag != 0xA3:  # [3] EXPLICIT extensions
            continue
        exts = _expect(_tlv(data, vs, ve), _SEQUENCE, "extensions")
        for ext in _children(data, exts[1], exts[2]):
            _expect(ext, _SEQUENCE, "extension")
            kids = _children(data, ext[1], ext[2])
            if len(kids) < 2 or kids[0][0] != _OID:
                raise CertificateError("extension needs an OID and a value")
            if _oid(data[kids[0][1] : kids[0][2]]) != _SAN_OID:
                continue
            value = _expect(kids[-1], _OCTET_STRING, "extnValue")
            san = _san(data, value[1], value[2])
    return Certificate(subject_text, issuer_text, cn, not_before, not_after, san)


# -- judgements on a parsed certificate (pure) ---------------------------------


def days_left(cert: Certificate, now: _dt.datetime) -> int:
    """Whole days until notAfter (negative once expired)."""
    return int((cert.not_after - now).total_seconds() // 86400)


def _dns_match(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        # A wildcard covers exactly one left-most label (RFC 6125 6.4.3).
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def name_matches(cert: Certificate, host: str) -> bool:
    """Whether ``host`` (a name or an IP literal) is one the certificate is for.

    SAN entries decide when there are any; otherwise the subject CN (legacy).
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return any(ipaddress.ip_address(a) == ip for a in cert.ip_addresses())
    names = cert.dns_names() or ([cert.subject_cn] if cert.subject_cn else [])
    return any(_dns_match(n, host) for n in names)
