"""One exception family for everything netcheck reports to a user.

Every message is written for the person running the tool: it names the file,
line and field, or the host, and says what was expected or what to do. The
CLI maps the families to exit codes; anything that escapes outside this family
is a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class NetcheckError(Exception):
    """Root of every error netcheck raises on purpose."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a user's file a problem sits (1-based line and column)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


class ConfigError(NetcheckError):
    """A topology, lab or catalog file that is missing, malformed or invalid."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.location = location
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(str(self.location))
        if self.field:
            parts.append(self.field)
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class ConfigErrors(ConfigError):
    """Several validation problems found in one pass, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(e) for e in errors))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class ErrorCollector:
    """Runs independent validations and gathers their ConfigErrors, so a user fixes a
    file in one round instead of one error per run."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def run(self, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except ConfigErrors as many:
            self.errors.extend(many.errors)
        except ConfigError as exc:
            self.errors.append(exc)
        return None

    def add(self, exc: ConfigError) -> None:
        self.errors.append(exc)

    def raise_if_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ConfigErrors(self.errors)


class TransportError(NetcheckError):
    """An agent could not be started or reached on a host."""

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = reason
        super().__init__(f"{host}: {reason}")


class AgentLost(TransportError):
    """An agent that was running stopped answering or exited mid-sweep."""


class ProtocolError(NetcheckError):
    """A message on the agent channel that is not valid protocol."""


class UsageError(NetcheckError):
    """A command-line argument that does not make sense."""


class OutputError(NetcheckError):
    """A report or database could not be written."""


class LabError(NetcheckError):
    """The namespace lab could not be built or torn down."""


class StoreError(NetcheckError):
    """The sweep database can't be opened, read or written (corrupt, newer schema, unknown id)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'address'?)`` for a near miss among `choices`, else ``""``."""
    import difflib  # only on the error path

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key(key: str, allowed: Iterable[str]) -> str:
    """The message for a mapping key nobody reads: the near miss first, then every key."""
    keys = sorted(allowed)
    return f"unknown key {key!r}{did_you_mean(key, keys)}; expected one of: {', '.join(keys)}"
