"""Probe messages of protocol v1 (re-exported by :mod:`netcheck_agent.protocol`).

A :class:`ProbeBatch` asks for cells (:class:`ProbeRequest`); each cell comes
back as one :class:`Result` holding one :class:`Sample` per attempt, and a
:class:`BatchDone` closes the batch. Limits below keep every request finite:
the agent refuses work it cannot bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Optional, Tuple

from ._codec import Wire, between, flat_object, hex_text, one_of, text
from ._fields import ProtocolError
from .bounds import CONCURRENCY, INTERVAL_MS, SAMPLES, TIMEOUT_MS

#: Sample outcomes. ``timeout`` is what the coordinator calls "filtered";
#: ``handshake_only`` means something completed the TCP handshake but did not
#: answer our nonce challenge (a middlebox, a SYN proxy, another service).
OUTCOMES = frozenset({"open", "refused", "timeout", "unreachable", "handshake_only", "error"})
RTT_SOURCES = frozenset({"tcp_info", "monotonic"})
# Bounds that keep every request finite: the agent refuses work it cannot bound. They
# are the sweep settings' (bounds.py): what the topology and the flags accept, the
# agent accepts.
MAX_SAMPLES = SAMPLES.hi
MAX_INTERVAL_MS = INTERVAL_MS.hi
MAX_TIMEOUT_MS = TIMEOUT_MS.hi
MAX_CONCURRENCY = CONCURRENCY.hi
#: Bounds of a request's ``params`` and a sample's ``facts`` (application probes:
#: TLS, DNS, NTP, Azure endpoints). Both are flat JSON objects.
MAX_PARAMS = 16
MAX_FACTS = 48
MAX_FACT_LIST = 64


@dataclass(frozen=True)
class ProbeRequest(Wire):
    """One cell of a batch: probe ``dst``:``port`` ``samples`` times.

    ``interval_ms`` is start-to-start spacing between the cell's attempts
    (ping semantics); ``timeout_ms`` bounds each attempt. With a ``nonce``
    (hex, the sweep's) the probe challenges the peer and only the answer of
    the responder ``dst_host`` ``dst``:``port`` counts as ``open``: the key is
    derived from the nonce and that identity (:mod:`netcheck_agent.challenge`),
    so another responder behind a NAT, or one of another sweep, is told apart.
    """

    cell: str = field(metadata=text(1024))
    kind: str = field(metadata=text(64))
    dst: str = field(metadata=text(255))
    port: int = field(metadata=between(1, 65535))
    src: Optional[str] = field(default=None, metadata=text(64))
    samples: int = field(default=1, metadata=SAMPLES.meta())
    interval_ms: int = field(default=0, metadata=INTERVAL_MS.meta())
    timeout_ms: int = field(default=1000, metadata=TIMEOUT_MS.meta())
    nonce: Optional[str] = field(default=None, metadata=hex_text(secret=True))
    #: Inputs of application probes (``tls``: ``sni``, ``http``; ``dns``: ``name``,
    #: ``transport``; ``https_endpoint``: ``proxy``, ``resolver``); None for tcp_connect
    #: and then absent from the line (the hot path stays small).
    params: Optional[Dict[str, Any]] = field(
        default=None, metadata=flat_object(MAX_PARAMS, omit_none=True)
    )
    #: The destination's host name, part of the responder identity the answer
    #: must be keyed with (with ``nonce``); None stands for "" (no name), and is
    #: absent from the line (unproven cells stay small).
    dst_host: Optional[str] = field(default=None, metadata=text(255, omit_none=True))


@dataclass(frozen=True)
class ProbeBatch(Wire):
    """A set of cells to probe with at most ``concurrency`` attempts in flight."""

    TYPE: ClassVar[str] = "probe_batch"
    WIRE_ORDER: ClassVar[Tuple[str, ...]] = ("batch", "concurrency", "probes")
    batch: str = field(metadata=text(256))
    probes: Tuple[ProbeRequest, ...]
    concurrency: int = field(default=256, metadata=CONCURRENCY.meta())

    def _validate(self) -> None:
        seen: set[str] = set()
        for i, probe in enumerate(self.probes):
            if probe.cell in seen:
                raise ProtocolError(f"duplicate cell id {probe.cell!r}", f"probes[{i}].cell")
            seen.add(probe.cell)


@dataclass(frozen=True)
class Sample(Wire):
    """One attempt's outcome. ``rtt_us`` is ``None`` when nothing connected.

    ``errno`` is the OS error number when the outcome came from one (its
    symbolic name starts ``detail``), ``proven`` is true only when the peer
    answered the nonce challenge, ``t`` is the attempt's start (Unix time).
    """

    outcome: str = field(metadata=one_of(OUTCOMES))
    rtt_us: Optional[int] = field(default=None, metadata=between(0, 2**63))
    rtt_source: Optional[str] = field(default=None, metadata=one_of(RTT_SOURCES))
    errno: Optional[int] = field(default=None, metadata=between(-(2**31), 2**31))
    detail: str = field(default="", metadata=text(empty_ok=True))
    proven: bool = False
    t: float = field(default=0.0, metadata=between(0.0, 1e11, required=True))
    #: What an application probe learned (TLS version, certificate, HTTP status,
    #: DNS rcode and answers, NTP offset, ...): a flat object; None for tcp_connect.
    facts: Optional[Dict[str, Any]] = field(
        default=None, metadata=flat_object(MAX_FACTS, list_items=MAX_FACT_LIST, omit_none=True)
    )


@dataclass(frozen=True)
class Result(Wire):
    """All samples of one cell, sent as soon as the cell is done."""

    TYPE: ClassVar[str] = "result"
    batch: str = field(metadata=text(256))
    cell: str = field(metadata=text(1024))
    samples: Tuple[Sample, ...]


@dataclass(frozen=True)
class BatchDone(Wire):
    """Every cell of ``batch`` has been reported (``cells`` results were sent).

    ``queued``: how many attempts waited for a free slot because ``limit`` attempts
    (the batch's concurrency, or the agent's own cap from its descriptor limit) were
    already in flight; None where the engine does not count them.
    """

    TYPE: ClassVar[str] = "batch_done"
    batch: str = field(metadata=text(256))
    cells: int = field(metadata=between(0, 2**63))
    queued: Optional[int] = field(default=None, metadata=between(0, 2**63, omit_none=True))
    limit: Optional[int] = field(default=None, metadata=between(1, 2**31, omit_none=True))
