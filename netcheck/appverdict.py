"""What the application probes' facts mean: pure verdicts with hints and doc references.

A TLS, DNS, NTP or Azure endpoint cell first gets the transport verdict of
`netcheck.stats` (open, refused, filtered, ...); this module reads the facts the
agent attached to its samples and says what they mean for the failback: a
certificate that expired, a process server answering 400 on its data port (the
documented sign that it works), a resolver answering NXDOMAIN, a clock 20
minutes off (ACS50008), an authenticating proxy (407). `stats.judge` folds the
result into the cell's verdict.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from netcheck.plan import ProbeSpec
from netcheck.result.cells import FactValue, Outcome, Sample

__all__ = [
    "APP_KINDS",
    "EXPIRY_WARN_DAYS",
    "MAX_CLOCK_SKEW_S",
    "AppVerdict",
    "judge_app",
]

APP_KINDS = frozenset({"tls", "dns", "ntp", "https_endpoint"})
EXPIRY_WARN_DAYS = 30
MAX_CLOCK_SKEW_S = 15 * 60  # ACS50008
OK, WARN, FAIL = "ok", "warn", "fail"
# Rules whose TLS cell is the process server's data port: its documented answer to
# `GET /` is 400 Bad Request.
DATA_PORT_RULES = frozenset({"vm-to-ps-data"})

DOC_PS_CHECK = (
    "browse https://<PS>:9443/: a certificate warning, then 400 Bad Request, in "
    "AS/vmware-physical-azure-troubleshoot-process-server.md"
)
DOC_ENDPOINTS = (
    "INC/site-recovery-configuration-and-scaleout-process-server-requirements.md; "
    "AS/vmware-azure-architecture.md"
)
DOC_DNS = "AS/vmware-physical-azure-troubleshoot-process-server.md"
DOC_NTP = (
    "INC/site-recovery-configuration-and-scaleout-process-server-requirements.md "
    "(time.nist.gov, time.windows.com); error ACS50008"
)
ERR_CERT = "(60) Peer certificate cannot be authenticated"


@dataclass(frozen=True, slots=True)
class AppVerdict:
    """What an application cell's facts say, beside its transport verdict."""

    kind: str
    state: str  # stable id, e.g. "tls-ok", "data-port-works", "ntp-skew", "proxy-auth"
    level: str  # "ok", "warn" (shown, does not fail the cell), "fail"
    summary: str  # a few words for the matrix cell
    reason: str  # one sentence
    hint: str = ""
    doc: str = ""
    error_codes: tuple[str, ...] = ()
    facts: dict[str, FactValue] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.level == FAIL

    @property
    def cert_not_after(self) -> float | None:
        """When the served certificate expires (Unix seconds), when a TLS probe read one."""
        text = self.facts.get("cert_not_after")
        if not isinstance(text, str):
            return None
        try:  # the agent's format (probes/_app.py): always UTC
            when = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return None
        return when.replace(tzinfo=dt.timezone.utc).timestamp()

    @property
    def clock_offset_s(self) -> float | None:
        """An NTP cell's clock offset (the server's clock minus the source host's, the
        median of its attempts), in seconds; None for other cells."""
        ms = self.facts.get("offset_ms_median")
        if isinstance(ms, bool) or not isinstance(ms, int | float):
            return None
        return float(ms) / 1000.0


def _witness(samples: Sequence[Sample]) -> Sample | None:
    """The attempt whose facts speak for the cell: an open one, else any with facts."""
    for s in samples:
        if s.outcome is Outcome.OPEN and s.facts:
            return s
    for s in samples:
        if s.facts and len(s.facts) > 1:
            return s
    return None


def _s(facts: dict[str, FactValue], key: str) -> str:
    value = facts.get(key)
    return "" if value is None else str(value)


def _int(facts: dict[str, FactValue], key: str) -> int | None:
    value = facts.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _where(spec: ProbeSpec) -> str:
    if spec.is_endpoint:
        return f"{spec.dest_host}:{spec.port}"
    return f"{spec.dest_host} {spec.dest_address}:{spec.port}"


def _short_version(v: str) -> str:
    return v.replace("TLSv", "TLS").replace("_", ".")


# -- TLS (services on 443 / 9443, and the Azure endpoints) ------------------------


