"""The progress line names the phase the sweep is in (issue 14): a 3.5 s diagnostics
phase no longer shows as a finished "cells 11/11"."""

from __future__ import annotations

import io

from netcheck.observers import Observers
from netcheck.progress import TerminalProgress
from tests.unit.report.reportkit import make_sweep, report_plan


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_line_names_each_phase() -> None:
    tty = _Tty()
    progress = TerminalProgress(tty)
    observer = Observers(progress, None)  # the sweep calls the observers through this
    sweep = make_sweep()
    observer.on_start(report_plan(), "sw-0001")
    seen = []
    for phase in ("agents", "responders", "probes"):
        observer.on_phase(phase)
        seen.append(tty.getvalue().rsplit("\r\x1b[K", 1)[-1])
    for r in sweep.results:
        observer.on_result(r)
    observer.on_phase("diagnostics")
    seen.append(tty.getvalue().rsplit("\r\x1b[K", 1)[-1])
    assert [s.split(":", 1)[0] for s in seen] == ["agents", "responders", "probes", "diagnostics"]
    assert seen[-1] == "diagnostics: agents up 0 · cells 6/6 · failing so far 3"
