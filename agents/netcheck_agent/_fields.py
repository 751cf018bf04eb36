"""The protocol's error and its single-value checks (used by :mod:`._codec`).

Every check raises :class:`ProtocolError` naming the offending field, so a
coordinator (or a person reading the agent's ``error`` line) can tell exactly
which part of a message was wrong.
"""

from __future__ import annotations

import ipaddress
import math
import string
from typing import Any, Optional

HEX = frozenset(string.hexdigits.lower())


class ProtocolError(ValueError):
    """A protocol line or message that does not follow protocol v1.

    ``field`` is the dotted path of the offending field (``probes[2].port``)
    or ``None`` when the problem is the line as a whole; ``ref`` is the batch
    or responder id of the message when it could be read, so the agent can
    point its ``error`` reply at the right request.
    """

    def __init__(self, reason: str, field: Optional[str] = None, ref: Optional[str] = None):
        self.reason = reason
        self.field = field
        self.ref = ref
        super().__init__(f"{field}: {reason}" if field else reason)

    def within(self, prefix: str) -> ProtocolError:
        """The same error seen from the enclosing object (``probes[2]`` + ``port``)."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return ProtocolError(self.reason, field, self.ref)

    def with_ref(self, ref: Optional[str]) -> ProtocolError:
        """The same error, tagged with the request id it belongs to (if not yet)."""
        if self.ref is not None or ref is None:
            return self
        return ProtocolError(self.reason, self.field, ref)


class UnknownMessageType(ProtocolError):
    """A well-formed line whose ``type`` this side does not know (answered
    with ``unknown_type``, so a newer coordinator can tell the agent is old)."""

    def within(self, prefix: str) -> ProtocolError:
        return self

    def with_ref(self, ref: Optional[str]) -> ProtocolError:
        return (
            self
            if self.ref is not None or ref is None
            else UnknownMessageType(self.reason, self.field, ref)
        )


def describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def want_str(field: str, value: Any, *, empty_ok: bool = False, max_len: int = 4096) -> None:
    if not isinstance(value, str):
        raise ProtocolError(f"must be a string, got {describe(value)}", field)
    if not value and not empty_ok:
        raise ProtocolError("must not be empty", field)
    if len(value) > max_len:
        raise ProtocolError(f"must be at most {max_len} characters, got {len(value)}", field)


def want_int(field: str, value: Any, lo: int, hi: int) -> None:
    # bool is an int subclass in Python, but JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"must be an integer, got {describe(value)}", field)
    if not lo <= value <= hi:
        raise ProtocolError(f"must be in {lo}..{hi}, got {value}", field)


def want_number(field: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(f"must be a number, got {describe(value)}", field)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ProtocolError(f"must be in {lo}..{hi}, got {value}", field)


def want_bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ProtocolError(f"must be true or false, got {describe(value)}", field)


def want_choice(field: str, value: Any, choices: frozenset[str]) -> None:
    want_str(field, value)
    if value not in choices:
        raise ProtocolError(f"must be one of {sorted(choices)}, got {describe(value)}", field)


def want_hex(field: str, value: Any, *, max_len: int = 128) -> None:
    """A non-empty, even-length, lower-case hex string (a nonce is a byte string)."""
    want_str(field, value, max_len=max_len)
    if len(value) % 2 or not HEX.issuperset(value):
        raise ProtocolError("must be an even-length lower-case hex string", field)


def want_ip(field: str, value: Any) -> None:
    """An IPv4 or IPv6 address literal; listeners never resolve names."""
    want_str(field, value, max_len=64)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ProtocolError(f"must be an IP address, got {describe(value)}", field) from None


def want_tuple_of(field: str, value: Any, cls: type) -> None:
    if not isinstance(value, tuple):
        raise ProtocolError(f"must be a tuple of {cls.__name__}", field)
    for i, item in enumerate(value):
        if not isinstance(item, cls):
            raise ProtocolError(f"must be a {cls.__name__}, got {describe(item)}", f"{field}[{i}]")


def nested(field: str, index: int, item: Any, from_dict: Any) -> Any:
    """Decode one element of a list of objects, prefixing errors with its position."""
    where = f"{field}[{index}]"
    if not isinstance(item, dict):
        raise ProtocolError(f"must be an object, got {describe(item)}", where)
    try:
        return from_dict(item)
    except ProtocolError as exc:
        raise exc.within(where) from None
