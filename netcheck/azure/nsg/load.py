"""Read the `az ... -o json` files (the only I/O of the package) into one `AzureExport`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from netcheck.azure.nsg.model import AzureExport
from netcheck.azure.nsg.parse import (
    AzureExportError,
    build_export,
    parse_nics,
    parse_nsgs,
    parse_route_tables,
    parse_vnets,
)

__all__ = ["load_export", "read_json"]

T = TypeVar("T")


def read_json(path: Path) -> Any:
    """A JSON file as `az` writes it: UTF-8, or UTF-16 with a BOM (PowerShell's `>`)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AzureExportError(str(path), "$", f"can't read it: {exc.strerror or exc}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise AzureExportError(str(path), "$", "not UTF-8 or UTF-16 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AzureExportError(
            f"{path}:{exc.lineno}:{exc.colno}", "$", f"not JSON: {exc.msg}"
        ) from None


def _read(path: Path | None, parse: Callable[[Any, str], T]) -> T | None:
    return None if path is None else parse(read_json(path), str(path))


def load_export(
    nsgs: Path,
    nics: Path | None = None,
    vnets: Path | None = None,
    route_tables: Path | None = None,
) -> AzureExport:
    """Parse and cross-check the export files; raises AzureExportError naming file and path."""
    given = {"nsgs": nsgs, "nics": nics, "vnets": vnets, "route_tables": route_tables}
    parsed_nics = _read(nics, parse_nics)
    parsed_vnets = _read(vnets, parse_vnets)
    if parsed_nics is None and parsed_vnets is None:
        raise AzureExportError(
            str(nsgs),
            "$",
            "the NSG export alone does not say which subnet or NIC an address is in: also "
            "give the NIC export (az network nic list -o json, --azure-nics) or the VNet "
            "export (az network vnet list -o json, --azure-vnets), or both",
        )
    return build_export(
        parse_nsgs(read_json(nsgs), str(nsgs)),
        parsed_nics,
        parsed_vnets,
        _read(route_tables, parse_route_tables),
        files={k: str(v) for k, v in given.items() if v is not None},
    )
