"""The command registry: one summary per command, and only the chosen one imported."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from netcheck.commands import COMMANDS, chosen_command
from netcheck.commands.common import make_transports
from netcheck.errors import TransportError


def test_the_chosen_command_is_the_first_word_naming_one() -> None:
    assert chosen_command(["sweep", "site.yaml", "-v"]) == "sweep"
    assert chosen_command(["-v", "plan", "x.yaml"]) == "plan"
    assert chosen_command(["--color", "never", "sweep", "x.yaml"]) == "sweep"
    assert chosen_command(["--color=never", "-q", "nic", "x.yaml"]) == "nic"
    assert chosen_command(["--help"]) is None
    assert chosen_command(["site.yaml", "sweep"]) is None  # not a command: argparse says so
    assert chosen_command([]) is None


def test_a_sweep_imports_no_other_command() -> None:
    """`netcheck sweep` pays for the sweep's modules only (start-up is part of its time)."""
    code = "import sys\nfrom netcheck.cli import main\nmain(['sweep', '--help'])\n"
    probe = (
        "import runpy, sys, atexit\n"
        "def show():\n"
        "    mods = sorted(m for m in sys.modules if m.startswith('netcheck.commands.'))\n"
        "    sys.stderr.write('MODULES ' + ' '.join(mods) + '\\n')\n"
        "atexit.register(show)\n" + code
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    loaded = set(line.split()[1:])
    assert "netcheck.commands.sweep" in loaded
    others = {f"netcheck.commands.{c.name}" for c in COMMANDS} - {"netcheck.commands.sweep"}
    assert not loaded & others, loaded & others


def test_the_top_level_help_lists_every_command_with_its_summary() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    flat = " ".join(proc.stdout.split())
    for c in COMMANDS:
        assert f"{c.name} {c.summary}" in flat


def test_local_hosts_never_load_the_ssh_stack() -> None:
    code = (
        "import argparse, sys\n"
        "from netcheck.commands.common import make_transports\n"
        "args = argparse.Namespace(identity=[], known_hosts=None, trust_new_host_keys=False,"
        " ssh_timeout=10.0)\n"
        "transports = make_transports(args)\n"
        "assert transports['local'].name == 'local'\n"
        "print('asyncssh' in sys.modules)\n"
        "assert transports['ssh'].name == 'ssh'\n"
        "print('asyncssh' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]


def test_a_missing_identity_file_is_refused_before_any_host_starts(tmp_path: Path) -> None:
    args = argparse.Namespace(
        identity=[str(tmp_path / "id_missing")],
        known_hosts=None,
        trust_new_host_keys=False,
        ssh_timeout=10.0,
    )
    with pytest.raises(TransportError, match=r"identity file .*id_missing not found"):
        make_transports(args)
