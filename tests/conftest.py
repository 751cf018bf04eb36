"""Shared test helpers. Lab and integration tests must run in CI (CI=true): where a
test's prerequisite is missing there, it fails instead of skipping, and a skip from
anywhere else (a skipif marker) fails the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "topologies"


# Every skip of the run, whatever made it (require(), a skipif marker, a fixture):
# in CI (CI=true) any skip fails the run, so no test can stop running unnoticed.
_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") != "true" or not _SKIPPED or exitstatus != 0:
        return
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"CI=true: {len(_SKIPPED)} test(s) skipped, which fails CI:", red=True)
        for nodeid in _SKIPPED:
            reporter.write_line(f"  {nodeid}")


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
