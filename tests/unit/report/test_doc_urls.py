"""Every doc reference in every report format is a public URL of a page the catalog
cites (issue 14): no ``AS/…md`` path only the catalog's author can read, no dead link.
Checked against the known documents (netcheck.catalog.docrefs), without the network."""

from __future__ import annotations

import dataclasses
import re

import pytest

from netcheck.catalog.docrefs import ARTICLES, BASE_URL, INCLUDES
from netcheck.nic.model import HostNicReport, NicFinding, NicVerdict
from netcheck.readiness.evaluate import evaluate
from netcheck.report.formats import FORMATS, render
from netcheck.report.html import render_html
from netcheck.report.markdown import render_markdown
from netcheck.result.model import SweepResult
from tests.unit.report.reportkit import make_sweep, report_plan

KNOWN = {BASE_URL + a for a in ARTICLES} | {BASE_URL + page for page in INCLUDES.values()}
RAW_REF = re.compile(r"\b(?:AS|INC)/[A-Za-z0-9-]+\.md\b")
URL = re.compile(re.escape(BASE_URL) + r"[a-z0-9#-]+")


def _sweep() -> SweepResult:
    """Failing cells (rule docs), readiness findings and a NIC finding: every kind of doc."""
    sweep = make_sweep()
    nic = HostNicReport(
        host="cs01",
        live="live",
        nics=(),
        cells=(),
        findings=(
            NicFinding("nic-rp-filter", "cs01/failback", NicVerdict.FAIL, "strict rp_filter"),
        ),
    )
    return dataclasses.replace(sweep, readiness=evaluate(report_plan().topology), nics=(nic,))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_doc_reference_is_a_known_public_url(fmt: str) -> None:
    text = render(_sweep(), fmt)
    assert RAW_REF.findall(text) == [], f"{fmt}: doc references not rendered as URLs"
    urls = URL.findall(text)
    assert set(urls) <= KNOWN, (
        f"{fmt}: links to pages the catalog does not cite: {set(urls) - KNOWN}"
    )
    if fmt != "prom":  # metrics carry no documentation
        assert len(set(urls)) >= 2, f"{fmt}: the failing cells' docs are missing"


def test_markdown_and_html_make_them_links_and_keep_the_section_name() -> None:
    sweep = _sweep()
    md = render_markdown(sweep)
    page = f"{BASE_URL}vmware-azure-prepare-failback"
    assert f"[vmware-azure-prepare-failback]({page})" in md
    html = render_html(sweep)
    assert f'<a href="{page}" rel="noopener">vmware-azure-prepare-failback</a>' in html
    # the section the reference names stays beside the link
    assert f"[vmware-azure-prepare-failback]({page}) (flow documented; port shown" in md
    assert "vmware-azure-prepare-failback</a> (flow documented; port shown" in html
    for href in re.findall(r'href="(https://learn[^"]*)"', html):
        assert href in KNOWN