def _tls_open(spec: ProbeSpec, f: dict[str, FactValue]) -> AppVerdict:
    where = _where(spec)
    endpoint = spec.is_endpoint
    version = _s(f, "tls_version")
    days = _int(f, "cert_days_left")
    subject = _s(f, "cert_subject") or "?"
    not_after = _s(f, "cert_not_after")
    base = f"{_short_version(version)}".strip()
    if days is not None and days < 0:
        return AppVerdict(
            spec.kind,
            "tls-expired",
            FAIL,
            "CERT EXPIRED",
            f"the certificate of {where} ({subject}) expired on {not_after} "
            f"({-days} days ago): agents refuse it",
            "Renew the server's certificate (for the configuration / process server: "
            "renew the ASR certificates from the portal or re-register), then re-run.",
            DOC_ENDPOINTS if endpoint else DOC_PS_CHECK,
            (ERR_CERT,),
            f,
        )
    if endpoint and f.get("chain_verified") is False:
        why = _s(f, "verify_error") or "does not verify"
        return AppVerdict(
            spec.kind,
            "tls-untrusted",
            FAIL,
            "CERT UNTRUSTED",
            f"the certificate presented for {spec.dest_host} ({subject}, issuer "
            f"{_s(f, 'cert_issuer') or '?'}) does not verify against this host's trust store: "
            f"{why} — TLS inspection by a proxy or firewall?",
            "Exempt the Azure Site Recovery URLs from TLS inspection on the proxy / firewall, "
            "or put the inspecting CA in the server's trusted root store.",
            DOC_ENDPOINTS,
            (ERR_CERT,),
            f,
        )
    if endpoint and f.get("name_matches") is False:
        return AppVerdict(
            spec.kind,
            "tls-name-mismatch",
            FAIL,
            "CERT NAME",
            f"the certificate presented for {spec.dest_host} is for {_s(f, 'cert_san') or subject}",
            "Something other than the Azure endpoint answers for this name (DNS pointing "
            "elsewhere, a captive portal, TLS inspection): check the resolver and the proxy.",
            DOC_ENDPOINTS,
            (ERR_CERT,),
            f,
        )
    status = _int(f, "http_status")
    if status is not None and status == 400 and set(spec.rule_ids) & DATA_PORT_RULES:
        return AppVerdict(
            spec.kind,
            "data-port-works",
            _expiry_level(days),
            "400: data port works",
            f"{where} answered HTTPS GET / with {_s(f, 'http_status_line')!r}: the process "
            f"server's documented answer — the data port works ({base}"
            f"{_days(days)})",
            _expiry_hint(days),
            DOC_PS_CHECK,
            (),
            f,
        )
    if days is not None and days < EXPIRY_WARN_DAYS:
        return AppVerdict(
            spec.kind,
            "tls-expiring",
            WARN,
            f"CERT {days}d",
            f"the certificate of {where} ({subject}) expires on {not_after}, in {days} days",
            _expiry_hint(days),
            DOC_ENDPOINTS if endpoint else DOC_PS_CHECK,
            (ERR_CERT,),
            f,
        )
    if version in ("TLSv1", "TLSv1.1", "SSLv3"):
        return AppVerdict(
            spec.kind,
            "tls-old-protocol",
            WARN,
            _short_version(version),
            f"{where} negotiated {version} only: Azure services require TLS 1.2 or newer",
            "Enable TLS 1.2 on the server (SChannel) and in .NET (SchUseStrongCrypto).",
            DOC_ENDPOINTS,
            (),
            f,
        )
    notes = []
    if status is not None:
        notes.append(f"GET / → {_s(f, 'http_status_line') or status}")
        if set(spec.rule_ids) & DATA_PORT_RULES:
            notes.append("not the process server's documented 400 — is it the process server?")
    elif f.get("http_error"):
        notes.append(_s(f, "http_error"))
    if f.get("chain_verified") is False and not endpoint:
        notes.append(
            f"certificate not verified ({_s(f, 'verify_error')}), as usual for ASR servers"
        )
    level = WARN if status is not None and set(spec.rule_ids) & DATA_PORT_RULES else OK
    reason = f"TLS handshake with {where}: {version}, {_s(f, 'cipher')}, certificate {subject}{_days(days)}"
    if notes:
        reason += "; " + "; ".join(notes)
    return AppVerdict(
        spec.kind,
        "endpoint-ok" if endpoint else "tls-ok",
        level,
        f"{base}{_days_short(days)}",
        reason,
        "",
        DOC_ENDPOINTS if endpoint else "",
        (),
        f,
    )


def _days(days: int | None) -> str:
    return "" if days is None else f", expires in {days} days"


def _days_short(days: int | None) -> str:
    return "" if days is None else f" {days}d"


