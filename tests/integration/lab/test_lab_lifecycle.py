"""A failed `lab up` rolls back; `lab down` finds leftovers by prefix.

Uses a two-namespace lab of its own (prefix ncr-), so it never touches the
session's failback lab.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from netcheck.errors import LabError
from netcheck.lab import Lab, lab_down, lab_up, load_lab_text

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab_required")]

PAIR = """
version: 1
name: pair
prefix: ncr-
namespaces:
  left: {kind: host, sysctls: {SYSCTL: 1}, routes: [{to: default, via: 198.18.250.2}]}
  right: {kind: router}
links:
  - ends: [{ns: left, address: 198.18.250.1/30}, {ns: right, address: 198.18.250.2/30}]
"""


def _pair(sysctl: str) -> Lab:
    return load_lab_text(PAIR.replace("SYSCTL", sysctl), "pair.yaml")


def _netns(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.startswith(prefix)]


def test_failed_up_rolls_back_and_names_the_command(tmp_path: Path) -> None:
    lab = _pair("net.ipv4.conf.all.no_such_knob")
    state_dir = tmp_path / "state"
    lab_down(lab, state_dir)
    with pytest.raises(LabError) as err:
        lab_up(lab, state_dir=state_dir)
    message = str(err.value)
    assert "sysctl" in message and "no_such_knob" in message
    assert _netns("ncr-") == []
    assert not state_dir.exists()


def test_down_removes_strays_by_prefix_and_is_idempotent(tmp_path: Path) -> None:
    lab = _pair("net.ipv4.conf.all.rp_filter")
    state_dir = tmp_path / "state"
    lab_down(lab, state_dir)
    state = lab_up(lab, state_dir=state_dir)
    assert [ns.name for ns in state.namespaces] == ["left", "right"]
    # A namespace a crashed run of another version of the file might have left.
    subprocess.run(["ip", "netns", "add", "ncr-stray"], check=True, timeout=10)
    lab_down(lab, state_dir)
    assert _netns("ncr-") == []
    lab_down(lab, state_dir)
    assert _netns("ncr-") == []


def test_up_refuses_a_lab_that_is_already_up(tmp_path: Path) -> None:
    lab = _pair("net.ipv4.conf.all.rp_filter")
    state_dir = tmp_path / "state"
    lab_down(lab, state_dir)
    lab_up(lab, state_dir=state_dir)
    try:
        with pytest.raises(LabError, match="already"):
            lab_up(lab, state_dir=state_dir)
        assert sorted(_netns("ncr-")) == ["ncr-left", "ncr-right"]  # the refusal destroyed nothing
    finally:
        lab_down(lab, state_dir)
