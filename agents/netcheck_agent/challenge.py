"""The nonce challenge that proves a probe reached our responder end to end. Pure.

A TCP handshake alone proves little: a SYN proxy, a transparent proxy or a
load balancer completes it for ports nobody serves. So when the coordinator
hands out a per-sweep nonce, the probe sends ``NETCHECK1 <challenge>\\n`` (a
fresh random challenge per attempt) and only accepts
``NETCHECK1 <hex HMAC-SHA256(key=nonce, msg=challenge)>\\n``. A middlebox
cannot produce that without the nonce, and a fresh challenge per attempt means
a recorded answer cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import string
from typing import Optional

MAGIC = b"NETCHECK1"
#: Longest line either side reads: the challenge/answer lines are ~75 bytes.
MAX_LINE = 128
_HEX = frozenset(string.hexdigits.lower().encode())


def new_challenge() -> str:
    """A fresh challenge: 16 random bytes as lower-case hex."""
    return os.urandom(16).hex()


def challenge_line(challenge: str) -> bytes:
    return MAGIC + b" " + challenge.encode("ascii") + b"\n"


def answer(nonce_hex: str, challenge: str) -> str:
    """The hex HMAC-SHA256 of ``challenge`` keyed with the nonce's bytes."""
    key = bytes.fromhex(nonce_hex)
    return hmac.new(key, challenge.encode("ascii"), hashlib.sha256).hexdigest()


def answer_line(nonce_hex: str, challenge: str) -> bytes:
    return MAGIC + b" " + answer(nonce_hex, challenge).encode("ascii") + b"\n"


def _hex_token(line: bytes, min_len: int, max_len: int) -> Optional[str]:
    """The hex token of a well-formed ``NETCHECK1 <hex>\\n`` line, else None."""
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        return None
    body = line[:-1]
    if body.endswith(b"\r"):
        body = body[:-1]
    prefix = MAGIC + b" "
    if not body.startswith(prefix):
        return None
    token = body[len(prefix) :]
    if not min_len <= len(token) <= max_len or not _HEX.issuperset(token):
        return None
    return token.decode("ascii")


def parse_challenge(line: bytes) -> Optional[str]:
    """The challenge in a responder's input line, or None for anything else.

    Accepts 8 to 64 hex digits so a peer with a different challenge size
    still works; anything else is closed without an answer.
    """
    return _hex_token(line, 8, 64)


def verify_answer(nonce_hex: str, challenge: str, line: bytes) -> bool:
    """Whether ``line`` is exactly the answer to ``challenge`` under the nonce."""
    token = _hex_token(line, 64, 64)
    if token is None:
        return False
    return hmac.compare_digest(token, answer(nonce_hex, challenge))


def describe_reply(line: bytes) -> str:
    """Short, printable description of an unexpected reply for ``detail``."""
    if not line:
        return "eof"
    shown = line[:32].decode("ascii", "backslashreplace")
    printable = "".join(ch if ch.isprintable() else "?" for ch in shown)
    return f"garbage {printable!r}" + ("..." if len(line) > 32 else "")
