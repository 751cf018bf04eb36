"""Probe messages of protocol v1 (re-exported by :mod:`netcheck_agent.protocol`).

A :class:`ProbeBatch` asks for cells (:class:`ProbeRequest`); each cell comes
back as one :class:`Result` holding one :class:`Sample` per attempt, and a
:class:`BatchDone` closes the batch. Limits below keep every request finite:
the agent refuses work it cannot bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Optional, Tuple

from . import _fields as f
from ._fields import ProtocolError

#: Sample outcomes. ``timeout`` is what the coordinator calls "filtered";
#: ``handshake_only`` means something completed the TCP handshake but did not
#: answer our nonce challenge (a middlebox, a SYN proxy, another service).
OUTCOMES = frozenset({"open", "refused", "timeout", "unreachable", "handshake_only", "error"})
RTT_SOURCES = frozenset({"tcp_info", "monotonic"})
# Bounds that keep every request finite: the agent refuses work it cannot bound.
MAX_SAMPLES = 10_000
MAX_INTERVAL_MS = 3_600_000
MAX_TIMEOUT_MS = 600_000
MAX_CONCURRENCY = 4096
#: Bounds of a request's ``params`` and a sample's ``facts`` (application probes:
#: TLS, DNS, NTP, Azure endpoints). Both are flat JSON objects.
MAX_PARAMS = 16
MAX_FACTS = 48
MAX_FACT_LIST = 64
_SCALARS = (str, int, float, bool)


def _check_map(field: str, value: Any, max_keys: int, lists: bool) -> None:
    """A flat JSON object: short string keys; scalar values (and lists of short
    strings where ``lists``); strings bounded so one message stays small."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ProtocolError("must be an object", field)
    if len(value) > max_keys:
        raise ProtocolError(f"must have at most {max_keys} keys, got {len(value)}", field)
    for key, item in value.items():
        f.want_str(f"{field} key", key, max_len=64)
        where = f"{field}.{key}"
        if isinstance(item, list) and lists:
            if len(item) > MAX_FACT_LIST:
                raise ProtocolError(f"must have at most {MAX_FACT_LIST} items", where)
            for i, x in enumerate(item):
                f.want_str(f"{where}[{i}]", x, empty_ok=True, max_len=512)
        elif isinstance(item, str):
            f.want_str(where, item, empty_ok=True, max_len=1024)
        elif isinstance(item, float):
            f.want_number(where, item, -1e18, 1e18)
        elif item is None and lists:
            continue
        elif not isinstance(item, _SCALARS):
            raise ProtocolError(
                f"must be a string, number or boolean, got {type(item).__name__}", where
            )


