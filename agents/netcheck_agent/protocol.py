"""Protocol v1 between the coordinator and an agent: JSON lines, pure.

One message per line, UTF-8 JSON object with a ``"type"`` key, ``\\n``
terminated. This module has no I/O: :func:`encode` turns a message into bytes
and :func:`decode` turns one line back into a message, validating the type,
the required fields and their types, and raising :class:`ProtocolError` (the
only exception it raises) naming the field that is wrong. Unknown extra
fields are ignored so newer peers can add fields without breaking older ones.

Every message is a frozen dataclass that validates itself on construction,
so the coordinator can build requests with the same classes and get the same
errors the agent would report.

Agent → coordinator: :class:`Hello`, :class:`Result` (with :class:`Sample`),
:class:`BatchDone`, :class:`RespondersReady`, :class:`RespondersStopped`,
:class:`Error`, :class:`Bye`. Coordinator → agent: :class:`ProbeBatch` (with
:class:`ProbeRequest`), :class:`RespondersStart` (with :class:`ListenSpec`),
:class:`RespondersStop`, :class:`Bye`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Optional, Tuple, Union

from . import _fields as f
from ._fields import ProtocolError, UnknownMessageType

# The responder messages live in their own module to keep both small; they are
# part of this module's public API.
from ._responder_msgs import (
    REFUSED_ADDRESS_NOT_AVAILABLE,
    REFUSED_ERROR,
    REFUSED_IN_USE,
    REFUSED_PERMISSION,
    STOPPED_AGENT_EXIT,
    STOPPED_MAX_CONNS,
    STOPPED_REQUESTED,
    STOPPED_TTL,
    ListenRefused,
    ListenSpec,
    RespondersReady,
    RespondersStart,
    RespondersStop,
    RespondersStopped,
)

PROTOCOL_VERSION = 1

#: Longest line either side accepts (a 100k-cell batch is ~20 MB).
MAX_LINE_BYTES = 32 * 1024 * 1024

#: Sample outcomes. ``timeout`` is what the coordinator calls "filtered";
#: ``handshake_only`` means something completed the TCP handshake but did not
#: answer our nonce challenge (a middlebox, a SYN proxy, another service).
OUTCOMES = frozenset({"open", "refused", "timeout", "unreachable", "handshake_only", "error"})
RTT_SOURCES = frozenset({"tcp_info", "monotonic"})

#: Error codes an agent sends; the set may grow, so decoders accept any string.
ERROR_BAD_MESSAGE = "bad_message"
ERROR_UNKNOWN_TYPE = "unknown_type"
ERROR_INTERNAL = "internal"
ERROR_LIFETIME = "lifetime"

# Bounds that keep every request finite: the agent refuses work it cannot bound.
MAX_SAMPLES = 10_000
MAX_INTERVAL_MS = 3_600_000
MAX_TIMEOUT_MS = 600_000
MAX_CONCURRENCY = 4096


@dataclass(frozen=True)
class Hello:
    """First line an agent sends: who it is and what this host can do."""

    TYPE: ClassVar[str] = "hello"
    protocol: int
    agent_version: str
    host: str
    pid: int
    python: str
    platform: str
    capabilities: Dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        f.want_int("protocol", self.protocol, 1, 2**31)
        f.want_str("agent_version", self.agent_version, max_len=64)
        f.want_str("host", self.host, empty_ok=True, max_len=255)
        f.want_int("pid", self.pid, 0, 2**63)
        f.want_str("python", self.python, max_len=64)
        f.want_str("platform", self.platform, max_len=64)
        if not isinstance(self.capabilities, dict):
            raise ProtocolError("must be an object", "capabilities")
        for name, flag in self.capabilities.items():
            f.want_bool(f"capabilities.{name}", flag)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.TYPE,
            "protocol": self.protocol,
            "agent_version": self.agent_version,
            "host": self.host,
            "pid": self.pid,
            "python": self.python,
            "platform": self.platform,
            "capabilities": dict(self.capabilities),
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Hello:
        caps = f.get(d, "capabilities", {})
        if not isinstance(caps, dict):
            raise ProtocolError("must be an object", "capabilities")
        return cls(
            f.get(d, "protocol"),
            f.get(d, "agent_version"),
            f.get(d, "host"),
            f.get(d, "pid"),
            f.get(d, "python"),
            f.get(d, "platform"),
            dict(caps),
        )


@dataclass(frozen=True)
class ProbeRequest:
    """One cell of a batch: probe ``dst``:``port`` ``samples`` times.

    ``interval_ms`` is start-to-start spacing between the cell's attempts
    (ping semantics); ``timeout_ms`` bounds each attempt. With a ``nonce``
    (hex) the probe challenges the peer and only an answer proving knowledge
    of the nonce counts as ``open``.
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

    def __post_init__(self) -> None:
        f.want_str("cell", self.cell, max_len=1024)
        f.want_str("kind", self.kind, max_len=64)
        f.want_str("dst", self.dst, max_len=255)
        f.want_int("port", self.port, 1, 65535)
        f.want_opt_str("src", self.src, max_len=64)
        f.want_int("samples", self.samples, 1, MAX_SAMPLES)
        f.want_int("interval_ms", self.interval_ms, 0, MAX_INTERVAL_MS)
        f.want_int("timeout_ms", self.timeout_ms, 1, MAX_TIMEOUT_MS)
        f.want_opt_hex("nonce", self.nonce)

    def to_dict(self) -> Dict[str, Any]:
        return {
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

    def __repr__(self) -> str:
        # The nonce is a per-sweep secret: keep it out of reprs and so out of logs.
        nonce = None if self.nonce is None else "<redacted>"
        return (
            f"ProbeRequest(cell={self.cell!r}, kind={self.kind!r}, dst={self.dst!r}, "
            f"port={self.port}, src={self.src!r}, samples={self.samples}, "
            f"interval_ms={self.interval_ms}, timeout_ms={self.timeout_ms}, nonce={nonce})"
        )

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ProbeRequest:
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

    def __post_init__(self) -> None:
        f.want_choice("outcome", self.outcome, OUTCOMES)
        f.want_opt_int("rtt_us", self.rtt_us, 0, 2**63)
        if self.rtt_source is not None:
            f.want_choice("rtt_source", self.rtt_source, RTT_SOURCES)
        f.want_opt_int("errno", self.errno, -(2**31), 2**31)
        f.want_str("detail", self.detail, empty_ok=True)
        f.want_bool("proven", self.proven)
        f.want_number("t", self.t, 0.0, 1e11)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "outcome": self.outcome,
            "rtt_us": self.rtt_us,
            "rtt_source": self.rtt_source,
            "errno": self.errno,
            "detail": self.detail,
            "proven": self.proven,
            "t": self.t,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Sample:
        return cls(
            f.get(d, "outcome"),
            f.get(d, "rtt_us", None),
            f.get(d, "rtt_source", None),
            f.get(d, "errno", None),
            f.get(d, "detail", ""),
            f.get(d, "proven", False),
            f.get(d, "t"),
        )


@dataclass(frozen=True)
class Result:
    """All samples of one cell, sent as soon as the cell is done."""

    TYPE: ClassVar[str] = "result"
    batch: str
    cell: str
    samples: Tuple[Sample, ...]

    def __post_init__(self) -> None:
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


@dataclass(frozen=True)
class Error:
    """The agent could not act on a message; ``ref`` names its batch/responder id."""

    TYPE: ClassVar[str] = "error"
    ref: Optional[str]
    code: str
    message: str

    def __post_init__(self) -> None:
        f.want_opt_str("ref", self.ref, max_len=256)
        f.want_str("code", self.code, max_len=64)
        f.want_str("message", self.message, empty_ok=True)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE, "ref": self.ref, "code": self.code, "message": self.message}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Error:
        return cls(f.get(d, "ref", None), f.get(d, "code"), f.get(d, "message", ""))


