"""netcheck agent: runs probes and responders on one host for the coordinator.

Standard library only, Python 3.9+, Linux and Windows. The agent opens no
control port: it speaks protocol v1 (JSON lines, see :mod:`.protocol`) over
the one channel it was started with (stdin/stdout over SSH, or an in-memory
queue pair for the coordinator's local transport) and stops when that
channel closes.
"""

from __future__ import annotations

__version__ = "0.1.0"
PROTOCOL_VERSION = 1

__all__ = ["PROTOCOL_VERSION", "__version__"]
