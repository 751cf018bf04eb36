"""Doc references as the public pages people can open. Pure.

The catalog, the readiness rules and the verdicts cite the Azure Site Recovery
documentation the way its source repository names it: ``AS/<article>.md`` for
``articles/site-recovery/<article>.md`` and ``INC/<include>.md`` for a shared
include. Only their author reads those. Every article is published at
``https://learn.microsoft.com/azure/site-recovery/<article>``; an include has no
page of its own, so it links to the article that shows it (the one the catalog
means), at the section that holds it.

A reference names a document this module knows, or it is an error: a test keeps
every reference the package ships resolvable, so an output never shows a link that
leads nowhere (no network access is needed to check that).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = [
    "ARTICLES",
    "BASE_URL",
    "INCLUDES",
    "DocLink",
    "UnknownDocument",
    "doc_links",
    "doc_parts",
    "doc_text",
    "public_doc",
]

BASE_URL = "https://learn.microsoft.com/azure/site-recovery/"

#: The articles netcheck cites (``articles/site-recovery/<name>.md``).
ARTICLES = frozenset(
    {
        "site-recovery-plan-capacity-vmware",
        "vmware-azure-architecture",
        "vmware-azure-common-questions",
        "vmware-azure-deploy-configuration-server",
        "vmware-azure-install-linux-master-target",
        "vmware-azure-install-mobility-service",
        "vmware-azure-manage-process-server",
        "vmware-azure-manage-vcenter",
        "vmware-azure-prepare-failback",
        "vmware-azure-reprotect",
        "vmware-azure-troubleshoot-failback-reprotect",
        "vmware-azure-troubleshoot-push-install",
        "vmware-physical-azure-troubleshoot-process-server",
    }
)

#: Includes, by the article (and section) that publishes them.
INCLUDES = {
    "site-recovery-configuration-and-scaleout-process-server-requirements": (
        "vmware-azure-deploy-configuration-server#prerequisites"
    ),
    "site-recovery-vmware-register-process-server": "vmware-azure-manage-process-server",
}

_REF = re.compile(r"\b(AS|INC)/([a-z0-9][a-z0-9-]*)\.md\b")


class UnknownDocument(ValueError):
    """A doc reference that names no document this module can link to."""


@dataclass(frozen=True, slots=True)
class DocLink:
    """One cited document: the reference as written and its public URL."""

    ref: str
    url: str


def _url(kind: str, name: str) -> str:
    if kind == "AS":
        if name not in ARTICLES:
            raise UnknownDocument(f"AS/{name}.md is not a known Site Recovery article")
        return BASE_URL + name
    page = INCLUDES.get(name)
    if page is None:
        raise UnknownDocument(f"INC/{name}.md is not a known include")
    return BASE_URL + page


def doc_links(doc: str) -> tuple[DocLink, ...]:
    """Every document cited in ``doc``, in order, each once."""
    seen: dict[str, DocLink] = {}
    for m in _REF.finditer(doc):
        if m.group(0) not in seen:
            seen[m.group(0)] = DocLink(m.group(0), _url(m.group(1), m.group(2)))
    return tuple(seen.values())


def doc_text(doc: str) -> str:
    """``doc`` with each reference replaced by its public URL (quotes and notes kept)."""
    return _REF.sub(lambda m: _url(m.group(1), m.group(2)), doc)


@functools.lru_cache(maxsize=4096)
def doc_parts(doc: str) -> tuple[str | DocLink, ...]:
    """``doc`` split into its plain text and its references, in order, for the
    renderers that make links (HTML, Markdown). A reference to a document this
    module does not know (a stored sweep of another version) stays plain text."""
    out: list[str | DocLink] = []
    at = 0
    for m in _REF.finditer(doc):
        try:
            link = DocLink(m.group(0), _url(m.group(1), m.group(2)))
        except UnknownDocument:
            continue
        if m.start() > at:
            out.append(doc[at : m.start()])
        out.append(link)
        at = m.end()
    if at < len(doc):
        out.append(doc[at:])
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def public_doc(doc: str) -> str:
    """What every report prints for a doc reference: ``doc`` with each reference it
    knows as its public URL, the section names and notes kept (``doc_text``, but an
    unknown reference stays as written instead of failing the report)."""
    return "".join(p.url if isinstance(p, DocLink) else p for p in doc_parts(doc))
