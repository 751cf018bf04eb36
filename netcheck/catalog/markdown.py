"""The shipped port matrix as Markdown, for docs/asr-ports.md. Pure.

The page's tables are generated from the catalog, so what a user reads is what
the sweep checks; a test compares the page with this output. Regenerate with
``python -m netcheck.catalog.markdown > docs/asr-ports.md``.
"""

from __future__ import annotations

from netcheck.catalog import Catalog, PortRef, Rule, Scope, load_catalog
from netcheck.catalog.docrefs import doc_links

__all__ = ["render_port_matrix"]

_PORT_NAMES = {
    PortRef.REPLICATION_DATA: "9443 (`ports.replication_data`, changeable)",
    PortRef.VCENTER: "443 (`ports.vcenter`, changeable)",
}

_INTRO = """\
# The ASR failback port matrix netcheck checks

<!-- Generated from netcheck/catalog/asr_failback.yaml by
     `python -m netcheck.catalog.markdown > docs/asr-ports.md`; a test keeps it in step. -->

These are the flows an Azure Site Recovery (classic, VMware/physical) failback
needs, as netcheck's built-in catalog encodes them. Each row cites the public
Azure Site Recovery documentation it comes from. **Evidence** says how sure the
port is: *documented* — the port number is written in the docs' text;
*inferred* — the flow is documented but its port only appears in a diagram or
follows from another documented row (reports mark such verdicts "inferred").
`flows` are the row numbers the reports' JSON (`cells[].flows`) refers to.
"""

_PREREQUISITES = """\
## Failback prerequisites the readiness checks use

From [Prepare for failback](https://learn.microsoft.com/azure/site-recovery/vmware-azure-prepare-failback)
and [Plan capacity](https://learn.microsoft.com/azure/site-recovery/site-recovery-plan-capacity-vmware);
`docs/readiness.md` lists each check.

- The configuration server runs and is connected to Azure; a restored one keeps its IP address.
- Retained IP addresses: the configuration server needs **two NICs**, one for the source
  machines and one for Azure failback, so the source and failed-over subnets don't overlap;
  the VPN/ExpressRoute must reach the failback NIC. NICs can't be added after registration.
- The process server in Azure sits in the failed-over VMs' network and reaches the
  configuration server and the master target. With only a site-to-site VPN it must be in Azure.
- The master target: at most **60 disks**; the same OS family as the VMs of a replication group
  and the same or a newer version; no snapshots; LSI Logic SCSI controller (not Paravirtual);
  excluded from Storage vMotion; `disk.EnableUUID=true`; VMware Tools / open-vm-tools; its ESXi
  host has a VMFS datastore (NFS unsupported), mounted read/write.
- The retention volume is used for nothing else, not locked, not a cache volume, not FAT/FAT32,
  capacity > 0; default `R:` (Windows), `/mnt/retention` (Linux).
- The failback policy is fixed: RPO threshold 15 min, recovery points kept 24 h,
  app-consistent snapshot every 60 min.
- One process server carries up to 2 TB of changes a day; a VM's peak churn is 54 MB/s.
"""


def _port(rule: Rule) -> str:
    if isinstance(rule.port, PortRef):
        return _PORT_NAMES[rule.port]
    return str(rule.port)


def _targets(rule: Rule) -> str:
    return ", ".join(t if isinstance(t, str) else t.value for t in rule.targets)


def _sources(rule: Rule) -> str:
    return ", ".join(s.value for s in rule.sources)


def _when(rule: Rule) -> str:
    parts = []
    if rule.scope is Scope.SAME_SITE:
        parts.append("same site")
    if rule.same_group:
        parts.append("same replication group")
    if rule.dest_os:
        parts.append(f"{rule.dest_os} destinations")
    if not rule.expect_reachable:
        parts.append("must NOT be reachable")
    return "; ".join(parts)


def _docs(rule: Rule) -> str:
    return "<br>".join(
        f"[{link.url.rsplit('/', 1)[-1]}]({link.url})" for link in doc_links(rule.doc)
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_port_matrix(catalog: Catalog) -> str:
    lines = [
        _INTRO,
        "## Flows",
        "",
        "| rule | flows | from → to | proto/port | phase | when | evidence | errors | documentation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in catalog.rules:
        flows = ", ".join(str(f) for f in r.flows)
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    f"`{r.id}`",
                    flows,
                    f"{_sources(r)} → {_targets(r)}",
                    f"{r.proto.upper()} {_port(r)}",
                    r.phase,
                    _when(r),
                    r.evidence.value,
                    ", ".join(r.errors),
                    _docs(r),
                )
            )
            + " |"
        )
    lines += [
        "",
        "## Azure endpoints the configuration server and process server reach over HTTPS 443",
        "",
        "| cloud | endpoints |",
        "|---|---|",
        "| Azure (public) | " + ", ".join(f"`{e}`" for e in catalog.azure_endpoints) + " |",
        "| Azure Government | "
        + ", ".join(f"`{e}`" for e in catalog.azure_government_endpoints)
        + " |",
        "",
        "## What to change when a cell fails",
        "",
    ]
    for r in catalog.rules:
        lines.append(f"- `{r.id}`: {_cell(r.hint)}")
    lines += ["", _PREREQUISITES]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - the regeneration command
    print(render_port_matrix(load_catalog()), end="")
