"""The key tables of docs/topology.md, rendered from the loader's declarations. Pure.

The page is hand-written prose with one generated block per section of the format:

    <!-- BEGIN GENERATED: host -->
    ... (heading, anchor, what the section is, the table: key, type, default, meaning)
    <!-- END GENERATED: host -->

`update_page` re-renders every block and leaves the prose alone; a test compares the
page with its update. Regenerate in place with
``python -m netcheck.topology.reference docs/topology.md``
(``--check``: exit 1, and change nothing, when the page is stale).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from netcheck.topology.declare import Key, ListOf, MapOf, OneOf, Ref, Scalar, Section, Shape
from netcheck.topology.schema import ROOT, sections, walk

__all__ = ["render_section", "update_page"]

_BLOCK = re.compile(
    r"<!-- BEGIN GENERATED: (?P<id>[\w-]+) -->\n.*?<!-- END GENERATED: (?P=id) -->",
    re.DOTALL,
)


def _num(x: float) -> str:
    return f"{x:g}"


def _scalar(s: Scalar) -> str:
    if s.enum:
        return " | ".join(f"`{v}`" for v in s.enum)
    text = s.label or s.type
    if s.examples:
        text += ": " + ", ".join(f"`{v}`" for v in s.examples) + " (any case)"
    elif s.pattern is not None and not s.label:
        text += f" matching `{s.pattern}`"
    if s.minimum is not None and s.maximum is not None:
        text += f" {_num(s.minimum)}–{_num(s.maximum)}"
    elif s.minimum is not None:
        text += f" ≥ {_num(s.minimum)}"
    return text


def _type(shape: Shape) -> str:
    if isinstance(shape, Scalar):
        return _scalar(shape)
    if isinstance(shape, Ref):
        return f"[{shape.section}](#{shape.section})"
    if isinstance(shape, MapOf):
        return f"mapping {shape.key_label} → {_inner(shape.value)}"
    if isinstance(shape, ListOf):
        count = ""
        if shape.max_items is not None and shape.max_items == shape.min_items:
            count = f" ({shape.min_items})"
        elif shape.min_items:
            count = f" (at least {shape.min_items})"
        return f"list{count} of {_inner(shape.item)}"
    one, *rest = shape.choices
    if rest == [ListOf(one)]:  # `roles: x` or `roles: [x, y]`
        return f"{_type(one)}, or a list of them"
    return " or ".join(_type(c) for c in shape.choices)


def _inner(shape: Shape) -> str:
    """The type of a mapping's values or a list's items: bracketed when it has choices."""
    text = _type(shape)
    return f"({text})" if isinstance(shape, OneOf) else text


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _row(key: Key) -> str:
    name = f"`{key.name}`" + (" **(required)**" if key.required else "")
    meaning = key.doc + (f" Roles: {', '.join(key.roles)}." if key.roles else "")
    default = key.default_doc or (f"`{key.default_text}`" if key.default_text else "")
    cells = (name, _type(key.shape), default, meaning)
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render_section(section: Section, paths: list[str]) -> str:
    title = "The document (top level)" if section.id == ROOT else f"`{paths[0]}`"
    also = f" Also at {', '.join(f'`{p}`' for p in paths[1:])}." if paths[1:] else ""
    lines = [
        f'<a id="{section.id}"></a>',
        "",
        f"#### {title}",
        "",
        section.doc + also,
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
        *(_row(k) for k in section.fields),
    ]
    notes = [f"Give {' or '.join(f'`{k}`' for k in g)}." for g in section.one_of_required]
    notes += [f"At most one of {', '.join(f'`{k}`' for k in g)}." for g in section.exclusive]
    if notes:
        lines += ["", " ".join(notes)]
    return "\n".join(lines)


def update_page(page: str) -> str:
    """The page with every generated block re-rendered; every section must have one."""
    by_id = sections()
    paths: dict[str, list[str]] = {}
    for path, section in walk(by_id):
        paths.setdefault(section.id, []).append(path)
    found: list[str] = []

    def block(m: re.Match[str]) -> str:
        sid = m.group("id")
        if sid not in by_id:
            raise ValueError(f"the page has a block for {sid!r}, which is no section")
        found.append(sid)
        body = render_section(by_id[sid], paths[sid])
        return f"<!-- BEGIN GENERATED: {sid} -->\n{body}\n<!-- END GENERATED: {sid} -->"

    out = _BLOCK.sub(block, page)
    missing = [sid for sid in by_id if sid not in found]
    if missing:
        raise ValueError(
            "the page has no generated block for: "
            + ", ".join(missing)
            + " (add '<!-- BEGIN GENERATED: ID -->' and '<!-- END GENERATED: ID -->')"
        )
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    files = [a for a in argv if a != "--check"]
    if len(files) != 1:
        print("usage: python -m netcheck.topology.reference [--check] docs/topology.md")
        return 2
    page = Path(files[0])
    text = page.read_text(encoding="utf-8")
    new = update_page(text)
    if new == text:
        return 0
    if check:
        print(f"{page} is stale: python -m netcheck.topology.reference {page}")
        return 1
    page.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover - the regeneration command
    sys.exit(main(sys.argv[1:]))
