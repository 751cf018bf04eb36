"""Terminal text helpers: the width a report must fit and colour. Pure.

A line is measured by what the terminal shows, so an ANSI colour code costs nothing.
A word is never broken: a URL longer than the terminal stays whole (a terminal makes
it a link only when it is one piece).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

__all__ = ["Detail", "Paint", "fit", "visible_len"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Detail(enum.IntEnum):
    """How much a terminal report says: -q, the default, -v / --details."""

    QUIET = 0  # the verdict line and the failing items
    NORMAL = 1  # + the matrix and one line per section
    FULL = 2  # + every section in full


def visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


class Paint:
    """ANSI colour for the words that matter (verdicts, failing cells), or none."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _sgr(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and text else text

    def good(self, text: str) -> str:
        return self._sgr("32", text)

    def bad(self, text: str) -> str:
        return self._sgr("1;31", text)

    def warn(self, text: str) -> str:
        return self._sgr("33", text)

    def dim(self, text: str) -> str:
        return self._sgr("2", text)

    def verdict(self, go: bool, text: str) -> str:
        return self._sgr("1;32" if go else "1;31", text)


def _wrap(line: str, width: int) -> list[str]:
    if visible_len(line) <= width:
        return [line]
    body = line.lstrip(" ")
    indent = len(line) - len(body)
    # continuation lines align under the text after a "label: " of the first line
    m = re.match(r"(\s*(?:\d+\.\s+|- )?(?:[a-z][a-zA-Z /-]{0,12}:\s+)?)", line)
    hang = visible_len(m.group(1)) if m else indent
    if hang > width // 2:
        hang = indent + 2
    out: list[str] = []
    current = " " * indent
    start = len(current)
    for word in body.split(" "):
        too_long = visible_len(current) + 1 + visible_len(word) > width
        # a word that fits no line (a URL) stays beside its label rather than alone
        label_only = not out and re.fullmatch(r"\s*(?:\d+\.\s+)?\S+:\s*", current) is not None
        if too_long and visible_len(current) > start and not label_only:
            out.append(current.rstrip())
            current = " " * hang
            start = hang
        current += ("" if visible_len(current) == start else " ") + word
    out.append(current.rstrip())
    return out


def fit(lines: Iterable[str], width: int) -> list[str]:
    """Each line wrapped at spaces to `width` columns (a single longer word stays whole);
    continuation lines start under the text after the line's label.
    A multi-line string is a table: its rows are kept whole."""
    out: list[str] = []
    for text in lines:
        if "\n" in text:  # a section's table, handed over as one string: a wrapped row is
            out += text.split("\n")  # no row, so its rows stay whole (only with -v)
        else:
            out += _wrap(text, width)
    return out
