"""Which probe a cell gets when it is more than a TCP connect, and the Azure endpoint cells.

Pure, like `netcheck.plan` (which calls in here):

- a TCP cell on a host declared `tls:` (443, the vCenter port, the replication-data
  port, or the ports listed) gets a `tls` probe; `GET /` on a process server's
  data port (its documented answer is 400 Bad Request);
- the DNS rules (UDP and TCP 53 to a `dns_server`) get a `dns` query for the
  resolver's `dns: {query: NAME}` (default: the cloud's login endpoint), the NTP
  rule (UDP 123 to an `ntp_server`) an SNTP query;
- the rules towards `azure_endpoints` become one `https_endpoint` cell per source
  and concrete endpoint name: from `azure.endpoints`, else the catalog's list with
  `azure.storage_account` filling in the blob wildcard. Wildcards without a
  concrete name and the time servers are listed as skipped, saying what to declare.
"""

from __future__ import annotations

from collections.abc import Iterable

from netcheck.catalog import Catalog, PortRef, Rule
from netcheck.topology.model import Host, Role, Topology

__all__ = [
    "AZURE_NOT_DECLARED",
    "ENDPOINT_NIC",
    "ParamValue",
    "Params",
    "app_probe",
    "endpoint_names",
    "endpoint_params",
]

ParamValue = str | int | bool
Params = tuple[tuple[str, ParamValue], ...]
AZURE_NOT_DECLARED = (
    "no azure: section in the topology (declare azure.storage_account and/or azure.endpoints, "
    "and azure.proxy / azure.resolver if the servers use them)"
)
ENDPOINT_NIC = "endpoint"  # the dest_nic of an Azure endpoint cell (it is not a host)
DEFAULT_QUERY = {"public": "login.microsoftonline.com", "government": "login.microsoftonline.us"}
_TIME_SOURCES = ("time.nist.gov", "time.windows.com")
_BLOB = {"public": "blob.core.windows.net", "government": "blob.core.usgovcloudapi.net"}


def app_probe(rule: Rule, dst: Host, documented: int, topo: Topology) -> tuple[str, Params] | None:
    """(kind, params) of a cell from `rule` to `dst`; None: no probe for a UDP rule."""
    if documented == 53 and dst.has_role(Role.DNS_SERVER):
        query = dst.dns_query or DEFAULT_QUERY[topo.azure.cloud]
        return "dns", (("name", query), ("transport", rule.proto))
    if rule.proto == "udp":
        if documented == 123 and dst.has_role(Role.NTP_SERVER):
            return "ntp", ()
        return None
    hint = dst.tls
    if hint is not None:
        ports = hint.ports or (443, topo.ports.vcenter, topo.ports.replication_data)
        if documented in ports:
            data_port = rule.port is PortRef.REPLICATION_DATA
            http = (
                hint.http
                if hint.http is not None
                else (data_port and dst.has_role(Role.PROCESS_SERVER))
            )
            params: list[tuple[str, ParamValue]] = [("http", bool(http))]
            if hint.sni:
                params.insert(0, ("sni", hint.sni))
            return "tls", tuple(params)
    return "tcp_connect", ()


def endpoint_names(topo: Topology, catalog: Catalog) -> tuple[list[str], list[str]]:
    """The concrete endpoint names to probe, and why others are not probed."""
    az = topo.azure
    if not az.declared:
        return [], [AZURE_NOT_DECLARED]
    blob = f"{az.storage_account}.{_BLOB[az.cloud]}" if az.storage_account else None
    if az.endpoints is not None:
        names = list(az.endpoints)
        if blob and blob not in names:
            names.append(blob)
        return names, []
    listed = catalog.azure_endpoints if az.cloud == "public" else catalog.azure_government_endpoints
    names, why = [], []
    for pattern in listed:
        if pattern in _TIME_SOURCES:
            why.append(
                f"{pattern} is a time source (NTP, UDP 123), not probed over HTTPS: declare "
                f"the time server the hosts use as an ntp_server host"
            )
        elif pattern.startswith("*."):
            suffix = pattern[1:]
            if blob and blob.endswith(suffix):
                names.append(blob)
            else:
                how = (
                    "azure.storage_account: NAME or "
                    if "blob" in pattern or "usgov" in pattern
                    else ""
                )
                why.append(
                    f"{pattern} needs a concrete host name: declare {how}azure.endpoints: "
                    f"[<name>{suffix}, ...] (the names your vault uses; it replaces the catalog's list)"
                )
        else:
            names.append(pattern)
    return names, why


def _resolver_of(topo: Topology, src: Host) -> str | None:
    """What the endpoint probe resolves names with: IP[:PORT], or None (the host's own)."""
    choice = topo.azure.resolver
    if choice == "system":
        return None
    host = topo.find_host(choice) if choice else None
    if choice and host is None:
        return choice  # an IP[:PORT] literal
    if host is None:
        local = [h for h in topo.hosts if h.has_role(Role.DNS_SERVER) and h.site == src.site]
        if not local:
            return None
        host = local[0]
    address = str(host.nic_facing(src.site).address)
    port = topo.ports.probed(53)
    if ":" in address:
        return f"[{address}]:{port}"
    return address if port == 53 else f"{address}:{port}"


def endpoint_params(topo: Topology, src: Host) -> Params:
    out: list[tuple[str, ParamValue]] = []
    resolver = _resolver_of(topo, src)
    if resolver:
        out.append(("resolver", resolver))
    if topo.azure.proxy_text:
        out.append(("proxy", topo.azure.proxy_text))
    return tuple(out)


def describe(kind: str, params: Iterable[tuple[str, ParamValue]]) -> str:
    """A short plan column: 'tls sni=cs01.contoso.local GET /', 'dns udp A login…'."""
    p = dict(params)
    if kind == "tls":
        bits = (
            ["tls"]
            + ([f"sni={p['sni']}"] if "sni" in p else [])
            + (["GET /"] if p.get("http") else [])
        )
        return " ".join(bits)
    if kind == "dns":
        return f"dns {p.get('transport', 'udp')} A {p.get('name', '')}"
    if kind == "https_endpoint":
        via = f" via proxy {p['proxy']}" if "proxy" in p else ""
        res = f" resolver {p['resolver']}" if "resolver" in p else ""
        return f"tls+sni{via}{res}"
    return kind


#: The least time one attempt of a kind gets: a TLS handshake (two when the certificate
#: does not verify), a proxy's CONNECT and a name lookup take more than a TCP connect.
MIN_TIMEOUT_MS = {"tls": 3000, "https_endpoint": 5000}


def attempt_timeout_ms(kind: str, timeout_ms: int) -> int:
    return max(timeout_ms, MIN_TIMEOUT_MS.get(kind, 0))
