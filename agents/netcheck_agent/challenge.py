"""The challenge that proves a probe reached the responder it meant, end to end. Pure.

A TCP handshake alone proves little: a SYN proxy, a transparent proxy or a
load balancer completes it for ports nobody serves, and a NAT may deliver it
to another host. So when the coordinator hands out a per-sweep nonce, the
probe sends ``NETCHECK1 <challenge>\\n`` and only accepts
``NETCHECK1 <hex HMAC-SHA256(key=K, msg=challenge)>\\n`` where ``K`` is the
key of the *intended* responder::

    K = HMAC-SHA256(nonce, "netcheck-responder-v1|<host>|<address>|<port>")

``host`` is the destination's name in the topology, ``address`` its address in
canonical form, ``port`` the port the probe targets. Each responder knows only
its own identity, so its answer proves nothing for any other destination: a
DNAT that sends the probe for ``ps-azure:9443`` to ``mt01:9443`` gets a valid
answer *for mt01*, which the coordinator (knowing every identity of its sweep)
can name.

A challenge is 16 fresh random bytes and a 16-byte tag,
``HMAC-SHA256(HMAC-SHA256(nonce, "netcheck-challenge-v1"), random)``, both as
hex (64 digits). A responder answers only challenges whose tag is its own
sweep's. So a responder is no signing oracle: a stranger, who cannot make a
tag, gets no answer at all, and a probe of the same sweep gets an answer
keyed to the responder's own identity, useless for any other destination.
A well-formed challenge of another sweep gets :data:`OTHER_SWEEP_LINE` (no
MAC), so that sweep can say "another netcheck sweep holds this port" instead
of taking our responder for its own or for a real service.

A fresh challenge per attempt means a recorded answer cannot be replayed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import ipaddress
import os
import string
from typing import Iterable, NamedTuple, Optional, Tuple

MAGIC = b"NETCHECK1"
#: Longest line either side reads: the challenge/answer lines are ~75 bytes.
MAX_LINE = 128
#: A responder's reply to a well-formed challenge that is not its sweep's.
OTHER_SWEEP_LINE = MAGIC + b" other-sweep\n"
#: ``Sample.detail`` of an attempt another responder of the sweep answered;
#: the coordinator names that responder: "... (mt01?)".
DETAIL_MISDIRECTED = "answered by a different netcheck responder"
#: ``Sample.detail`` of an attempt a responder of another sweep answered.
DETAIL_OTHER_SWEEP = "another netcheck sweep holds this port"

IDENTITY_LABEL = "netcheck-responder-v1"
_CHALLENGE_LABEL = b"netcheck-challenge-v1"
_RANDOM_BYTES = 16
_TAG_BYTES = 16
_HEX = frozenset(string.hexdigits.lower().encode())

#: What :func:`read_reply` makes of a reply line.
PROVEN = "proven"  # the intended responder's answer
MISDIRECTED = "misdirected"  # a valid-looking answer under another key
OTHER_SWEEP = "other_sweep"  # a responder of another sweep
NOT_NETCHECK = "not_netcheck"  # anything else: eof, garbage, another service

Identity = Tuple[str, str, int]  # (host, address, port)


class Keys(NamedTuple):
    """The keys one destination identity is proven with."""

    challenge: bytes  # tags the sweep's challenges (the same for every responder)
    answer: bytes  # keys this destination's answers (its own)


def _mac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def identity(host: str, address: str, port: int) -> str:
    """The text a responder's key is derived from; the address in canonical form."""
    with contextlib.suppress(ValueError):  # not an address: used as given, on both sides
        address = ipaddress.ip_address(address).compressed
    return f"{IDENTITY_LABEL}|{host}|{address}|{port}"


@functools.lru_cache(maxsize=64)
def challenge_key(nonce_hex: str) -> bytes:
    """The sweep's challenge-tag key."""
    return _mac(bytes.fromhex(nonce_hex), _CHALLENGE_LABEL)


@functools.lru_cache(maxsize=8192)  # cells repeat their destination for every attempt
def keys(nonce_hex: str, host: str, address: str, port: int) -> Keys:
    """The challenge and answer keys of the responder ``host`` ``address``:``port``."""
    answer_key = _mac(bytes.fromhex(nonce_hex), identity(host, address, port).encode("utf-8"))
    return Keys(challenge_key(nonce_hex), answer_key)


