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
:class:`Facts` (with :class:`VolumeFacts`), :class:`Error`, :class:`Bye`.
Coordinator → agent: :class:`ProbeBatch` (with :class:`ProbeRequest`),
:class:`RespondersStart` (with :class:`ListenSpec`), :class:`RespondersStop`,
:class:`FactsRequest`, :class:`Bye`.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Optional, Union

from . import PROTOCOL_VERSION  # defined once, in the package
from ._codec import Wire, between, text
from ._diag_msgs import DIAG_KINDS, DIAG_METHODS, REPLIES, DiagRequest, DiagResult, Hop
from ._fields import ProtocolError, UnknownMessageType

# The probe and responder messages live in their own modules to keep each
# small; they are part of this module's public API.
from ._probe_msgs import (
    MAX_CONCURRENCY,
    MAX_INTERVAL_MS,
    MAX_SAMPLES,
    MAX_TIMEOUT_MS,
    OUTCOMES,
    RTT_SOURCES,
    BatchDone,
    ProbeBatch,
    ProbeRequest,
    Result,
    Sample,
)
from ._responder_msgs import (
    MAX_CONNS,
    REFUSED_ADDRESS_NOT_AVAILABLE,
    REFUSED_ERROR,
    REFUSED_IN_USE,
    REFUSED_OTHER_SWEEP,
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

if TYPE_CHECKING:
    # Loaded on first use at run time (see `__getattr__` below): an agent that only
    # probes never needs them, and their classes cost a fleet sweep's start-up time.
    from ._bandwidth_msgs import (
        BW_COMPLETED,
        BW_ERROR,
        BW_MAX_BYTES,
        BW_MAX_SECONDS,
        BW_NO_CLIENT,
        BW_NOT_ACCEPTED,
        BW_PEER_VANISHED,
        BW_REFUSED,
        BW_STOPPED,
        BW_TIMEOUT,
        BW_UNREACHABLE,
        SOURCE_RECEIVER,
        SOURCE_SENDER,
        SOURCE_SENDER_ACKED,
        BandwidthClosed,
        BandwidthInterval,
        BandwidthListen,
        BandwidthListening,
        BandwidthResult,
        BandwidthRun,
        BandwidthStop,
    )
    from ._facts_msgs import Facts, FactsRequest, VolumeFacts
    from ._nic_msgs import (
        ArpCheck,
        ArpCheckRequest,
        ArpResult,
        ArpTarget,
        CapturedPacket,
        CaptureReady,
        CaptureResult,
        CaptureStart,
        CaptureStop,
        InterfaceFacts,
        NicFacts,
        NicFactsRequest,
        RouteChoice,
    )

#: Longest line either side accepts (a 100k-cell batch is ~20 MB).
MAX_LINE_BYTES = 32 * 1024 * 1024

#: Error codes an agent sends; the set may grow, so decoders accept any string.
ERROR_BAD_MESSAGE = "bad_message"
ERROR_UNKNOWN_TYPE = "unknown_type"
ERROR_INTERNAL = "internal"
ERROR_LIFETIME = "lifetime"
ERROR_LISTEN_FAILED = "listen_failed"  # a bandwidth endpoint could not bind


@dataclass(frozen=True)
class Hello(Wire):
    """First line an agent sends: who it is and what this host can do."""

    TYPE: ClassVar[str] = "hello"
    protocol: int = field(metadata=between(1, 2**31))
    agent_version: str = field(metadata=text(64))
    host: str = field(metadata=text(255, empty_ok=True))
    pid: int = field(metadata=between(0, 2**63))
    python: str = field(metadata=text(64))
    platform: str = field(metadata=text(64))
    capabilities: Dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Error(Wire):
    """The agent could not act on a message; ``ref`` names its batch/responder id."""

    TYPE: ClassVar[str] = "error"
    ref: Optional[str] = field(metadata=text(256))
    code: str = field(metadata=text(64))
    message: str = field(default="", metadata=text(empty_ok=True))


@dataclass(frozen=True)
class Bye(Wire):
    """Either side is done: the coordinator asks the agent to stop, the agent confirms."""

    TYPE: ClassVar[str] = "bye"


if TYPE_CHECKING:
    Message = Union[
        Hello,
        DiagRequest,
        DiagResult,
        ProbeBatch,
        Result,
        BatchDone,
        RespondersStart,
        RespondersReady,
        RespondersStop,
        RespondersStopped,
        FactsRequest,
        Facts,
        NicFactsRequest,
        NicFacts,
        ArpCheckRequest,
        ArpCheck,
        CaptureStart,
        CaptureReady,
        CaptureStop,
        CaptureResult,
        BandwidthListen,
        BandwidthListening,
        BandwidthRun,
        BandwidthInterval,
        BandwidthResult,
        BandwidthStop,
        BandwidthClosed,
        Error,
        Bye,
    ]

# The message modules loaded on first use, and the classes known so far by wire type.
_LAZY_MODULES = ("_bandwidth_msgs", "_facts_msgs", "_nic_msgs")
_TYPES: Dict[str, Any] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        DiagRequest,
        DiagResult,
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
_all_loaded = False


def _load_all() -> None:
    """Import the lazy message modules, publish their names here, index their types."""
    global _all_loaded
    if _all_loaded:
        return
    for name in _LAZY_MODULES:
        module = importlib.import_module("." + name, __package__)
        for public in __all__:
            if public not in globals() and hasattr(module, public):
                globals()[public] = getattr(module, public)
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == module.__name__ and "TYPE" in vars(obj):
                _TYPES[vars(obj)["TYPE"]] = obj
    _all_loaded = True


if TYPE_CHECKING:
    #: every message class, by its wire type
    MESSAGE_TYPES: Dict[str, Any]
else:

    def __getattr__(name: str) -> Any:
        # PEP 562: the lazy modules' names, `MESSAGE_TYPES` (every message class, by
        # its wire type) and `Message` (their Union) load every message module once.
        # (Hidden from type checkers, which see the imports above instead.)
        if name in ("MESSAGE_TYPES", "Message") or name in __all__:
            _load_all()
            if name == "MESSAGE_TYPES":
                globals()[name] = dict(_TYPES)
            elif name == "Message":
                globals()[name] = Union[tuple(_TYPES.values())]
            if name in globals():
                return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not valid JSON")


# Built once: json.dumps/loads with options construct a new coder per call,
# which shows at thousands of lines per second.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def encode(msg: Message) -> bytes:
    """One compact JSON line, ``\\n`` terminated, pure ASCII."""
    return _ENCODER.encode(msg.to_dict()).encode() + b"\n"


def _ref_of(obj: Dict[str, Any]) -> Optional[str]:
    for key in ("batch", "id"):  # FactsRequest / Facts carry "id" too
        value = obj.get(key)
        if isinstance(value, str) and 0 < len(value) <= 256:  # an Error's ref is never ""
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
        text = line.decode("utf-8") if isinstance(line, (bytes, bytearray)) else line
        obj = _DECODER.decode(text)
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"not a JSON line: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("is required and must be a string", "type")
    cls = _TYPES.get(kind)
    if cls is None and not _all_loaded:
        _load_all()  # a bandwidth, facts or NIC message: their first one
        cls = _TYPES.get(kind)
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
    "BW_COMPLETED",
    "BW_ERROR",
    "BW_MAX_BYTES",
    "BW_MAX_SECONDS",
    "BW_NOT_ACCEPTED",
    "BW_NO_CLIENT",
    "BW_PEER_VANISHED",
    "BW_REFUSED",
    "BW_STOPPED",
    "BW_TIMEOUT",
    "BW_UNREACHABLE",
    "DIAG_KINDS",
    "DIAG_METHODS",
    "ERROR_BAD_MESSAGE",
    "ERROR_INTERNAL",
    "ERROR_LIFETIME",
    "ERROR_LISTEN_FAILED",
    "ERROR_UNKNOWN_TYPE",
    "MAX_CONCURRENCY",
    "MAX_CONNS",
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
    "REFUSED_OTHER_SWEEP",
    "REFUSED_PERMISSION",
    "REPLIES",
    "RTT_SOURCES",
    "SOURCE_RECEIVER",
    "SOURCE_SENDER",
    "SOURCE_SENDER_ACKED",
    "STOPPED_AGENT_EXIT",
    "STOPPED_MAX_CONNS",
    "STOPPED_REQUESTED",
    "STOPPED_TTL",
    "ArpCheck",
    "ArpCheckRequest",
    "ArpResult",
    "ArpTarget",
    "BandwidthClosed",
    "BandwidthInterval",
    "BandwidthListen",
    "BandwidthListening",
    "BandwidthResult",
    "BandwidthRun",
    "BandwidthStop",
    "BatchDone",
    "Bye",
    "CaptureReady",
    "CaptureResult",
    "CaptureStart",
    "CaptureStop",
    "CapturedPacket",
    "DiagRequest",
    "DiagResult",
    "Error",
    "Facts",
    "FactsRequest",
    "Hello",
    "Hop",
    "InterfaceFacts",
    "ListenRefused",
    "ListenSpec",
    "Message",
    "NicFacts",
    "NicFactsRequest",
    "ProbeBatch",
    "ProbeRequest",
    "ProtocolError",
    "RespondersReady",
    "RespondersStart",
    "RespondersStop",
    "RespondersStopped",
    "Result",
    "RouteChoice",
    "Sample",
    "UnknownMessageType",
    "VolumeFacts",
    "decode",
    "encode",
]
