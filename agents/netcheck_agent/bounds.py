"""The ranges of the settings a user gives, declared once.

The topology's ``sweep:`` section, the command-line flags and the protocol's
messages all enforce these: the coordinator's YAML loader, its settings model
and its argument parser read this module, and the protocol's fields take their
bounds (and wording) from it. A value one accepts, the others accept too: no
setting passes ``plan`` and then fails on the wire. Standard library only (the
agent imports it).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Dict, Generic, Optional, TypeVar, Union

from ._codec import between

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Bound(Generic[N]):
    """A setting's inclusive range; integer bounds refuse fractions."""

    name: str  # as the topology spells it (the flag is --name-with-dashes)
    lo: N
    hi: N

    @property
    def integer(self) -> bool:
        return isinstance(self.lo, int) and isinstance(self.hi, int)

    def problem(self, value: Any, shown: Optional[str] = None) -> Optional[str]:
        """Why ``value`` is not allowed, or None: the one wording of YAML, CLI and wire
        (``shown``: the value as the user wrote it, when not its repr)."""
        if (
            not isinstance(value, bool)
            and isinstance(value, (int, float) if not self.integer else int)
            and math.isfinite(value)
            and self.lo <= value <= self.hi
        ):
            return None
        what = "an integer" if self.integer else "a number"
        return f"expected {what} from {self.lo:g} to {self.hi:g}, got {shown or repr(value)}"

    def parse(self, text: str) -> N:
        """A command-line word as this setting; ValueError with :meth:`problem`'s text."""
        value: Union[str, int, float] = text
        with contextlib.suppress(ValueError):  # else reported below as the word it is
            value = int(text) if self.integer else float(text)
        why = self.problem(value, text if value is not text else None)
        if why is not None:
            raise ValueError(why)
        return value  # type: ignore[return-value]  # checked by problem()

    def meta(self) -> Dict[str, Any]:
        """Field metadata for a protocol message enforcing this range, in these words."""
        return between(self.lo, self.hi, bound=self)


# -- the sweep: topology `sweep:` section, `--samples` ... flags, ProbeRequest / ProbeBatch
SAMPLES = Bound("samples", 1, 100)
INTERVAL_MS = Bound("interval_ms", 0, 60_000)
TIMEOUT_MS = Bound("timeout_ms", 10, 60_000)
CONCURRENCY = Bound("concurrency", 1, 4096)
SWEEP = (SAMPLES, INTERVAL_MS, TIMEOUT_MS, CONCURRENCY)

# -- a bandwidth test: topology `bandwidth:` entries, `netcheck bandwidth` flags, BandwidthRun
BW_DURATION_S = Bound("duration_s", 0.1, 300.0)
BW_STREAMS = Bound("streams", 1, 32)  # the documented maximum of failback download threads
BW_INTERVAL_MS = Bound("interval_ms", 10, 60_000)

# -- the coordinator's own flags
HOST_CONCURRENCY = Bound("host_concurrency", 1, 1024)
SSH_TIMEOUT_S = Bound("ssh_timeout", 0.1, 600.0)

__all__ = [
    "BW_DURATION_S",
    "BW_INTERVAL_MS",
    "BW_STREAMS",
    "CONCURRENCY",
    "HOST_CONCURRENCY",
    "INTERVAL_MS",
    "SAMPLES",
    "SSH_TIMEOUT_S",
    "SWEEP",
    "TIMEOUT_MS",
    "Bound",
]
