"""monitoring/netcheck-watch@.service: its ExecStart, with the unit's own defaults (and an
override as the README shows it), is a command line the real `netcheck watch` accepts."""

from __future__ import annotations

import re
import shlex

import pytest

from netcheck.cli import _build_parser
from tests.conftest import ROOT

UNIT = ROOT / "monitoring" / "netcheck-watch@.service"


def _unit() -> tuple[dict[str, str], str]:
    """(Environment= defaults, ExecStart) with continuation lines joined."""
    text = UNIT.read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    exec_start = ""
    for line in text.splitlines():
        if line.startswith("Environment="):
            key, _, value = line.removeprefix("Environment=").partition("=")
            env[key] = value
        elif line.startswith("ExecStart="):
            exec_start = line.removeprefix("ExecStart=")
    assert exec_start
    return env, exec_start


def _argv(exec_start: str, env: dict[str, str], instance: str) -> list[str]:
    """systemd's expansion: %i, ${VAR} as one word, $VAR split on whitespace."""
    line = exec_start.replace("%i", instance)
    line = re.sub(r"\$\{(\w+)\}", lambda m: shlex.quote(env[m.group(1)]), line)
    line = re.sub(r"\$(\w+)", lambda m: env[m.group(1)], line)
    return shlex.split(line)


@pytest.mark.parametrize(
    "override",
    [{}, {"NETCHECK_LISTEN": "127.0.0.1:9470", "NETCHECK_ARGS": "--limit site:onprem --db /x.db"}],
)
def test_exec_start_is_a_watch_command_line_netcheck_accepts(override: dict[str, str]) -> None:
    env, exec_start = _unit()
    assert set(env) == {"NETCHECK_LISTEN", "NETCHECK_INTERVAL", "NETCHECK_ARGS"}
    argv = _argv(exec_start, {**env, **override}, "onprem")
    assert argv[:3] == ["/usr/local/bin/netcheck", "watch", "/etc/netcheck/onprem.yaml"]
    args = _build_parser(argv[1:]).parse_args(argv[1:])
    assert args.interval == 60.0
    assert args.listen == override.get("NETCHECK_LISTEN", "127.0.0.1:9469")
    assert str(args.known_hosts) == "/var/lib/netcheck/.ssh/known_hosts"
    if override:
        assert args.limit == "site:onprem" and str(args.db) == "/x.db"
