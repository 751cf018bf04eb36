"""Helpers shared by the CLI tests."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def wait_for_stored_results(db: Path, at_least: int, within_s: float = 40.0) -> int:
    """Poll the sweep's store until ``at_least`` cell results are committed.

    The interrupt tests wait on this condition instead of a fixed sleep: on a loaded
    machine a fixed sleep fires before any cell has finished.  Returns the count seen
    (the caller asserts on it).
    """
    deadline = time.monotonic() + within_s
    seen = 0
    while time.monotonic() < deadline and seen < at_least:
        time.sleep(0.25)
        if not db.exists():
            continue
        try:
            with sqlite3.connect(db, timeout=1) as conn:
                seen = conn.execute("SELECT count(*) FROM results").fetchone()[0]
        except sqlite3.OperationalError:
            seen = 0  # the schema is not created yet
    return seen
