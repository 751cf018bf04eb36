"""In CI (CI=true) a skipped test fails the run, whatever skipped it.

A pytest plugin: tests/conftest.py takes its hooks, and scripts/test-agent-py39 loads
it with `-p tests.ci_skips` (its runs cut the conftests above the agent's tests). So
a skipif marker, a fixture's skip or a prerequisite check cannot make a lab or
integration test stop running unnoticed in CI; outside CI a skip stays a skip.
Python 3.9 compatible (the agent's test runs).
"""

from __future__ import annotations

import os
from typing import List

import pytest

_SKIPPED: List[str] = []


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
