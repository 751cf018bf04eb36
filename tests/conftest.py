"""Shared test helpers. Lab and integration tests must run in CI (CI=true): where a
test's prerequisite is missing there, it fails instead of skipping, and a skip from
anywhere else (a skipif marker) fails the run.

Parallel runs (`pytest -n N`, pytest-xdist, as scripts/test does as root): every
worker runs in a network namespace of its own, with only its loopback up, and gets
a lab prefix of its own. So the tests' listeners on fixed loopback addresses and
ports (the demo topology's 127.0.2.x:10443, ...) never meet another worker's, a
namespace lab is never shared, and nothing a worker sends can leave its namespace.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# In CI any skip fails the run: the hooks of tests/ci_skips.py, registered with this
# conftest (the agent's Python 3.9 runs load the same plugin with -p).
from tests.ci_skips import pytest_runtest_logreport, pytest_sessionfinish  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "topologies"


_CLONE_NEWNET = 0x40000000
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _isolate_worker(worker: str) -> str | None:
    """Give xdist worker `worker` (gw0, gw1, ...) its own network namespace and lab
    prefix; why it could not, or None."""
    number = int(worker.removeprefix("gw"))
    if number >= len(_BASE36):
        return f"at most {len(_BASE36)} test workers (-n), one lab prefix each"
    # nct- -> nct0-, nct1-, ...: still 1-5 characters before the '-' with the
    # fault and fan-out tests' 'f' added (nct0f-)
    base = os.environ.get("NETCHECK_LAB_TEST_PREFIX", "nct-").rstrip("-")[:3]
    os.environ["NETCHECK_LAB_TEST_PREFIX"] = f"{base}{_BASE36[number]}-"
    if sys.platform != "linux" or os.geteuid() != 0:
        return (
            "parallel test runs (-n) need root on Linux: each worker runs in a network "
            "namespace of its own; run without -n instead"
        )
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0:
        return f"test worker {worker}: unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}"
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
    return None


# At import, not in pytest_configure: the conftests of the paths given on the command
# line (tests/integration/lab/conftest.py for `pytest tests/integration/lab`) are
# imported before pytest_configure runs, and they read the lab prefix when imported.
# This file is imported before them (a parent directory's conftest comes first).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_WORKER_PROBLEM = None if _WORKER is None else _isolate_worker(_WORKER)


def pytest_configure(config: pytest.Config) -> None:
    if _WORKER_PROBLEM is not None:
        raise pytest.UsageError(_WORKER_PROBLEM)


def run_pytest_in(
    directory: Path,
    *args: str,
    ci: bool = False,
    target: Path | None = None,
    conftest: bool = True,
) -> subprocess.CompletedProcess[str]:
    """A pytest run of its own over `target` (default: `directory`), with this conftest
    in `directory` unless `conftest` is False: not CI unless asked, not a worker of this
    run's own xdist, with the default lab prefix, this checkout's `tests` importable."""
    if conftest:
        shutil.copy(Path(__file__), directory / "conftest.py")
    drop = ("CI", "NETCHECK_LAB_TEST_PREFIX")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}
    if ci:
        env["CI"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    where = str(target or directory)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, where],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=directory,
    )


def require(condition: bool, reason: str) -> None:
    """Skip locally when a prerequisite is missing; fail loudly in CI."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def _sweep_db_outside_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`netcheck sweep` stores every sweep; in tests, never in the user's own database."""
    old = os.environ.get("NETCHECK_DB")
    os.environ["NETCHECK_DB"] = str(tmp_path_factory.mktemp("netcheck-db") / "netcheck.db")
    yield
    if old is None:
        os.environ.pop("NETCHECK_DB", None)
    else:
        os.environ["NETCHECK_DB"] = old


@pytest.fixture
def topologies() -> Path:
    return TOPOLOGIES
