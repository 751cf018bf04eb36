"""docs/topology.md: its key tables are the loader's declarations rendered, and current."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.topology.reference import main, update_page
from netcheck.topology.schema import sections

PAGE = Path(__file__).resolve().parents[3] / "docs" / "topology.md"


def test_docs_topology_tables_are_current() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert update_page(text) == text, (
        "docs/topology.md is stale: python -m netcheck.topology.reference docs/topology.md"
    )


def test_every_key_of_every_section_has_a_row() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for section in sections().values():
        block = text.split(f"<!-- BEGIN GENERATED: {section.id} -->")[1].split("<!-- END")[0]
        for key in section.fields:
            assert f"| `{key.name}`" in block, (section.id, key.name)


def test_a_section_without_a_block_is_an_error() -> None:
    text = PAGE.read_text(encoding="utf-8")
    cut = text.replace("<!-- BEGIN GENERATED: dns -->", "").replace(
        "<!-- END GENERATED: dns -->", ""
    )
    with pytest.raises(ValueError, match="no generated block for: dns"):
        update_page(cut)


def test_a_block_for_no_section_is_an_error() -> None:
    text = PAGE.read_text(encoding="utf-8") + (
        "\n<!-- BEGIN GENERATED: colour -->\n<!-- END GENERATED: colour -->\n"
    )
    with pytest.raises(ValueError, match="'colour', which is no section"):
        update_page(text)


def test_regeneration_rewrites_only_the_blocks(tmp_path: Path) -> None:
    text = PAGE.read_text(encoding="utf-8")
    stale = text.replace("| `samples` |", "| `samples` (old) |")
    assert stale != text
    page = tmp_path / "topology.md"
    page.write_text(stale, encoding="utf-8")
    assert main(["--check", str(page)]) == 1
    assert page.read_text(encoding="utf-8") == stale  # --check changes nothing
    assert main([str(page)]) == 0
    assert page.read_text(encoding="utf-8") == text
    assert main(["--check", str(page)]) == 0
