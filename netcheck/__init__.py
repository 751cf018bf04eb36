"""netcheck: network and port connectivity tester for Azure Site Recovery failback."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