@dataclass(frozen=True)
class Bye:
    """Either side is done: the coordinator asks the agent to stop, the agent confirms."""

    TYPE: ClassVar[str] = "bye"

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.TYPE}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Bye:
        return cls()


Message = Union[
    Hello,
    ProbeBatch,
    Result,
    BatchDone,
    RespondersStart,
    RespondersReady,
    RespondersStop,
    RespondersStopped,
    Error,
    Bye,
]

MESSAGE_TYPES: Dict[str, Any] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        ProbeBatch,
        Result,
        BatchDone,
        RespondersStart,
        RespondersReady,
        RespondersStop,
        RespondersStopped,
        Error,
        Bye,
    )
}


def encode(msg: Message) -> bytes:
    """One compact JSON line, ``\\n`` terminated, pure ASCII."""
    return json.dumps(msg.to_dict(), separators=(",", ":"), allow_nan=False).encode() + b"\n"


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not valid JSON")


def _ref_of(obj: Dict[str, Any]) -> Optional[str]:
    for key in ("batch", "id"):
        value = obj.get(key)
        if isinstance(value, str) and len(value) <= 256:
            return value
    return None


def decode(line: Union[bytes, str]) -> Message:
    """Parse and validate one line; raises :class:`ProtocolError` and nothing else.

    An unknown ``type`` raises a ProtocolError whose ``field`` is ``"type"``
    (the agent answers it with ``unknown_type``).
    """
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        obj = json.loads(line, parse_constant=_reject_constant)
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"not a JSON line: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("is required and must be a string", "type")
    cls = MESSAGE_TYPES.get(kind)
    ref = _ref_of(obj)
    if cls is None:
        raise UnknownMessageType(f"unknown message type {kind[:40]!r}", "type", ref)
    try:
        msg: Message = cls.from_dict(obj)
    except ProtocolError as exc:
        raise exc.within(kind).with_ref(ref) from None
    except RecursionError:
        raise ProtocolError("nested too deeply", kind, ref) from None
    return msg


__all__ = [
    "ERROR_BAD_MESSAGE",
    "ERROR_INTERNAL",
    "ERROR_LIFETIME",
    "ERROR_UNKNOWN_TYPE",
    "MAX_CONCURRENCY",
    "MAX_INTERVAL_MS",
    "MAX_LINE_BYTES",
    "MAX_SAMPLES",
    "MAX_TIMEOUT_MS",
    "MESSAGE_TYPES",
    "OUTCOMES",
    "PROTOCOL_VERSION",
    "REFUSED_ADDRESS_NOT_AVAILABLE",
    "REFUSED_ERROR",
    "REFUSED_IN_USE",
    "REFUSED_PERMISSION",
    "RTT_SOURCES",
    "STOPPED_AGENT_EXIT",
    "STOPPED_MAX_CONNS",
    "STOPPED_REQUESTED",
    "STOPPED_TTL",
    "BatchDone",
    "Bye",
    "Error",
    "Hello",
    "ListenRefused",
    "ListenSpec",
    "Message",
    "ProbeBatch",
    "ProbeRequest",
    "ProtocolError",
    "RespondersReady",
    "RespondersStart",
    "RespondersStop",
    "RespondersStopped",
    "Result",
    "Sample",
    "UnknownMessageType",
    "decode",
    "encode",
]
