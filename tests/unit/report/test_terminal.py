"""The terminal helpers: wrapping to a width, colour by --color / NO_COLOR / TTY, -o formats."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from netcheck.commands.output import use_color
from netcheck.report.formats import format_for_path
from netcheck.report.terminal import Paint, fit, visible_len


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_fit_wraps_at_spaces_under_the_label_and_never_breaks_a_word() -> None:
    line = "     why:  " + " ".join(["word"] * 30)
    out = fit([line], 40)
    assert all(len(x) <= 40 for x in out)
    assert all(x.startswith("           word") for x in out[1:])  # under the text, not the label
    url = "https://learn.microsoft.com/azure/site-recovery/vmware-azure-prepare-failback"
    assert fit([f"     doc:  {url} (section)"], 40) == [f"     doc:  {url}", "           (section)"]
    row = "x  " * 20
    assert fit([f"{row}\n{row}"], 40) == [row, row]  # a table's rows stay whole


def test_colour_costs_no_width() -> None:
    p = Paint(True)
    assert visible_len(p.bad("FILTERED")) == 8
    # four coloured "ok" a line, as without colour: the codes are not counted
    assert [visible_len(x) for x in fit([" ".join([p.good("ok")] * 10)], 11)] == [11, 11, 5]
    assert [len(x) for x in fit([" ".join(["ok"] * 10)], 11)] == [11, 11, 5]
    assert Paint(False).bad("FILTERED") == "FILTERED"


@pytest.mark.parametrize(
    ("mode", "tty", "no_color", "want"),
    [
        ("auto", True, None, True),
        ("auto", False, None, False),  # piped: none
        ("auto", True, "1", False),  # NO_COLOR honoured
        ("auto", True, "", True),  # NO_COLOR empty: as unset (no-color.org)
        ("always", False, "1", True),  # the flag wins
        ("never", True, None, False),
    ],
)
def test_use_color(
    mode: str, tty: bool, no_color: str | None, want: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TERM", raising=False)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert use_color(mode, _Tty() if tty else io.StringIO()) is want


def test_the_output_file_extension_names_the_format() -> None:
    assert format_for_path(Path("report.html")) == "html"
    assert format_for_path(Path("r.HTM")) == "html"
    assert format_for_path(Path("r.json")) == "json"
    assert format_for_path(Path("r.xml")) == "junit"
    assert format_for_path(Path("r.md")) == "md"
    assert format_for_path(Path("r.prom")) == "prom"
    assert format_for_path(Path("r.csv")) == "csv"
    assert format_for_path(Path("r.txt")) == "table"
    assert format_for_path(Path("report")) == "table"
