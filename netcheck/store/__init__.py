"""The sweep store: every sweep in an SQLite file, written while it runs, read back for reports.

Default location: `$NETCHECK_DB`, else `$XDG_DATA_HOME/netcheck/netcheck.db`
(`~/.local/share/netcheck/netcheck.db`); commands take `--db PATH`.
"""

from __future__ import annotations

from netcheck.store.reader import (
    SweepSummary,
    list_sweeps,
    load_sweep,
    open_store,
    resolve_sweep_id,
)
from netcheck.store.schema import SCHEMA_VERSION, connect, default_db_path
from netcheck.store.writer import StoreObserver, topology_digest

__all__ = [
    "SCHEMA_VERSION",
    "StoreObserver",
    "SweepSummary",
    "connect",
    "default_db_path",
    "list_sweeps",
    "load_sweep",
    "open_store",
    "resolve_sweep_id",
    "topology_digest",
]
