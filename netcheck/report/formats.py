"""The report formats a sweep (live or stored) can be rendered in, by name.

`netcheck sweep --format` and `netcheck report --format` both offer exactly
these; a new format is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from netcheck.report.csv_report import render_csv
from netcheck.report.json_report import render_json
from netcheck.report.junit import render_junit
from netcheck.report.markdown import render_markdown
from netcheck.report.prom import render_prom
from netcheck.report.table import render_table
from netcheck.result.model import SweepResult

__all__ = ["EXTENSIONS", "FORMATS", "format_for_path", "render"]


def _html(sweep: SweepResult) -> str:
    from netcheck.report.html import render_html  # the largest renderer: loaded when asked

    return render_html(sweep)


FORMATS: dict[str, Callable[[SweepResult], str]] = {
    "table": render_table,
    "json": render_json,
    "junit": render_junit,
    "prom": render_prom,
    "md": render_markdown,
    "html": _html,
    "csv": render_csv,
}


#: `-o FILE` without --format: the format its extension names (others: table)
EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".xml": "junit",
    ".prom": "prom",
    ".md": "md",
    ".csv": "csv",
}


def format_for_path(path: PurePath) -> str:
    return EXTENSIONS.get(path.suffix.lower(), "table")


def render(sweep: SweepResult, fmt: str) -> str:
    return FORMATS[fmt](sweep)
