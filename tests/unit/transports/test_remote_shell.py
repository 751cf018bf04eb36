"""The agent command line is quoted for the remote shell: hostile `agent.python`
values stay one inert word under POSIX sh and cmd.exe (and are refused where
cmd.exe cannot quote them)."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from netcheck.errors import TransportError
from netcheck.topology.model import AgentSpec, Host, Nic, Role, Transport, python_problem
from netcheck.transports.remote_shell import (
    QuotingError,
    agent_command,
    quote_cmd,
    quote_posix,
    remote_platform,
)
from netcheck.transports.ssh import SshOptions, SshTransport

HOSTILE_POSIX = [
    "python3 $(id >&2)",
    "python3`id`",
    "python3; id",
    "python3 && id",
    "python3 | id",
    "python3'; id; '",
    'python3"; id; "',
    "python3\nid",
    "$HOME/bin/python3",
    "~/$(id)/python3",
]


@pytest.mark.parametrize("python", HOSTILE_POSIX)
def test_posix_quoting_keeps_a_hostile_value_one_literal_word(python: str) -> None:
    if "\n" in python:
        with pytest.raises(QuotingError):
            quote_posix(python)
        return
    cmd = agent_command(python, ".netcheck/a.pyz", ["--max-seconds", "60"], "posix")
    words = shlex.split(cmd)
    assert words[1:] == [".netcheck/a.pyz", "--max-seconds", "60"]
    expected = python[2:] if python.startswith("~/") else python
    assert words[0].endswith(expected)
    # the real shell agrees: printf shows the words sh made, and runs nothing else
    shown = subprocess.run(
        ["sh", "-c", f"printf '%s\\n' {quote_posix(python)}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stderr == ""
    assert shown.stdout.rstrip("\n").endswith(expected)


def test_tilde_still_expands_on_posix() -> None:
    out = subprocess.run(
        ["sh", "-c", f"printf '%s' {quote_posix('~/venv/bin/python3')}"],
        capture_output=True,
        text=True,
        check=True,
        env={"HOME": "/home/x", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout == "/home/x/venv/bin/python3"


def test_windows_paths_are_double_quoted() -> None:
    path = r"C:\Program Files (x86)\Python39\python.exe"
    cmd = agent_command(path, ".netcheck/a.pyz", ["--max-seconds", "60"], "windows")
    assert cmd == f'"{path}" ".netcheck/a.pyz" "--max-seconds" "60"'


@pytest.mark.parametrize(
    "python",
    [
        r'C:\Py" & whoami & "\python.exe',  # a quote ends cmd's quoting
        r"C:\%USERPROFILE%\python.exe",  # cmd expands %VAR% even inside quotes
        r"C:\Py!x!\python.exe",  # delayed expansion
        r"C:\Py$(whoami)\python.exe",  # PowerShell as the default shell
        "C:\\Py`whoami`\\python.exe",
        "C:\\Py\r\nwhoami\\python.exe",
    ],
)
def test_cmd_quoting_refuses_what_cmd_cannot_quote(python: str) -> None:
    with pytest.raises(QuotingError):
        quote_cmd(python)


def test_platform_comes_from_os_else_from_the_path_shape() -> None:
    assert remote_platform("windows", "python3") == "windows"
    assert remote_platform("linux", r"C:\x\python.exe") == "posix"
    assert remote_platform(None, r"C:\Python311\python.exe") == "windows"
    assert remote_platform(None, "C:/Python311/python.exe") == "windows"
    assert remote_platform(None, "/usr/bin/python3") == "posix"


@pytest.mark.parametrize(
    "python",
    ["python3 $(id >&2)", 'C:\\Py"\\python.exe', "python3;id", "-c", " python3", "py\x1b[2J"],
)
def test_python_problem_names_hostile_values(python: str) -> None:
    assert python_problem(python) is not None


@pytest.mark.parametrize(
    "python",
    ["python3", "/usr/bin/python3.11", r"C:\Program Files (x86)\Python39\python.exe", "py"],
)
def test_python_problem_accepts_paths(python: str) -> None:
    assert python_problem(python) is None


def _host(python: str, os_name: str | None) -> Host:
    nic = Nic("nic0", __import__("ipaddress").ip_address("127.0.0.1"))
    return Host(
        "h", "s", (Role.VCENTER,), (nic,), AgentSpec(Transport.SSH, python=python), os=os_name
    )


def test_the_transport_refuses_an_unquotable_windows_value_as_the_hosts_reason() -> None:
    t = SshTransport(SshOptions())
    with pytest.raises(TransportError) as ei:
        t._command(_host(r'C:\Py" & whoami & "\python.exe', "windows"), ".netcheck/a.pyz")
    assert ei.value.host == "h" and "cmd.exe cannot quote" in ei.value.reason
    assert t._command(_host("python3 $(id)", "linux"), ".netcheck/a.pyz").startswith(
        "'python3 $(id)' "
    )


def test_the_agent_runs_isolated_and_an_interpreter_without_minus_i_is_too_old() -> None:
    from netcheck.transports.ssh import AGENT_PYTHON_OPTIONS, _explain_start_failure

    assert AGENT_PYTHON_OPTIONS == ("-I",)
    cmd = agent_command("python3", ".netcheck/a.pyz", ["--max-seconds", "60"], "posix", ("-I",))
    assert shlex.split(cmd) == ["python3", "-I", ".netcheck/a.pyz", "--max-seconds", "60"]
    # what Python 2.7 says to `python -I`
    said = "Unknown option: -I\nusage: python [option] ... [-c cmd | -m mod | file | -] [arg] ...\n"
    said += "Try `python -h' for more information.\n"
    assert _explain_start_failure(said) == (
        "the agent could not start: the host's Python is too old, 3.9 or newer needed "
        "(Unknown option: -I)"
    )
