"""How a sweep report is shaped for where it goes: format, width, detail and colour.

`netcheck sweep` and `netcheck report` share it: `--format`, else the extension of
`-o FILE`, else the terminal table; the table fits the terminal (COLUMNS or the real
width) at the detail -q / -v / --details ask for, coloured per --color and NO_COLOR.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

from netcheck.report.formats import EXTENSIONS, FORMATS, format_for_path, render
from netcheck.report.table import DEFAULT_WIDTH, render_table
from netcheck.report.terminal import Detail
from netcheck.result.model import SweepResult

__all__ = [
    "add_report_options",
    "detail_of",
    "render_report",
    "report_format",
    "terminal_width",
    "use_color",
]


def add_report_options(p: argparse.ArgumentParser, output_help: str) -> None:
    known = ", ".join(f"{ext} {fmt}" for ext, fmt in EXTENSIONS.items())
    p.add_argument(
        "--format",
        choices=list(FORMATS),
        default=None,
        help=f"the report format (default: from the -o file's extension ({known}), else table)",
    )
    p.add_argument("-o", "--output", type=Path, help=output_help)


def report_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    return format_for_path(args.output) if args.output is not None else "table"


def terminal_width() -> int:
    """COLUMNS, else the terminal's width, else DEFAULT_WIDTH (80)."""
    return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def use_color(mode: str, stream: Any) -> bool:
    """--color: always, never, or auto (a terminal, and NO_COLOR unset or empty)."""
    if mode in ("always", "never"):
        return mode == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def detail_of(args: argparse.Namespace) -> Detail:
    if args.quiet:
        return Detail.QUIET
    return Detail.FULL if args.verbose or args.details else Detail.NORMAL


def render_report(sweep: SweepResult, fmt: str, args: argparse.Namespace, stream: Any) -> str:
    """The report in `fmt`; the table shaped for `stream` (the terminal or the -o file)."""
    if fmt != "table":
        return render(sweep, fmt)
    return render_table(
        sweep,
        width=terminal_width(),
        detail=detail_of(args),
        color=use_color(args.color, stream),
    )
