"""The OpenMetrics text format: metric families as values, and their text (pure).

Gauges, summaries and counters. A counter family is named without `_total`
(`netcheck_cell_attempts`) and its samples carry the `_total` suffix, as
OpenMetrics wants; the text ends with `# EOF`. The classic text parsers
(node_exporter's textfile collector, `promtool check metrics`) read the same
text: `# UNIT` and `# EOF` are comments to them, gauges and summaries keep their
type, and a counter's `_total` samples arrive as untyped series of that name —
what `rate()` reads either way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Labels",
    "MetricFamily",
    "MetricSample",
    "escape_label_value",
    "render_openmetrics",
]

Labels = tuple[tuple[str, str], ...]

_SUFFIXES = {
    "gauge": ("",),
    "summary": ("", "_count", "_sum"),
    "counter": ("_total", "_created"),
}


@dataclass(frozen=True, slots=True)
class MetricSample:
    suffix: str  # "" for a gauge; "_count", "_sum" (summaries); "_total" (counters)
    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class MetricFamily:
    name: str
    type: str  # "gauge" | "summary" | "counter"
    help: str
    samples: tuple[MetricSample, ...]
    unit: str = ""  # OpenMetrics UNIT; the name then ends with _<unit>

    def __post_init__(self) -> None:
        suffixes = _SUFFIXES.get(self.type)
        if suffixes is None:
            raise ValueError(f"{self.name}: type {self.type!r}")
        if self.unit and not self.name.endswith("_" + self.unit):
            raise ValueError(f"{self.name}: must end with _{self.unit}")
        if self.type == "counter" and self.name.endswith("_total"):
            raise ValueError(f"{self.name}: a counter family is named without _total")
        for s in self.samples:
            if s.suffix not in suffixes:
                raise ValueError(f"{self.name}: a {self.type} has no {s.suffix!r} sample")


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def render_openmetrics(families: Iterable[MetricFamily]) -> str:
    lines: list[str] = []
    for f in families:
        lines.append(f"# HELP {f.name} {_help(f.help)}")
        lines.append(f"# TYPE {f.name} {f.type}")
        if f.unit:
            lines.append(f"# UNIT {f.name} {f.unit}")
        for s in f.samples:
            lines.append(f"{f.name}{s.suffix}{_labels(s.labels)} {_value(s.value)}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