@dataclass(frozen=True)
class ProbeRequest:
    """One cell of a batch: probe ``dst``:``port`` ``samples`` times.

    ``interval_ms`` is start-to-start spacing between the cell's attempts
    (ping semantics); ``timeout_ms`` bounds each attempt. With a ``nonce``
    (hex, the sweep's) the probe challenges the peer and only the answer of
    the responder ``dst_host`` ``dst``:``port`` counts as ``open``: the key is
    derived from the nonce and that identity (:mod:`netcheck_agent.challenge`),
    so another responder behind a NAT, or one of another sweep, is told apart.
    """

    cell: str
    kind: str
    dst: str
    port: int
    src: Optional[str] = None
    samples: int = 1
    interval_ms: int = 0
    timeout_ms: int = 1000
    nonce: Optional[str] = None
    #: Inputs of application probes (``tls``: ``sni``, ``http``; ``dns``: ``name``,
    #: ``transport``; ``https_endpoint``: ``proxy``, ``resolver``); None for tcp_connect.
    params: Optional[Dict[str, Any]] = None
    #: The destination's host name, part of the responder identity the answer
    #: must be keyed with (with ``nonce``); None stands for "" (no name).
    dst_host: Optional[str] = None

    def __post_init__(self) -> None:
        # Built and decoded once per cell on each side: accept the common
        # well-formed shape with one cheap expression (as Sample does) and run
        # the checks that name the bad field only otherwise.
        src, nonce, dst_host = self.src, self.nonce, self.dst_host
        if (
            type(self.cell) is str
            and 0 < len(self.cell) <= 1024
            and type(self.kind) is str
            and 0 < len(self.kind) <= 64
            and type(self.dst) is str
            and 0 < len(self.dst) <= 255
            and type(self.port) is int
            and 1 <= self.port <= 65535
            and (src is None or (type(src) is str and 0 < len(src) <= 64))
            and type(self.samples) is int
            and 1 <= self.samples <= MAX_SAMPLES
            and type(self.interval_ms) is int
            and 0 <= self.interval_ms <= MAX_INTERVAL_MS
            and type(self.timeout_ms) is int
            and 1 <= self.timeout_ms <= MAX_TIMEOUT_MS
            and (nonce is None or f.is_hex(nonce))
            and self.params is None
            and (dst_host is None or (type(dst_host) is str and 0 < len(dst_host) <= 255))
        ):
            return
        f.want_str("cell", self.cell, max_len=1024)
        f.want_str("kind", self.kind, max_len=64)
        f.want_str("dst", self.dst, max_len=255)
        f.want_int("port", self.port, 1, 65535)
        f.want_opt_str("src", self.src, max_len=64)
        f.want_int("samples", self.samples, 1, MAX_SAMPLES)
        f.want_int("interval_ms", self.interval_ms, 0, MAX_INTERVAL_MS)
        f.want_int("timeout_ms", self.timeout_ms, 1, MAX_TIMEOUT_MS)
        f.want_opt_hex("nonce", self.nonce)
        _check_map("params", self.params, MAX_PARAMS, lists=False)
        f.want_opt_str("dst_host", self.dst_host, max_len=255)

    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {
            "cell": self.cell,
            "kind": self.kind,
            "dst": self.dst,
            "port": self.port,
            "src": self.src,
            "samples": self.samples,
            "interval_ms": self.interval_ms,
            "timeout_ms": self.timeout_ms,
            "nonce": self.nonce,
        }
        if self.params is not None:  # absent for tcp_connect: the hot path stays small
            d["params"] = self.params
        if self.dst_host is not None:  # only with a nonce: absent keeps unproven cells small
            d["dst_host"] = self.dst_host
        return d

    def __repr__(self) -> str:
        # The nonce is a per-sweep secret: keep it out of reprs and so out of logs.
        nonce = None if self.nonce is None else "<redacted>"
        return (
            f"ProbeRequest(cell={self.cell!r}, kind={self.kind!r}, dst={self.dst!r}, "
            f"port={self.port}, src={self.src!r}, samples={self.samples}, "
            f"interval_ms={self.interval_ms}, timeout_ms={self.timeout_ms}, nonce={nonce}, "
            f"params={self.params!r}, dst_host={self.dst_host!r})"
        )

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ProbeRequest:
        if "cell" in d and "kind" in d and "dst" in d and "port" in d:  # the usual case
            g = d.get
            return cls(
                d["cell"],
                d["kind"],
                d["dst"],
                d["port"],
                g("src"),
                g("samples", 1),
                g("interval_ms", 0),
                g("timeout_ms", 1000),
                g("nonce"),
                g("params"),
                g("dst_host"),
            )
        return cls(
            f.get(d, "cell"),
            f.get(d, "kind"),
            f.get(d, "dst"),
            f.get(d, "port"),
            f.get(d, "src", None),
            f.get(d, "samples", 1),
            f.get(d, "interval_ms", 0),
            f.get(d, "timeout_ms", 1000),
            f.get(d, "nonce", None),
            f.get(d, "params", None),
            f.get(d, "dst_host", None),
        )


@dataclass(frozen=True)
class ProbeBatch:
    """A set of cells to probe with at most ``concurrency`` attempts in flight."""

    TYPE: ClassVar[str] = "probe_batch"
    batch: str
    probes: Tuple[ProbeRequest, ...]
    concurrency: int = 256

    def __post_init__(self) -> None:
        f.want_str("batch", self.batch, max_len=256)
        f.want_tuple_of("probes", self.probes, ProbeRequest)
        f.want_int("concurrency", self.concurrency, 1, MAX_CONCURRENCY)
        seen: set[str] = set()
        for i, probe in enumerate(self.probes):
            if probe.cell in seen:
                raise ProtocolError(f"duplicate cell id {probe.cell!r}", f"probes[{i}].cell")
            seen.add(probe.cell)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "batch": self.batch,
            "concurrency": self.concurrency,
            "probes": [p.to_dict() for p in self.probes],
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ProbeBatch:
        items = f.get_list(d, "probes")
        probes = tuple(
            f.nested("probes", i, p, ProbeRequest.from_dict) for i, p in enumerate(items)
        )
        return cls(f.get(d, "batch"), probes, f.get(d, "concurrency", 256))


