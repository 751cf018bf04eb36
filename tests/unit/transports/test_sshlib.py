"""The SSH transport imports quietly: no warning reaches the user's terminal."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_ssh_transport_prints_nothing() -> None:
    # A fresh interpreter with the default warning filters, as `netcheck sweep` runs:
    # cryptography >= 43 warns about DSA when asyncssh is imported (netcheck never uses DSA).
    proc = subprocess.run(
        [sys.executable, "-c", "import netcheck.transports.ssh, netcheck.transports.ssh_upload"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_other_warnings_still_show_after_the_import() -> None:
    code = (
        "import warnings, netcheck.transports.ssh\n"
        "warnings.warn('DSA is deprecated (a later warning of the same text)', UserWarning)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "a later warning of the same text" in proc.stderr