def new_challenge(challenge_key: bytes) -> str:
    """A fresh challenge of the sweep: 16 random bytes and their tag, as hex."""
    rand = os.urandom(_RANDOM_BYTES)
    return (rand + _mac(challenge_key, rand)[:_TAG_BYTES]).hex()


def is_sweep_challenge(challenge_key: bytes, chal: str) -> bool:
    """Whether ``chal`` (as :func:`parse_challenge` returned it) carries the sweep's tag."""
    if len(chal) != 2 * (_RANDOM_BYTES + _TAG_BYTES):
        return False
    raw = bytes.fromhex(chal)
    tag = _mac(challenge_key, raw[:_RANDOM_BYTES])[:_TAG_BYTES]
    return hmac.compare_digest(raw[_RANDOM_BYTES:], tag)


def challenge_line(challenge: str) -> bytes:
    return MAGIC + b" " + challenge.encode("ascii") + b"\n"


def answer(key: bytes, challenge: str) -> str:
    """The hex HMAC-SHA256 of ``challenge`` under a responder's answer key."""
    return hmac.new(key, challenge.encode("ascii"), hashlib.sha256).hexdigest()


def answer_line(key: bytes, challenge: str) -> bytes:
    return MAGIC + b" " + answer(key, challenge).encode("ascii") + b"\n"


def _body(line: bytes) -> Optional[bytes]:
    """What follows ``NETCHECK1 `` on a well-formed line, else None."""
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        return None
    body = line[:-1]
    if body.endswith(b"\r"):
        body = body[:-1]
    prefix = MAGIC + b" "
    if not body.startswith(prefix):
        return None
    return body[len(prefix) :]


def _hex_token(line: bytes, min_len: int, max_len: int) -> Optional[str]:
    """The hex token of a well-formed ``NETCHECK1 <hex>\\n`` line, else None."""
    token = _body(line)
    if token is None or not min_len <= len(token) <= max_len or not _HEX.issuperset(token):
        return None
    return token.decode("ascii")


def parse_challenge(line: bytes) -> Optional[str]:
    """The challenge in a responder's input line, or None for anything else.

    Accepts 8 to 64 hex digits (any netcheck peer's challenge, so one of
    another sweep can be told so); :func:`is_sweep_challenge` decides whether
    it earns an answer. Anything else is closed without a word.
    """
    return _hex_token(line, 8, 64)


def answer_token(line: bytes) -> Optional[str]:
    """The 64-digit MAC of a well-formed answer line, else None."""
    return _hex_token(line, 64, 64)


def verify_answer(key: bytes, challenge: str, line: bytes) -> bool:
    """Whether ``line`` is exactly the answer to ``challenge`` under ``key``."""
    token = answer_token(line)
    if token is None:
        return False
    return hmac.compare_digest(token, answer(key, challenge))


def read_reply(key: bytes, challenge: str, line: bytes) -> Tuple[str, Optional[str]]:
    """What a reply line says (:data:`PROVEN`, ...) and, for a misdirected one, its MAC."""
    token = answer_token(line)
    if token is not None:
        if hmac.compare_digest(token, answer(key, challenge)):
            return PROVEN, None
        return MISDIRECTED, token
    if line.rstrip(b"\r\n") == OTHER_SWEEP_LINE[:-1] and line.endswith(b"\n"):
        return OTHER_SWEEP, None
    return NOT_NETCHECK, None


def answered_by(
    nonce_hex: str, candidates: Iterable[Identity], challenge: str, token: str
) -> Optional[Identity]:
    """Which of ``candidates`` (identities of the sweep) produced answer ``token``."""
    for host, address, port in candidates:
        if hmac.compare_digest(
            token, answer(keys(nonce_hex, host, address, port).answer, challenge)
        ):
            return host, address, port
    return None


def describe_reply(line: bytes) -> str:
    """Short, printable description of an unexpected reply for ``detail``."""
    if not line:
        return "eof"
    shown = line[:32].decode("ascii", "backslashreplace")
    printable = "".join(ch if ch.isprintable() else "?" for ch in shown)
    return f"garbage {printable!r}" + ("..." if len(line) > 32 else "")
