"""The pure core loads no I/O at run time either (import-linter checks the static graph).

A fresh interpreter imports the result model, its codec and every renderer, and none
of the agent client, a transport, the store or a runner may have been loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

PURE = [
    "netcheck.result.model",
    "netcheck.result.findings",
    "netcheck.result.codec",
    "netcheck.report.formats",
    "netcheck.report.html",
    "netcheck.diff",
]
IO = [
    "netcheck.agentclient",
    "netcheck.transports.local",
    "netcheck.transports.ssh",
    "netcheck.store",
    "netcheck.sweep",
    "netcheck.probing",
    "netcheck.bandwidth.run",
    "netcheck.diagnose.run",
    "netcheck.nic.run",
    "netcheck.readiness.live",
    "asyncssh",
]


def test_importing_the_pure_core_loads_no_io_module() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for m in {PURE!r}: importlib.import_module(m)\n"
        f"print(json.dumps([m for m in {IO!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
