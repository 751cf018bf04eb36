"""What the application probes need to know from the topology: the `azure:` section
and the per-host service hints (`tls:`, `dns:`). Values and their parsers.

```yaml
azure:                          # optional; without it the Azure endpoint rules are not probed
  cloud: public                 # public | government: which catalog list applies
  storage_account: contosocache # the cache storage account → contosocache.blob.core.windows.net
  endpoints:                    # concrete names; replaces the catalog's list when given
    - contosovault.backup.windowsazure.com
  proxy: http://198.18.2.5:3128 # the unauthenticated HTTP proxy the servers use (CONNECT)
  resolver: dns01               # a dns_server host, IP[:PORT], or "system" (the host's own)
  nsg_export:                   # `az ... list -o json` files for the NSG predictions (paths
    nsgs: nsgs.json             # relative to this file); `nsg_export: nsgs.json` names the
    nics: nics.json             # NSG file alone. Only this key under azure: does not turn
    vnets: vnets.json           # the Azure endpoint checks on.
    route_tables: routes.json
hosts:
  ps-azure:
    tls: true                   # 443 / vCenter / replication-data cells get a TLS handshake
  cs01:
    tls: {ports: [443], sni: cs01.contoso.local, http: true}
  dns01:
    roles: [dns_server]
    dns: {query: contosocache.blob.core.windows.net}   # the name the DNS probes ask for
```
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from netcheck.topology.declare import (
    BOOL,
    PORT,
    STRING,
    Key,
    ListOf,
    OneOf,
    Ref,
    Scalar,
    Section,
)
from netcheck.yamlsource import Node

__all__ = [
    "AzureSettings",
    "NsgExportFiles",
    "TlsHint",
    "parse_azure",
    "parse_dns_query",
    "parse_tls_hint",
    "valid_hostname",
]

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
CLOUDS = ("public", "government")


def valid_hostname(name: str) -> bool:
    """A DNS host name (letters, digits, hyphens; dot-separated labels; no wildcard)."""
    text = name.rstrip(".")
    return 0 < len(text) <= 253 and all(_LABEL.match(x) for x in text.split("."))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class TlsHint:
    """A host whose HTTPS ports run a real service: probe them with a TLS handshake."""

    ports: tuple[int, ...] | None = None  # None: 443, the vCenter and the replication-data port
    sni: str | None = None
    http: bool | None = None  # None: `GET /` only on a process server's data port


@dataclass(frozen=True, slots=True)
class NsgExportFiles:
    """The Azure export files named by `azure.nsg_export`, as written (relative to the topology)."""

    nsgs: str
    nics: str | None = None
    vnets: str | None = None
    route_tables: str | None = None


@dataclass(frozen=True, slots=True)
class AzureSettings:
    declared: bool = False
    cloud: str = "public"
    endpoints: tuple[str, ...] | None = None  # replaces the catalog's list when given
    storage_account: str | None = None
    proxy: tuple[str, int] | None = None  # (host, port) of an HTTP proxy
    resolver: str | None = None  # "system", "IP", "IP:PORT", or a dns_server host name
    nsg_export: NsgExportFiles | None = None  # for the NSG predictions (netcheck.azure.nsg)

    @property
    def proxy_text(self) -> str | None:
        if self.proxy is None:
            return None
        host, port = self.proxy
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_TLS = Section(
    "tls",
    "The ports of a host where a real HTTPS service runs.",
    (
        Key(
            "ports",
            ListOf(PORT, min_items=1),
            "The ports to probe with a TLS handshake.",
            default_doc="443, vCenter and the replication data port",
        ),
        Key(
            "sni",
            STRING,
            "The server name to send (a host name, not an address).",
            default_doc="none",
        ),
        Key(
            "http",
            BOOL,
            "Also send `GET /` after the handshake.",
            default_doc="only on a process server's data port",
        ),
    ),
)
_DNS = Section(
    "dns",
    "The query of a resolver (a dns_server host).",
    (Key("query", STRING, "The name the DNS probes ask this resolver for.", required=True),),
)
_NSG_EXPORT = Section(
    "nsg_export",
    "`az ... list -o json` files for the NSG predictions, relative to the topology file.",
    (
        Key("nsgs", STRING, "`az network nsg list -o json`.", required=True),
        Key("nics", STRING, "`az network nic list -o json`."),
        Key("vnets", STRING, "`az network vnet list -o json`."),
        Key("route_tables", STRING, "`az network route-table list -o json`."),
    ),
)
_AZURE = Section(
    "azure",
    "The Azure side. Without it (or with only `nsg_export`) the Azure endpoint rules are not probed.",
    (
        Key(
            "cloud",
            Scalar("string", enum=CLOUDS),
            "Which catalog list of endpoints applies.",
            default="public",
        ),
        Key(
            "storage_account",
            Scalar("string", pattern=_ACCOUNT.pattern),
            "The cache storage account: NAME → NAME.blob.core.windows.net.",
        ),
        Key(
            "endpoints",
            ListOf(STRING, min_items=1),
            "Concrete host names (no wildcards); replaces the catalog's list.",
            default_doc="the catalog's list",
        ),
        Key(
            "proxy",
            Scalar("string", pattern="^[Hh][Tt][Tt][Pp]://", label="http://HOST:PORT"),
            "The unauthenticated HTTP proxy the servers use (CONNECT).",
        ),
        Key("resolver", STRING, "A dns_server host, `IP[:PORT]`, or `system` (the host's own)."),
        Key(
            "nsg_export",
            OneOf((STRING, Ref("nsg_export"))),
            "Azure export files for the NSG predictions; a string names the NSG file alone.",
        ),
    ),
)


def parse_tls_hint(node: Node) -> TlsHint | None:
    """`tls: true | false | {ports: [...], sni: NAME, http: BOOL}`."""
    if isinstance(node.value, bool):
        return TlsHint() if node.value else None
    m = node.as_mapping(_TLS.keys)
    ports = None
    if "ports" in m:
        ports = tuple(p.as_int(lo=1, hi=65535) for p in m["ports"].as_list())
        if not ports:
            m["ports"].fail("give at least one port, or leave 'ports' out for the HTTPS ports")
    sni = None
    if "sni" in m:
        sni = m["sni"].as_str()
        if _is_ip(sni) or not valid_hostname(sni):
            m["sni"].fail(f"{sni!r} is not a host name (SNI carries a name, not an address)")
    return TlsHint(ports=ports, sni=sni, http=m["http"].as_bool() if "http" in m else None)


def parse_dns_query(node: Node) -> str:
    """`dns: {query: NAME}` of a dns_server host."""
    m = node.as_mapping(_DNS.keys)
    if "query" not in m:
        node.fail("give 'query': the name the DNS probes ask this resolver for")
    name = m["query"].as_str()
    if not valid_hostname(name):
        m["query"].fail(f"{name!r} is not a host name")
    return name


def _proxy(node: Node) -> tuple[str, int]:
    text = node.as_str().strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        node.fail(f"{text!r}: expected http://HOST:PORT")
    if scheme.lower() != "http":
        node.fail(f"{text!r}: only an http:// proxy (CONNECT) is supported")
    rest = rest.rstrip("/")
    if "@" in rest:
        node.fail(
            "credentials in the proxy URL: ASR classic does not support an authenticating "
            "proxy, and netcheck sends none; give http://HOST:PORT"
        )
    if rest.startswith("["):
        host, _, port_text = rest[1:].partition("]")
        port_text = port_text[1:] if port_text.startswith(":") else ""
    else:
        host, _, port_text = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        node.fail(f"{text!r}: give the proxy's port, e.g. http://{host or 'HOST'}:3128")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not valid_hostname(host):
            node.fail(f"{text!r}: {host!r} is neither an IP address nor a host name")
    return host, int(port_text)


def _resolver(node: Node, dns_hosts: set[str]) -> str:
    text = node.as_str().strip()
    if text == "system" or text in dns_hosts:
        return text
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        hosts = ", ".join(sorted(dns_hosts)) or "none declared"
        node.fail(
            f"resolver {text!r}: expected a dns_server host ({hosts}), an IP address "
            "(optionally :PORT), or 'system'"
        )
    if port and (not port.isdigit() or not 1 <= int(port) <= 65535):
        node.fail(f"resolver {text!r}: bad port")
    return text


def _nsg_export(node: Node) -> NsgExportFiles:
    if isinstance(node.value, str):
        return NsgExportFiles(nsgs=node.as_str())
    m = node.as_mapping(_NSG_EXPORT.keys)
    if "nsgs" not in m:
        node.fail("give 'nsgs': the output of `az network nsg list -o json`")
    files = {k: m[k].as_str() for k in ("nsgs", "nics", "vnets", "route_tables") if k in m}
    return NsgExportFiles(**files)


def parse_azure(node: Node, dns_hosts: set[str]) -> AzureSettings:
    m = node.as_mapping(_AZURE.keys)
    cloud = m["cloud"].as_str() if "cloud" in m else "public"
    if cloud not in CLOUDS:
        m["cloud"].fail(f"unknown cloud {cloud!r}; expected public or government")
    endpoints = None
    if "endpoints" in m:
        names = []
        for item in m["endpoints"].as_list():
            name = item.as_str().strip().lower()
            if name.startswith("*."):
                item.fail(
                    f"{name!r} is a wildcard: give the concrete host name your vault or "
                    f"storage account uses, e.g. {'contoso' + name[1:]}"
                )
            if not valid_hostname(name):
                item.fail(f"{name!r} is not a host name")
            if name not in names:
                names.append(name)
        if not names:
            m["endpoints"].fail("give at least one endpoint, or leave 'endpoints' out")
        endpoints = tuple(names)
    account = None
    if "storage_account" in m:
        account = m["storage_account"].as_str()
        if not _ACCOUNT.match(account):
            m["storage_account"].fail(
                f"{account!r} is not a storage account name (3-24 lower-case letters and digits)"
            )
    return AzureSettings(
        declared=not m or set(m) != {"nsg_export"},
        cloud=cloud,
        endpoints=endpoints,
        storage_account=account,
        proxy=_proxy(m["proxy"]) if "proxy" in m else None,
        resolver=_resolver(m["resolver"], dns_hosts) if "resolver" in m else None,
        nsg_export=_nsg_export(m["nsg_export"]) if "nsg_export" in m else None,
    )
