"""Doc references resolve to public pages: every one the package ships, and the parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import netcheck
from netcheck.catalog import load_catalog
from netcheck.catalog.docrefs import (
    ARTICLES,
    BASE_URL,
    INCLUDES,
    DocLink,
    UnknownDocument,
    doc_links,
    doc_text,
)

PACKAGE = Path(netcheck.__file__).parent
REF = re.compile(r"\b(?:AS|INC)/[a-z0-9-]+\.md\b")


def shipped_refs() -> set[str]:
    """Every AS/…md and INC/…md written anywhere in the package (code, catalog data)."""
    found: set[str] = set()
    for path in [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.yaml")]:
        found |= set(REF.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_reference_the_package_ships_resolves_to_a_public_url() -> None:
    refs = shipped_refs()
    assert len(refs) >= 10  # the scan found the catalog's and the verdicts' citations
    for ref in sorted(refs):
        (link,) = doc_links(ref)
        assert link.url.startswith(BASE_URL), link
        assert " " not in link.url and ".md" not in link.url


def test_every_known_document_is_cited_somewhere() -> None:
    # a page nobody cites is a stale entry: the list is the catalog's, not a guess
    cited = {r.removeprefix("AS/").removesuffix(".md") for r in shipped_refs()}
    hosts = {page.split("#")[0] for page in INCLUDES.values()}
    assert ARTICLES - hosts <= cited


def test_catalog_rules_docs_render_as_urls() -> None:
    for rule in load_catalog().rules:
        text = doc_text(rule.doc)
        assert "AS/" not in text and "INC/" not in text, text
        assert BASE_URL in text


def test_doc_text_keeps_quotes_and_notes() -> None:
    doc = (
        'AS/vmware-azure-architecture.md ("port HTTPS 9443 inbound"); '
        "error 95226 in AS/vmware-azure-troubleshoot-failback-reprotect.md"
    )
    assert doc_text(doc) == (
        f'{BASE_URL}vmware-azure-architecture ("port HTTPS 9443 inbound"); '
        f"error 95226 in {BASE_URL}vmware-azure-troubleshoot-failback-reprotect"
    )


def test_doc_links_in_order_each_once_and_includes_link_to_their_article() -> None:
    doc = (
        "AS/vmware-azure-reprotect.md; "
        "INC/site-recovery-configuration-and-scaleout-process-server-requirements.md; "
        "AS/vmware-azure-reprotect.md"
    )
    assert doc_links(doc) == (
        DocLink("AS/vmware-azure-reprotect.md", BASE_URL + "vmware-azure-reprotect"),
        DocLink(
            "INC/site-recovery-configuration-and-scaleout-process-server-requirements.md",
            BASE_URL + "vmware-azure-deploy-configuration-server#prerequisites",
        ),
    )
    assert doc_links("topology rule") == ()


@pytest.mark.parametrize("doc", ["AS/no-such-article.md", "INC/no-such-include.md"])
def test_an_unknown_document_is_an_error_not_a_dead_link(doc: str) -> None:
    with pytest.raises(UnknownDocument, match="not a known"):
        doc_links(doc)


def test_docs_asr_ports_is_the_catalog_rendered() -> None:
    from netcheck.catalog.markdown import render_port_matrix

    page = PACKAGE.parent / "docs" / "asr-ports.md"
    assert page.read_text(encoding="utf-8") == render_port_matrix(load_catalog()), (
        "docs/asr-ports.md is stale: python -m netcheck.catalog.markdown > docs/asr-ports.md"
    )
