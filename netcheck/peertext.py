"""Text that came from another host, made safe to show on a terminal.

A remote host controls what its agent and its shell say: an agent `error`
message, the stderr of a failed start, a banner or certificate field in a probe
result. Printed raw, an ESC sequence in any of them can clear the screen and
draw a fake "GO" line. Every such text is escaped once, where it enters the
coordinator (`sanitize_message` on each decoded agent message, `escape_control`
on a transport's stderr), so no renderer has to remember it.

Escaped: C0 and C1 control characters (newline and tab included: a remote
text is one line of a report), DEL, and the Unicode line/paragraph separators
and bidirectional overrides that can reorder what a reader sees. Each becomes
a visible `\\xNN` / `\\uNNNN` escape; everything else is kept as sent.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, TypeVar

from netcheck_agent import protocol as p

__all__ = [
    "decode_peer_line",
    "escape_control",
    "has_control",
    "sanitize_message",
    "sanitize_peer_message",
]

_T = TypeVar("_T")

# bidi embeddings/overrides/isolates and the line/paragraph separators
_FORMAT_CONTROLS = frozenset(
    [0x2028, 0x2029, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def _is_control(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or 0x7F <= o <= 0x9F or o in _FORMAT_CONTROLS


def has_control(text: str) -> bool:
    """True when `text` holds a character `escape_control` would rewrite."""
    return any(_is_control(ch) for ch in text)


def _escape(ch: str) -> str:
    o = ord(ch)
    return f"\\x{o:02x}" if o <= 0xFF else f"\\u{o:04x}"


def escape_control(text: str) -> str:
    """`text` with every control character shown as a visible escape."""
    if not has_control(text):
        return text
    return "".join(_escape(ch) if _is_control(ch) else ch for ch in text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return escape_control(value)
    if isinstance(value, tuple):
        items = tuple(_clean(v) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, list):
        out = [_clean(v) for v in value]
        return value if all(a is b for a, b in zip(out, value, strict=True)) else out
    if isinstance(value, dict):
        pairs = [(_clean(k), _clean(v), k, v) for k, v in value.items()]
        if all(k2 is k and v2 is v for k2, v2, k, v in pairs):
            return value
        return {k2: v2 for k2, v2, _, _ in pairs}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            new = _clean(old)
            if new is not old:
                changes[f.name] = new
        if not changes:
            return value
        try:
            return dataclasses.replace(value, **changes)
        except p.ProtocolError:
            # an escape made a text longer than its field allows (each control
            # character becomes four): keep the message, with the longer text
            clone = copy.copy(value)
            for name, new_value in changes.items():
                object.__setattr__(clone, name, new_value)
            return clone
    return value


def sanitize_message(msg: _T) -> _T:
    """A decoded peer message with every string in it escaped (the same object when
    nothing needed escaping, which is nearly always)."""
    cleaned: _T = _clean(msg)
    return cleaned


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable()  # printable ASCII: nothing to escape


def sanitize_peer_message(msg: p.Message) -> p.Message:
    """An in-process agent's message, escaped as `decode_peer_line` escapes a line.

    The hot one, a plain TCP result (no application facts, details of printable
    ASCII), is checked without the walk.
    """
    if isinstance(msg, p.Result) and all(x.facts is None and _plain(x.detail) for x in msg.samples):
        return msg
    return sanitize_message(msg)


def decode_peer_line(line: bytes) -> p.Message:
    """Decode one line an agent sent (raises `p.ProtocolError`), its text escaped.

    A line of plain ASCII without a backslash or DEL can carry no control
    character (JSON escapes them as \\uXXXX), so the walk is skipped for it.
    """
    msg = p.decode(line)
    if line.isascii() and b"\\" not in line and b"\x7f" not in line:
        return msg
    return sanitize_message(msg)