def _expiry_level(days: int | None) -> str:
    return WARN if days is not None and days < EXPIRY_WARN_DAYS else OK


def _expiry_hint(days: int | None) -> str:
    if days is not None and days < EXPIRY_WARN_DAYS:
        return "Renew the certificate before it expires: agents stop trusting the server then."
    return ""


def _tls_failed(spec: ProbeSpec, f: dict[str, FactValue]) -> AppVerdict:
    where = _where(spec)
    return AppVerdict(
        spec.kind,
        "tls-handshake-failed",
        FAIL,
        "TLS FAILED",
        f"TCP connected to {where}, but the TLS handshake failed: {_s(f, 'tls_error')} — "
        "another service, a firewall's block page or TLS inspection answers instead",
        "Check what listens on the port (it must be the ASR service's HTTPS) and that no "
        "device on the path intercepts or blocks TLS.",
        DOC_ENDPOINTS if spec.is_endpoint else DOC_PS_CHECK,
        (ERR_CERT, "78186") if set(spec.rule_ids) & DATA_PORT_RULES else (ERR_CERT,),
        f,
    )


def _endpoint(spec: ProbeSpec, w: Sample) -> AppVerdict | None:
    f = w.facts or {}
    stage = _s(f, "stage")
    name = spec.dest_host
    if stage == "dns":
        resolver = _s(f, "resolver")
        return AppVerdict(
            spec.kind,
            "dns-failed",
            FAIL,
            f"DNS {_s(f, 'dns_rcode') or 'FAILED'}",
            f"{name} does not resolve from {spec.source_host}: {_s(f, 'dns_error')}",
            f"Make the resolver ({resolver}) resolve the Azure endpoints: forward to Azure DNS "
            "or the internet, or use a proxy (it resolves the names itself).",
            DOC_ENDPOINTS,
            (),
            f,
        )
    status = _int(f, "proxy_status")
    if stage == "proxy":
        proxy = _s(f, "proxy")
        if status == 407:
            return AppVerdict(
                spec.kind,
                "proxy-auth",
                FAIL,
                "PROXY 407",
                f"the proxy {proxy} asks for authentication (407 Proxy Authentication "
                f"Required) to reach {name}: authenticating proxy — not supported by ASR classic",
                "Let the configuration / process server through the proxy without "
                "authentication (a bypass rule for the Azure Site Recovery URLs), or give "
                "them direct HTTPS access.",
                DOC_ENDPOINTS,
                ("407",),
                f,
            )
        return AppVerdict(
            spec.kind,
            "proxy-refused",
            FAIL,
            f"PROXY {status}" if status else "PROXY?",
            f"the proxy {proxy} did not open a tunnel to {name}:{spec.port}: "
            f"{_s(f, 'proxy_status_line') or w.detail}",
            "Allow CONNECT to the Azure Site Recovery URLs on port 443 on the proxy.",
            DOC_ENDPOINTS,
            (),
            f,
        )
    if w.outcome is Outcome.OPEN:
        return _tls_open(spec, f)
    if f.get("tls_error"):
        return _tls_failed(spec, f)
    return None


# -- DNS and NTP ------------------------------------------------------------------


def _dns(spec: ProbeSpec, w: Sample) -> AppVerdict | None:
    f = w.facts or {}
    transport = _s(f, "transport").upper() or spec.proto.upper()
    query = _s(f, "query")
    where = f"{spec.dest_host} {spec.dest_address}"
    if w.outcome is not Outcome.OPEN:
        if f.get("dns_error") and w.outcome is Outcome.HANDSHAKE_ONLY:
            return AppVerdict(
                spec.kind,
                "dns-bad-answer",
                FAIL,
                "NOT DNS",
                f"{where} answered on {transport} {spec.port}, but not with a DNS answer to "
                f"our query: {_s(f, 'dns_error')}",
                "Check what listens on port 53 of the resolver.",
                DOC_DNS,
                (),
                f,
            )
        return None
    rcode = _s(f, "rcode")
    answers = f.get("answers") or []
    n = len(answers) if isinstance(answers, list) else 0
    if rcode == "NOERROR" and n:
        note = (
            "; the UDP answer was truncated: the resolver must also answer over TCP 53"
            if f.get("truncated")
            else ""
        )
        shown = ", ".join(answers[:3]) if isinstance(answers, list) else ""
        return AppVerdict(
            spec.kind,
            "dns-ok",
            WARN if note else OK,
            f"{rcode} {n} ans",
            f"{where} resolved {query} over {transport}: {shown}{note}",
            "",
            DOC_DNS,
            (),
            f,
        )
    why = {
        "NXDOMAIN": f"{query} does not exist for this resolver (NXDOMAIN)",
        "SERVFAIL": "the resolver could not resolve it (SERVFAIL): its forwarders or the "
        "internet are unreachable from it",
        "REFUSED": "the resolver refuses to answer this host (REFUSED): recursion is not "
        "allowed for its subnet",
        "NOERROR": f"no address for {query} (NOERROR, empty answer)",
    }.get(rcode, f"answer code {rcode}")
    return AppVerdict(
        spec.kind,
        f"dns-{rcode.lower() or 'error'}",
        FAIL,
        rcode or "DNS?",
        f"{where} answered over {transport}, but {why}",
        f"Make {spec.dest_host} resolve {query} for the configuration / process server "
        "(forwarders, conditional forwarders for the Azure zones, recursion allowed).",
        DOC_DNS,
        (),
        f,
    )


