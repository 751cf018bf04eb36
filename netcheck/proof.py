"""What a sweep's responder challenge proves, on the coordinator's side. Pure.

Each responder answers with a key derived from the sweep's nonce and its own
identity (host, address, port; see :mod:`netcheck_agent.challenge`), and a
probe accepts only the answer of the destination it meant. When another
responder of the sweep answered instead (a DNAT, a port forward, a wrong
route), the agent reports the challenge and the answer; only the coordinator
knows every identity of the sweep, so it names that responder here:
"answered by a different netcheck responder (mt01?)".

:class:`ResponderProof` is built once the responders are open and decides,
per cell, whether its probe challenges (our responder listens there, or a
responder of another sweep holds the port, which the challenge exposes) and
with which identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from itertools import chain
from typing import Protocol

from netcheck_agent import challenge
from netcheck_agent import protocol as p

from netcheck.plan import ProbeSpec

__all__ = ["LISTENING", "OTHER_SWEEP", "ResponderProof"]

#: `ResponderInfo.state` of a port our responder listens on.
LISTENING = "responder"
#: `ResponderInfo.state` of a port a responder of another netcheck sweep holds.
OTHER_SWEEP = "other_sweep"

Identity = tuple[str, str, int]  # (host, address, port)


class Listener(Protocol):
    """What a sweep knows of each destination port (netcheck.sweep.ResponderInfo)."""

    @property
    def host(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def state(self) -> str: ...


class ResponderProof:
    """The sweep's nonce and its responders, as the probes and their results need them."""

    __slots__ = ("_answered", "_challenged", "_identities", "nonce")

    def __init__(self, nonce: str, listeners: Iterable[Listener]) -> None:
        self.nonce = nonce
        listeners = list(listeners)
        self._identities: tuple[Identity, ...] = tuple(
            (x.host, x.address, x.port) for x in listeners if x.state == LISTENING
        )
        self._challenged = frozenset(
            (x.address, x.port) for x in listeners if x.state in (LISTENING, OTHER_SWEEP)
        )
        # Responders that answered in another's place, tried first next time: a
        # DNAT sends every attempt of a cell to the same one.
        self._answered: dict[Identity, None] = {}

    def nonce_for(self, spec: ProbeSpec) -> str | None:
        """`ProbeRequest.nonce` of `spec`'s cell: set where a responder listens
        (ours, or another sweep's, which the challenge exposes)."""
        if (spec.dest_address, spec.port) in self._challenged:
            return self.nonce
        return None

    def dst_host_for(self, spec: ProbeSpec) -> str | None:
        """`ProbeRequest.dst_host`: the identity the answer must be keyed with."""
        return spec.dest_host if self.nonce_for(spec) is not None else None

    def explain(self, sample: p.Sample) -> p.Sample:
        """`sample` with a misdirected answer's responder named in its detail.

        The agent's evidence (challenge and answer) is dropped once used: the
        detail says what it showed.
        """
        if sample.detail != challenge.DETAIL_MISDIRECTED or not sample.facts:
            return sample
        chal, token = sample.facts.get("challenge"), sample.facts.get("answer")
        who = None
        if isinstance(chal, str) and isinstance(token, str):
            rest = (x for x in self._identities if x not in self._answered)
            who = challenge.answered_by(self.nonce, chain(list(self._answered), rest), chal, token)
        if who is not None:
            self._answered[who] = None
        name = f"{who[0]}?" if who is not None else "none of this sweep's"
        return replace(sample, detail=f"{challenge.DETAIL_MISDIRECTED} ({name})", facts=None)
