"""Parallel test runs (scripts/test: pytest -n, as root): each worker in a network
namespace of its own, with a lab prefix of its own (tests/conftest.py).

Proved with a real parallel run: two tests in two files, on two workers, listen on
the same loopback address and port at the same time (the demo topology's kind of
fixed address), each reports its network namespace and lab prefix, and neither may
be the namespace of the run that started them. The prefix is the one a conftest of
the directory named on the command line read when it was imported, as the lab's
conftest does (such a conftest is imported before pytest_configure runs).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import require, run_pytest_in

HOLDER = """\
import os, socket, time
from pathlib import Path

def test_hold_the_port(prefix_at_import):
    s = socket.socket()
    s.bind(("127.0.2.10", 10443))
    s.listen()
    Path("NAME.out").write_text(
        os.readlink("/proc/thread-self/ns/net") + " " + prefix_at_import
    )
    # both hold the port at once: wait (bounded) until the other one has reported
    deadline = time.monotonic() + 30
    while len(list(Path(".").glob("*.out"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    s.close()
    assert len(list(Path(".").glob("*.out"))) == 2
"""

# like tests/integration/lab/conftest.py: the lab prefix read once, at import
LAB_CONFTEST = """\
import os
import pytest

PREFIX = os.environ.get("NETCHECK_LAB_TEST_PREFIX", "nct-")

@pytest.fixture
def prefix_at_import():
    return PREFIX
"""


def test_two_workers_hold_one_loopback_port_in_namespaces_of_their_own(tmp_path: Path) -> None:
    require(os.geteuid() == 0, "parallel workers need root (a network namespace each)")
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "conftest.py").write_text(LAB_CONFTEST)
    for name in ("a", "b"):
        (lab / f"test_{name}.py").write_text(HOLDER.replace("NAME", name))
    proc = run_pytest_in(tmp_path, "-n", "2", "--dist", "loadfile", target=lab)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = {name: (tmp_path / f"{name}.out").read_text().split() for name in ("a", "b")}
    mine = os.readlink("/proc/thread-self/ns/net")
    namespaces = {ns for ns, _ in seen.values()}
    prefixes = {prefix for _, prefix in seen.values()}
    assert len(namespaces) == 2 and mine not in namespaces, (seen, mine)
    assert prefixes == {"nct0-", "nct1-"}, seen
