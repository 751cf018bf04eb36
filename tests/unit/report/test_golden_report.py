"""Golden outputs of the terminal report: the demos, GO and NO-GO, at 80 and 160
columns, with and without colour (issue 14).

Each demo's result was recorded once from a real sweep (`goldens/<demo>.result.json`,
the store's own codec) and is rendered here by the pure renderer: no socket, and no
timing that moves between runs. A golden fails when the layout changes; after a
deliberate change, regenerate and review the diff:

    .venv/bin/python tests/unit/report/test_golden_report.py          # re-render
    .venv/bin/python tests/unit/report/test_golden_report.py --record # re-sweep too
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.plan import build_plan
from netcheck.report.table import Detail, render_table
from netcheck.result.codec import result_from_dict, result_to_dict
from netcheck.result.model import SweepResult
from netcheck.topology import load_topology

ROOT = Path(__file__).resolve().parents[3]
GOLDENS = Path(__file__).resolve().parent / "goldens"
DEMOS = ("local-demo", "local-demo-faults")
WIDTHS = (80, 160)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _utc() -> None:
    os.environ["TZ"] = "UTC"  # the report shows local time: the goldens are in UTC
    time.tzset()


def recorded(demo: str) -> SweepResult:
    here = Path.cwd()
    os.chdir(ROOT)  # the topology's file name as a user in the checkout types it
    try:
        plan = build_plan(load_topology(Path("topologies") / f"{demo}.yaml"))
    finally:
        os.chdir(here)
    data = json.loads((GOLDENS / f"{demo}.result.json").read_text(encoding="utf-8"))
    return result_from_dict(data, plan)


def _name(demo: str, width: int, color: bool) -> str:
    return f"{demo}.{width}{'.color' if color else ''}.txt"


def cases() -> Iterator[tuple[str, int, bool]]:
    for demo in DEMOS:
        for width in WIDTHS:
            for color in (False, True):
                yield demo, width, color


@pytest.fixture(autouse=True)
def _in_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(("demo", "width", "color"), list(cases()))
def test_golden(demo: str, width: int, color: bool) -> None:
    got = render_table(recorded(demo), width=width, color=color)
    want = (GOLDENS / _name(demo, width, color)).read_text(encoding="utf-8")
    assert got == want, (
        f"the terminal report of {demo} at {width} columns changed; if that was meant, "
        "run tests/unit/report/test_golden_report.py and review the goldens' diff"
    )


@pytest.mark.parametrize(("demo", "width"), [(d, w) for d in DEMOS for w in WIDTHS])
def test_the_goldens_fit_their_width_and_colour_changes_no_layout(demo: str, width: int) -> None:
    plain = (GOLDENS / _name(demo, width, False)).read_text(encoding="utf-8")
    coloured = (GOLDENS / _name(demo, width, True)).read_text(encoding="utf-8")
    assert "\x1b[" not in plain and "\x1b[" in coloured
    assert ANSI.sub("", coloured) == plain
    for line in plain.splitlines():
        if len(line) > width:  # only a word that fits no line (a URL) may stay longer
            assert re.fullmatch(r"\s*(\S+:\s+)?https://\S+", line), line


def test_the_go_demo_fits_one_screen() -> None:
    text = (GOLDENS / _name("local-demo", 160, False)).read_text(encoding="utf-8")
    assert text.startswith("GO: 13 of 13 cells pass\n")
    assert len(text.splitlines()) <= 25
    assert "from \\ to" in text  # the matrix at 160 columns; one line per source at 80
    assert "from \\ to" not in (GOLDENS / _name("local-demo", 80, False)).read_text()


def test_no_go_puts_the_failing_items_right_under_the_matrix() -> None:
    lines = (GOLDENS / _name("local-demo-faults", 160, False)).read_text().splitlines()
    legend = next(i for i, ln in enumerate(lines) if ln.startswith("ok = open"))
    assert lines[legend + 1 : legend + 3] == ["", "Failing (4):"]


def test_the_recorded_results_are_what_the_demos_give() -> None:
    # the fixtures are real sweeps of the shipped demos, not hand-made verdicts
    go, no_go = recorded("local-demo"), recorded("local-demo-faults")
    assert go.go and len(go.results) == 13 and go.diagnostics is not None and go.nics
    assert not no_go.go and sum(1 for _, v in no_go.verdicts() if not v.passed) == 4


# --- regenerating ----------------------------------------------------------------------


def _record(demo: str) -> None:
    """Sweep the demo with the real CLI and keep its result (the store's codec)."""
    from netcheck.store import load_sweep, open_store, resolve_sweep_id

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "nc.db"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "netcheck",
                "sweep",
                f"topologies/{demo}.yaml",
                "--db",
                str(db),
                "--no-progress",
                "--format",
                "json",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        with open_store(db) as conn:
            sweep = load_sweep(conn, resolve_sweep_id(conn, "last"))
    text = json.dumps(result_to_dict(sweep), indent=1, sort_keys=True) + "\n"
    (GOLDENS / f"{demo}.result.json").write_text(text, encoding="utf-8")


def main(argv: list[str]) -> None:
    _utc()
    GOLDENS.mkdir(exist_ok=True)
    for demo in DEMOS:
        if "--record" in argv:
            _record(demo)
        for _, width, color in (c for c in cases() if c[0] == demo):
            text = render_table(recorded(demo), width=width, detail=Detail.NORMAL, color=color)
            (GOLDENS / _name(demo, width, color)).write_text(text, encoding="utf-8")
            print(f"wrote {_name(demo, width, color)}")


if __name__ == "__main__":
    main(sys.argv[1:])
