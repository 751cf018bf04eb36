"""Ansible-style host patterns: which hosts a `--limit` (or an `init --role`) selects.

    cs01                      a host name
    vm-app*                   a glob on host names (fnmatch: *, ?, [..])
    ~vm-app0[12]$             a regular expression on host names (re.search)
    role:process_server       hosts with that role (globs allowed: role:*_server)
    site:azure                hosts of that site
    group:erp                 hosts in that group (the topology's `groups:`; for
                              `netcheck init`, the Ansible groups)
    all, *                    every host
    a,b  or  a:b              union, as Ansible writes it
    &x                        intersection: and also matches x
    !x                        exclusion: but not x

As in Ansible, the order of the terms does not matter: the union of the plain
terms is taken first (every host when there is none), then each `&` term narrows
it, then each `!` term removes from it. Terms are separated by commas, or by
colons when the pattern has no comma (`role:` and the other keys keep their colon).

Pure: a pattern is parsed once into a frozen value and matched against anything
that has a name and keyed attributes (`Subject`).
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from netcheck.errors import UsageError, did_you_mean

__all__ = ["KEYS", "HostPattern", "Subject", "Term", "TermOp", "parse_pattern"]

KEYS = ("role", "site", "group", "name")


class Subject(Protocol):
    """What a pattern is matched against: a host name and its keyed attributes."""

    @property
    def name(self) -> str: ...

    def values(self, key: str) -> Iterable[str]:
        """The host's values for `key` (role, site, group): empty when it has none."""
        ...


class TermOp(enum.Enum):
    UNION = ""
    INTERSECT = "&"
    EXCLUDE = "!"


@dataclass(frozen=True, slots=True)
class Term:
    op: TermOp
    key: str | None  # None: the host name
    glob: str  # for a regex term, the expression
    regex: bool = False

    def matches(self, subject: Subject) -> bool:
        if self.key is None or self.key == "name":
            if self.regex:
                return re.search(self.glob, subject.name) is not None
            return self.glob in ("all", "*") or fnmatch.fnmatchcase(subject.name, self.glob)
        return any(fnmatch.fnmatchcase(v, self.glob) for v in subject.values(self.key))

    def __str__(self) -> str:
        body = f"~{self.glob}" if self.regex else self.glob
        return f"{self.op.value}{self.key + ':' if self.key else ''}{body}"


@dataclass(frozen=True, slots=True)
class HostPattern:
    text: str
    terms: tuple[Term, ...]

    def matches(self, subject: Subject) -> bool:
        unions = [t for t in self.terms if t.op is TermOp.UNION]
        if unions and not any(t.matches(subject) for t in unions):
            return False
        for t in self.terms:
            if t.op is TermOp.INTERSECT and not t.matches(subject):
                return False
            if t.op is TermOp.EXCLUDE and t.matches(subject):
                return False
        return True

    def select(self, subjects: Iterable[Subject]) -> list[str]:
        """The names of the matching subjects, in their order."""
        return [s.name for s in subjects if self.matches(s)]

    def __str__(self) -> str:
        return self.text


def _split(text: str, keys: Sequence[str]) -> list[str]:
    if "," in text:
        return [p.strip() for p in text.split(",")]
    pieces = text.split(":")
    out: list[str] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i].strip()
        bare = piece.lstrip("!&")
        if bare in keys and i + 1 < len(pieces):  # `role:x` is one term, not two
            out.append(f"{piece}:{pieces[i + 1].strip()}")
            i += 2
        else:
            out.append(piece)
            i += 1
    return out


def _term(part: str, text: str, keys: Sequence[str]) -> Term:
    op = TermOp.UNION
    if part[:1] in ("!", "&"):
        op = TermOp(part[0])
        part = part[1:].strip()
    key: str | None = None
    head, sep, rest = part.partition(":")
    if sep:
        if head not in keys:
            raise UsageError(
                f"host pattern {text!r}: unknown key {head!r}{did_you_mean(head, keys)} in {part!r}; "
                f"expected one of {', '.join(f'{k}:' for k in keys)} or a host name"
            )
        key, part = head, rest.strip()
    if not part:
        raise UsageError(f"host pattern {text!r}: an empty term; expected e.g. cs01, role:x")
    if part.startswith("~"):
        try:
            re.compile(part[1:])
        except re.error as exc:
            raise UsageError(
                f"host pattern {text!r}: bad regular expression {part!r}: {exc}"
            ) from None
        if key not in (None, "name"):
            raise UsageError(f"host pattern {text!r}: a ~regex matches host names only")
        return Term(op, key, part[1:], regex=True)
    return Term(op, key, part)


def parse_pattern(text: str, keys: Sequence[str] = KEYS) -> HostPattern:
    """Parse `text`; a UsageError says what is wrong with it.

    `keys` are the prefixes this use accepts (default: role, site, group, name).
    """
    if not text.strip():
        raise UsageError("an empty host pattern; expected e.g. 'role:process_server,!vm-app02'")
    terms = tuple(_term(p, text, keys) for p in _split(text.strip(), keys))
    return HostPattern(text=text.strip(), terms=terms)
