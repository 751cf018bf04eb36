"""A dropped SSH link mid-sweep: nft drops every packet of a host, in its namespace.

A small lab (tests/faults/faults-lab.yaml): the coordinator runs in the admin
workstation's namespace and reaches three hosts over SSH on a LAN of their own.
vm-app01's agent runs behind a wrapper that, once the agent's first result is
on its way, drops every packet in and out of vm-app01's namespace — a pulled
cable, as nft sees it. No FIN, no RST: only the deadline can tell.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.lab import Lab, LabState, lab_down, lab_exec, lab_up, load_lab
from tests.faults.conftest import SAMPLES, TIMEOUT_MS, remaining_budget
from tests.integration.lab.conftest import require_lab

pytestmark = [pytest.mark.faults, pytest.mark.lab]

LAB_FILE = Path(__file__).with_name("faults-lab.yaml")
# A prefix of its own, derived from the lab tests' (NETCHECK_LAB_TEST_PREFIX) but not
# starting with it: taking a lab down removes every namespace with its prefix.
PREFIX = os.environ.get("NETCHECK_LAB_TEST_PREFIX", "nct-").rstrip("-") + "f-"

_DROPPER = """\
#!{python}
# The agent as netcheck starts it, its lines passed through; once its first result
# has gone out, every packet in and out of this namespace is dropped.
import re, subprocess, sys, time
child = subprocess.Popen([{python!r}, *sys.argv[1:]], stdout=subprocess.PIPE)
out = sys.stdout.buffer
dropped = False
for line in child.stdout:
    out.write(line)
    out.flush()
    if not dropped and re.match(rb'{{"type": ?"result"', line):
        dropped = True
        time.sleep(0.5)  # the result crosses the link first
        subprocess.run(["nft", "-f", "-"], input={rules!r}, check=True)
sys.exit(child.wait())
"""

_RULES = b"""\
table inet link_down {
  chain in { type filter hook input priority -10; policy drop; }
  chain out { type filter hook output priority -10; policy drop; }
}
"""


@pytest.fixture(scope="module")
def lab() -> Lab:
    return dataclasses.replace(load_lab(LAB_FILE), prefix=PREFIX)


@pytest.fixture(scope="module")
def lab_state(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabState]:
    require_lab()
    state_dir = tmp_path_factory.mktemp("faults-lab")
    lab_down(lab, state_dir)  # leftovers of a run that was killed
    try:
        yield lab_up(lab, state_dir=state_dir)
    finally:
        lab_down(lab, state_dir)  # also ends the agent left behind the dropped link


def _topology(dropper: Path) -> str:
    return textwrap.dedent(
        f"""\
        version: 1
        name: faults-lab
        ports: {{remap: {{443: 10443}}}}
        sweep: {{samples: {SAMPLES}, interval_ms: 200, timeout_ms: {TIMEOUT_MS}}}
        defaults:
          agent: {{transport: ssh, user: root, python: {sys.executable}}}
        sites:
          onprem: {{networks: {{lan: 198.18.252.0/25}}}}
          azure: {{networks: {{vnet: 198.18.252.128/25}}}}
        hosts:
          cs01: {{site: onprem, roles: [config_server], address: 198.18.252.10}}
          mt01: {{site: onprem, roles: [master_target], address: 198.18.252.20}}
          # nothing has this address: each attempt runs out its timeout
          ps-azure: {{site: azure, roles: [process_server], address: 198.18.252.200, agent: none}}
          vm-app01:
            site: azure
            roles: [protected_vm]
            address: 198.18.252.130
            agent: {{transport: ssh, user: root, python: {dropper}}}
        """
    )


def test_a_dropped_ssh_link_is_agent_lost_at_its_deadline(
    lab: Lab, lab_state: LabState, tmp_path: Path
) -> None:
    dropper = tmp_path / "agent-dropper"
    dropper.write_text(_DROPPER.format(python=sys.executable, rules=_RULES))
    dropper.chmod(0o755)
    site = tmp_path / "site.yaml"
    site.write_text(_topology(dropper))
    argv = [
        *(sys.executable, "-m", "netcheck", "sweep", str(site), "--format", "json"),
        *("--known-hosts", str(lab_state.known_hosts), "-i", str(lab_state.client_key)),
        *("--no-progress", "--no-diagnose", "--no-store"),
    ]
    t0 = time.monotonic()
    proc = lab_exec(lab, "adm", argv, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["verdict"] == "no-go"
    cells = {(c["source_host"], c["dest_host"]): c for c in report["cells"]}
    agents = {a["host"]: a for a in report["agents"]}
    # the healthy host: measured
    mt01 = [c for (src, _), c in cells.items() if src == "mt01"]
    assert mt01 and all(c["status"] == "measured" for c in mt01)
    assert agents["mt01"]["available"] and not agents["mt01"]["lost"]
    # vm-app01: the cell done before the drop is kept, the one in flight is agent lost
    done, cut = cells[("vm-app01", "cs01")], cells[("vm-app01", "ps-azure")]
    assert done["status"] == "measured" and done["passed"], done
    assert cut["status"] == "agent_lost", cut
    assert cut["reason"].startswith("agent lost on vm-app01: sent nothing for "), cut["reason"]
    assert "its link is down" in cut["reason"]
    assert agents["vm-app01"]["lost"]
    # within the deadline of the one cell left, plus start and teardown (10 s for a
    # connection that can no longer close cleanly)
    assert took < remaining_budget(1) + 30, took
