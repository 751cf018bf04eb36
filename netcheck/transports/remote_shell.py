"""The command line the SSH transport runs, quoted for the shell that reads it.

An SSH "exec" request is a string that the login shell of the remote user
parses: `sh -c` on Linux, `cmd.exe /c` on Windows OpenSSH (its default
shell). A word from the topology (`agent.python`) goes into that string, so it
is quoted for that shell, never spliced in:

- POSIX: `shlex.quote` (single quotes; nothing expands inside). A leading `~/`
  stays outside the quotes so the home directory still expands.
- Windows `cmd.exe`: double quotes. cmd has no escape for `"` inside quotes
  and expands `%VAR%` even there, so a word holding `"`, `%` or a control
  character cannot be quoted and is refused. `!` (delayed expansion), `$` and
  the backtick (PowerShell, when an admin made it the default shell) are
  refused too, so a quoted word is inert under every Windows shell.

The topology loader already rejects such values with their file position
(`PYTHON_FORBIDDEN`); this module is the second line for values built in code.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from netcheck.peertext import has_control
from netcheck.topology.model import PYTHON_FORBIDDEN, python_problem

__all__ = [
    "PYTHON_FORBIDDEN",
    "QuotingError",
    "agent_command",
    "python_problem",
    "quote_cmd",
    "quote_posix",
    "remote_platform",
]

_WINDOWS_UNQUOTABLE = frozenset('"%!$`')
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


class QuotingError(ValueError):
    """A word that cannot be quoted safely for the remote shell."""


def remote_platform(os_name: str | None, python: str) -> str:
    """'windows' or 'posix': the topology's `os:`, else guessed from the path's shape."""
    if os_name in ("windows", "linux"):
        return "windows" if os_name == "windows" else "posix"
    return "windows" if "\\" in python or _DRIVE.match(python) else "posix"


def quote_posix(word: str) -> str:
    if has_control(word):
        raise QuotingError(f"{word!r} contains a control character")
    if word.startswith("~/") and len(word) > 2:
        return "~/" + shlex.quote(word[2:])
    return shlex.quote(word)


def quote_cmd(word: str) -> str:
    bad = sorted({c for c in word if c in _WINDOWS_UNQUOTABLE})
    if bad or has_control(word):
        what = " ".join(repr(c) for c in bad) if bad else "a control character"
        raise QuotingError(f"{word!r} contains {what}, which cmd.exe cannot quote")
    return f'"{word}"'


def agent_command(
    python: str, script: str, args: list[str], platform: str, options: Sequence[str] = ()
) -> str:
    """`python options... script args...` as one command string for the remote shell."""
    quote = quote_cmd if platform == "windows" else quote_posix
    return " ".join(quote(w) for w in [python, *options, script, *args])
