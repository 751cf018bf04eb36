"""JSON read with its path, so every shape error names the file and where in it.

`az … -o json` and `ansible-inventory --list` documents are read through `J`:
`J.load(path)` then `.key("name")`, `.elements()`, `.text()` … each step knows its
JSON path (`$[2].networkProfile.networkInterfaces[0].id`) and a wrong shape
raises an `InventoryError` that says what was expected there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from netcheck.errors import ConfigError, Location

__all__ = ["InventoryError", "J", "read_text"]


class InventoryError(ConfigError):
    """An inventory (Azure CLI JSON, Ansible inventory, hand-written part) netcheck can't use."""


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(f"{what} file not found", location=Location(str(path))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(
            f"cannot read the {what} file: {exc}", location=Location(str(path))
        ) from None


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean {json.dumps(v)}"
    if isinstance(v, (int, float)):
        return f"number {v}"
    return f"string {v!r}"


@dataclass(frozen=True, slots=True)
class J:
    value: Any
    file: str
    path: str = "$"

    @classmethod
    def load(cls, path: Path, what: str) -> J:
        text = read_text(path, what)
        try:
            return cls(json.loads(text), str(path))
        except json.JSONDecodeError as exc:
            raise InventoryError(
                f"not JSON ({exc.msg}); expected the output of {what}",
                location=Location(str(path), exc.lineno, exc.colno),
            ) from None

    def fail(self, message: str) -> NoReturn:
        raise InventoryError(message, location=Location(self.file), field=self.path)

    def elements(self, expected: str = "") -> list[J]:
        if not isinstance(self.value, list):
            self.fail(f"expected a list{expected}, found {_kind(self.value)}")
        return [J(v, self.file, f"{self.path}[{i}]") for i, v in enumerate(self.value)]

    def mapping(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            self.fail(f"expected an object, found {_kind(self.value)}")
        return self.value

    def has(self, key: str) -> bool:
        return key in self.mapping() and self.mapping()[key] is not None

    def key(self, key: str) -> J:
        m = self.mapping()
        if key not in m:
            self.fail(f"missing {key!r}")
        return J(m[key], self.file, f"{self.path}.{key}")

    def opt(self, key: str) -> J | None:
        m = self.mapping()
        return J(m[key], self.file, f"{self.path}.{key}") if m.get(key) is not None else None

    def elements_of(self, key: str) -> list[J]:
        """The list under `key`; none when it is absent or null."""
        node = self.opt(key)
        return [] if node is None else node.elements()

    def items(self) -> Iterator[tuple[str, J]]:
        for k, v in self.mapping().items():
            yield k, J(v, self.file, f"{self.path}.{k}")

    def text(self) -> str:
        if not isinstance(self.value, str) or not self.value:
            self.fail(f"expected a non-empty string, found {_kind(self.value)}")
        return self.value

    def where(self) -> str:
        """`file $.path`, for the provenance comments."""
        return f"{Path(self.file).name} {self.path}"
