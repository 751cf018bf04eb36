"""Shared test helpers. Lab and integration tests must run in CI (CI=true): where a
test's prerequisite is missing there, it fails instead of skipping."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "topologies"


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