def _fmt_offset(seconds: float) -> str:
    sign = "+" if seconds >= 0 else "-"
    s = abs(seconds)
    if s >= 59.5:
        whole = round(s)
        return f"{sign}{whole // 60}m{whole % 60:02d}s"
    if s >= 1:
        return f"{sign}{s:.1f}s"
    return f"{sign}{s * 1000:.0f}ms"


def _ntp(spec: ProbeSpec, samples: Sequence[Sample], w: Sample) -> AppVerdict | None:
    f = dict(w.facts or {})
    where = f"{spec.dest_host} {spec.dest_address}"
    if w.outcome is not Outcome.OPEN:
        return None
    offsets = [
        float(s.facts["offset_ms"])  # type: ignore[arg-type]
        for s in samples
        if s.outcome is Outcome.OPEN
        and s.facts
        and isinstance(s.facts.get("offset_ms"), int | float)
    ]
    offset_s = statistics.median(offsets) / 1000.0 if offsets else 0.0
    f["offset_ms_median"] = round(offset_s * 1000.0, 3)
    if _int(f, "stratum") == 0:
        return AppVerdict(
            spec.kind,
            "ntp-kiss",
            FAIL,
            f"NTP {_s(f, 'kiss_code') or 'KoD'}",
            f"{where} refused to serve time (kiss-o'-death {_s(f, 'kiss_code')!r})",
            "Use a time server that serves this host (rate limits, access lists).",
            DOC_NTP,
            ("ACS50008",),
            f,
        )
    if _int(f, "leap") == 3:
        return AppVerdict(
            spec.kind,
            "ntp-unsynchronised",
            FAIL,
            "NTP UNSYNC",
            f"{where} says its own clock is not synchronised (leap indicator 3)",
            "Point the servers at a synchronised time source.",
            DOC_NTP,
            ("ACS50008",),
            f,
        )
    ahead = "behind" if offset_s > 0 else "ahead of"
    text = _fmt_offset(offset_s)
    if abs(offset_s) > MAX_CLOCK_SKEW_S:
        return AppVerdict(
            spec.kind,
            "ntp-skew",
            FAIL,
            f"SKEW {text}",
            f"the clock of {spec.source_host} is {_fmt_offset(abs(offset_s))[1:]} {ahead} "
            f"{where}: beyond the 15 minutes Azure accepts (ACS50008)",
            f"Synchronise {spec.source_host}'s clock (w32tm /resync, chrony) with a reliable "
            "time source and keep it within 15 minutes of Azure's.",
            DOC_NTP,
            ("ACS50008",),
            f,
        )
    return AppVerdict(
        spec.kind,
        "ntp-ok",
        OK,
        f"offset {text}",
        f"clock offset to {where}: {text} (within 15 minutes), stratum {_s(f, 'stratum')}",
        "",
        DOC_NTP,
        (),
        f,
    )


def judge_app(spec: ProbeSpec, samples: Sequence[Sample]) -> AppVerdict | None:
    """The application verdict of a measured cell; None for a plain TCP cell or when
    the attempts carry no facts (then the transport verdict says it all)."""
    if spec.kind not in APP_KINDS or not samples:
        return None
    w = _witness(samples)
    if w is None or not w.facts:
        return None
    if spec.kind == "dns":
        return _dns(spec, w)
    if spec.kind == "ntp":
        return _ntp(spec, samples, w)
    if spec.kind == "https_endpoint":
        return _endpoint(spec, w)
    if w.outcome is Outcome.OPEN:
        return _tls_open(spec, w.facts)
    if w.facts.get("tls_error"):
        return _tls_failed(spec, w.facts)
    return None
