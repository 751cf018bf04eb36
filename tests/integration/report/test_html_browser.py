"""The HTML report of a real sweep, rendered by a real headless Chromium (Debian's `chromium`).

One sweep of topologies/local-demo-faults.yaml (loopback only; moved to its own
127.91.x range, see `private_copy`) through the CLI,
then: the page runs its script without a console message, builds the cell
details, blocks anything its Content-Security-Policy does not admit, and a
1400×1000 screenshot shows the heatmap in the verdict colours.
"""

from __future__ import annotations

import html.parser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netcheck.report._html_assets import CELL_COLOURS
from tests.conftest import require
from tests.integration.private_demo import private_copy
from tests.integration.report.pngpixels import pixel_counts

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--force-color-profile=srgb",  # exact colours in the screenshot
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require(found is not None, "Debian's chromium is not installed (apt-get install chromium)")
    assert found is not None
    return found


def _run_chromium(tmp: Path, page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
    env = {**os.environ, "HOME": str(tmp)}  # keep Chromium's caches out of the real home
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=env, check=False)


def _console(stderr: str) -> list[str]:
    """The page's console output (Chromium logs it as ...:CONSOLE:<line>] "text", source...)."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML report of one real sweep of the faults demo, through `netcheck sweep`."""
    tmp = tmp_path_factory.mktemp("html")
    out = tmp / "faults.html"
    topology = private_copy("local-demo-faults.yaml", tmp / "local-demo-faults.yaml", 91)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netcheck",
            "sweep",
            str(topology),
            "--format",
            "html",
            "-o",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # the sweep history goes to a scratch database, not the user's
        env={**os.environ, "NETCHECK_DB": str(out.with_suffix(".db"))},
    )
    assert proc.returncode == 1, proc.stderr  # NO-GO: the demo's planted faults
    assert "NO-GO: report written to" in proc.stderr
    return out


class _CellClasses(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "td" and a.get("data-class"):
            self.classes.append(str(a["data-class"]))


def test_page_runs_without_console_messages(report: Path, tmp_path: Path) -> None:
    proc = _run_chromium(tmp_path, report, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _console(proc.stderr) == []
    dom = proc.stdout
    # the script ran to its end and built the detail panel of the first failing cell
    assert re.search(r'<html[^>]*data-js="ready"', dom)
    detail = dom[dom.index('id="detail-body"') :]
    assert '<table class="samples">' in detail[:20000]
    assert "not measured in this sweep" in detail[:20000]  # the hops slot
    assert 'class="cell c-filtered pinned"' in dom  # the first failing cell is pinned
    # the verdict, the heatmap and the panels are all there
    for anchor in ('id="verdict"', 'id="heatmap"', 'id="failing"', 'id="paths"', 'id="nics"'):
        assert anchor in dom


def test_console_check_catches_errors_and_csp_blocks_foreign_script(
    report: Path, tmp_path: Path
) -> None:
    # The same page with one injected inline script: the CSP must refuse to run it, and the
    # console check above must see that (so a clean run there means something).
    page = report.read_text(encoding="utf-8")
    hostile = tmp_path / "hostile.html"
    hostile.write_text(
        page.replace("</body>", "<script>document.title='pwned'</script></body>"),
        encoding="utf-8",
    )
    proc = _run_chromium(tmp_path, hostile, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = _console(proc.stderr)
    assert any("Content Security Policy" in ln for ln in console), proc.stderr[-3000:]
    assert "pwned" not in re.search(r"<title>(.*?)</title>", proc.stdout, re.S).group(1)  # type: ignore[union-attr]
    # and the page's own script still ran
    assert 'data-js="ready"' in proc.stdout


def test_screenshot_shows_the_heatmap(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "faults.png"
    proc = _run_chromium(tmp_path, report, f"--screenshot={shot}", "--window-size=1400,1000")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _console(proc.stderr) == []
    width, height, counts = pixel_counts(shot.read_bytes())
    assert (width, height) == (1400, 1000)

    parser = _CellClasses()
    parser.feed(report.read_text(encoding="utf-8"))
    planned: dict[str, int] = {}
    for cls in parser.classes:
        planned[cls] = planned.get(cls, 0) + 1
    # the faults demo: open cells, one filtered, one refused, two open-but-must-be-blocked
    assert planned.get("c-filtered") == 1
    assert planned.get("c-refused") == 1
    assert planned.get("c-mustblock") == 2
    assert planned.get("c-ok r0", 0) + planned.get("c-ok r1", 0) >= 5

    def rgb(hex_colour: str) -> tuple[int, int, int]:
        return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))

    cell_area = 84 * 52  # the CSS minimum of a heatmap cell
    for cls, colour in CELL_COLOURS.items():
        seen = counts[rgb(colour)]
        n = planned.get(cls, 0)
        if n:
            # every cell of that verdict is painted, in full, inside the first screen
            assert seen >= n * cell_area * 0.6, (cls, n, seen)
            assert seen <= n * cell_area * 2 + 4000, (cls, n, seen)  # + legend swatch, chip
        elif cls not in ("c-ok r1", "c-ok r2", "c-ok r3", "c-ok r4"):
            # verdicts the sweep did not produce are not painted (the RTT scale is always
            # in the legend, so its swatches are allowed)
            assert seen < 300, (cls, seen)