@dataclass(frozen=True)
class Sample:
    """One attempt's outcome. ``rtt_us`` is ``None`` when nothing connected.

    ``errno`` is the OS error number when the outcome came from one (its
    symbolic name starts ``detail``), ``proven`` is true only when the peer
    answered the nonce challenge, ``t`` is the attempt's start (Unix time).
    """

    outcome: str
    rtt_us: Optional[int] = None
    rtt_source: Optional[str] = None
    errno: Optional[int] = None
    detail: str = ""
    proven: bool = False
    t: float = 0.0
    #: What an application probe learned (TLS version, certificate, HTTP status,
    #: DNS rcode and answers, NTP offset, ...): a flat object; None for tcp_connect.
    facts: Optional[Dict[str, Any]] = None

    def __post_init__(self) -> None:
        # Samples are built and decoded thousands of times a second: accept
        # the common well-formed shape with one cheap expression, and run the
        # field-by-field checks (which name the bad field) only otherwise.
        rtt, number, t = self.rtt_us, self.errno, self.t
        if (
            self.outcome in OUTCOMES
            and (rtt is None or (type(rtt) is int and 0 <= rtt <= 2**63))
            and (self.rtt_source is None or self.rtt_source in RTT_SOURCES)
            and (number is None or (type(number) is int and -(2**31) <= number <= 2**31))
            and type(self.detail) is str
            and len(self.detail) <= 4096
            and type(self.proven) is bool
            and type(t) is float
            and 0.0 <= t <= 1e11  # also false for NaN
            and self.facts is None
        ):
            return
        f.want_choice("outcome", self.outcome, OUTCOMES)
        f.want_opt_int("rtt_us", self.rtt_us, 0, 2**63)
        if self.rtt_source is not None:
            f.want_choice("rtt_source", self.rtt_source, RTT_SOURCES)
        f.want_opt_int("errno", self.errno, -(2**31), 2**31)
        f.want_str("detail", self.detail, empty_ok=True)
        f.want_bool("proven", self.proven)
        f.want_number("t", self.t, 0.0, 1e11)
        _check_map("facts", self.facts, MAX_FACTS, lists=True)

    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {
            "outcome": self.outcome,
            "rtt_us": self.rtt_us,
            "rtt_source": self.rtt_source,
            "errno": self.errno,
            "detail": self.detail,
            "proven": self.proven,
            "t": self.t,
        }
        if self.facts is not None:
            d["facts"] = self.facts
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Sample:
        if "outcome" in d and "t" in d:  # the usual case
            g = d.get
            return cls(
                d["outcome"],
                g("rtt_us"),
                g("rtt_source"),
                g("errno"),
                g("detail", ""),
                g("proven", False),
                d["t"],
                g("facts"),
            )
        return cls(
            f.get(d, "outcome"),
            f.get(d, "rtt_us", None),
            f.get(d, "rtt_source", None),
            f.get(d, "errno", None),
            f.get(d, "detail", ""),
            f.get(d, "proven", False),
            f.get(d, "t"),
            f.get(d, "facts", None),
        )


@dataclass(frozen=True)
class Result:
    """All samples of one cell, sent as soon as the cell is done."""

    TYPE: ClassVar[str] = "result"
    batch: str
    cell: str
    samples: Tuple[Sample, ...]

    def __post_init__(self) -> None:
        if (
            type(self.batch) is str
            and 0 < len(self.batch) <= 256
            and type(self.cell) is str
            and 0 < len(self.cell) <= 1024
            and type(self.samples) is tuple
            and all(type(s) is Sample for s in self.samples)
        ):
            return
        f.want_str("batch", self.batch, max_len=256)
        f.want_str("cell", self.cell, max_len=1024)
        f.want_tuple_of("samples", self.samples, Sample)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "batch": self.batch,
            "cell": self.cell,
            "samples": [s.to_dict() for s in self.samples],
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Result:
        items = f.get_list(d, "samples")
        if all(type(s) is dict for s in items):
            try:
                return cls(f.get(d, "batch"), f.get(d, "cell"), tuple(map(Sample.from_dict, items)))
            except ProtocolError:
                pass  # again below, naming the sample that is wrong
        samples = tuple(f.nested("samples", i, s, Sample.from_dict) for i, s in enumerate(items))
        return cls(f.get(d, "batch"), f.get(d, "cell"), samples)


@dataclass(frozen=True)
class BatchDone:
    """Every cell of ``batch`` has been reported (``cells`` results were sent)."""

    TYPE: ClassVar[str] = "batch_done"
    batch: str
    cells: int

    def __post_init__(self) -> None:
        f.want_str("batch", self.batch, max_len=256)
        f.want_int("cells", self.cells, 0, 2**63)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE, "batch": self.batch, "cells": self.cells}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> BatchDone:
        return cls(f.get(d, "batch"), f.get(d, "cells"))
