"""Shared test helpers. Lab and integration tests must run in CI (CI=true): where a
test's prerequisite is missing there, it fails instead of skipping."""

from __future__ import annotations

import os
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


@pytest.fixture
def topologies() -> Path:
    return TOPOLOGIES
