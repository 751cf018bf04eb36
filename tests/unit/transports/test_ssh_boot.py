"""The coordinator's side of the one-exec agent start (netcheck.transports.ssh_boot):
the dialogue with the bootstrap, over scripted lines. The bootstrap itself runs against
a real sshd in tests/integration/ssh/test_ssh_trust.py."""

from __future__ import annotations

import ast
import asyncio
import subprocess
from pathlib import Path

import pytest

from netcheck.errors import TransportError
from netcheck.transports.ssh_boot import BOOT_SOURCE, BootOutcome, boot, boot_command


def _talk(lines: list[bytes]) -> tuple[BootOutcome | None, list[bytes]]:
    sent: list[bytes] = []
    feed = iter(lines)

    async def next_line() -> bytes | None:
        return next(feed, None)

    async def send(data: bytes) -> None:
        sent.append(data)

    def zipapp() -> bytes:  # read only when the host asks for the agent
        sent.append(b"<read>")
        return b"ZIP"

    return asyncio.run(boot("cs01", ".netcheck", next_line, send, zipapp, "a.pyz")), sent


def test_a_verified_agent_runs_without_a_transfer() -> None:
    assert _talk([b"NETCHECK-BOOT run\n"]) == (BootOutcome(False, ""), [])


def test_a_missing_or_foreign_agent_is_sent_once_then_runs() -> None:
    outcome, sent = _talk([b"NETCHECK-BOOT send differs\n", b"NETCHECK-BOOT run\n"])
    assert outcome == BootOutcome(True, "differs") and sent == [b"<read>", b"ZIP"]


def test_lines_of_a_chatty_login_are_skipped() -> None:
    outcome, _ = _talk([b"Welcome!\n", b"\x1b[1mmotd\x1b[0m\n", b"NETCHECK-BOOT run\n"])
    assert outcome == BootOutcome(False, "")


def test_silence_is_left_to_the_caller_to_explain_from_stderr() -> None:
    assert _talk([]) == (None, [])


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"NETCHECK-BOOT refuse dir-writable\n", r"~/\.netcheck on the host is writable by other"),
        (b"NETCHECK-BOOT refuse transfer-corrupt\n", "arrived corrupted"),
        (b"NETCHECK-BOOT refuse \x1b[31mx\n", r"refused the agent: \\x1b\[31mx"),
        (b"NETCHECK-BOOT dance\n", "unexpected bootstrap answer 'dance'"),
    ],
)
def test_refusals_are_the_hosts_reason(line: bytes, says: str) -> None:
    with pytest.raises(TransportError, match=says):
        _talk([line])


def test_the_command_is_one_shell_word_per_argument_whatever_the_path() -> None:
    cmd = boot_command("/opt/py thon/bin/python3", ("-I",), ".netcheck", "a.pyz", "ab" * 32, 7, [])
    assert cmd.startswith("'/opt/py thon/bin/python3' -I -c 'import base64;exec(")
    assert cmd.endswith(f" .netcheck a.pyz {'ab' * 32} 7")
    assert "\n" not in cmd


PY36 = Path.home() / ".pyenv/versions/3.6.15/bin/python3.6"  # as the SSH tests use 2.7


def test_the_bootstrap_compiles_on_the_oldest_python_it_must_explain_itself_on() -> None:
    # 3.6 must get through the bootstrap to the agent's own version check
    ast.parse(BOOT_SOURCE, feature_version=(3, 6))
    proc = subprocess.run(
        [str(PY36), "-I", "-c", f"compile({BOOT_SOURCE!r}, 'boot', 'exec')"],
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
