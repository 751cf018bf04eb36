"""The topology's `bandwidth:` section: which throughput tests a sweep runs.

```yaml
bandwidth:
  - {from: ps-azure, to: mt01, duration_s: 10, streams: 4}
  - {from: mt01, to: ps-azure, reverse: true, port: 9443}   # PS → MT data, MT dials
```

`from` is the host whose agent dials, `to` the host whose agent opens the
one-shot endpoint. Data flows from → to, or to → from with `reverse: true`
(for when only one side can open connections). `port` is the endpoint's port
(default 0: any free port; give the replication port, e.g. 9443, when a
firewall only lets that one through). Churn for the RPO verdict is declared in
the protected VMs' `inventory:` (`churn_gb_per_day`, `peak_churn_mb_s`).

This module imports nothing of `netcheck.topology.model` (the model imports it).
"""

from __future__ import annotations

from dataclasses import dataclass

from netcheck_agent.bounds import BW_DURATION_S, BW_STREAMS

from netcheck.topology.declare import BOOL, STRING, Key, Scalar, Section, in_range
from netcheck.yamlsource import Node

__all__ = [
    "DEFAULT_DURATION_S",
    "DEFAULT_STREAMS",
    "MAX_DURATION_S",
    "MAX_STREAMS",
    "BandwidthCheck",
    "parse_bandwidth",
]

DEFAULT_DURATION_S = 10.0
DEFAULT_STREAMS = 4
MAX_DURATION_S = BW_DURATION_S.hi
MAX_STREAMS = BW_STREAMS.hi  # the documented maximum of failback download threads per VM

_CHECK = Section(
    "bandwidth",
    "One throughput test between two hosts' agents. Data flows from → to, or to → from "
    "with `reverse: true`.",
    (
        Key("from", STRING, "The host whose agent dials.", required=True),
        Key("to", STRING, "The host whose agent opens the one-shot endpoint.", required=True),
        Key(
            "duration_s",
            in_range(BW_DURATION_S.lo, MAX_DURATION_S),
            "How long the test runs, in seconds.",
            default=DEFAULT_DURATION_S,
        ),
        Key(
            "streams",
            in_range(BW_STREAMS.lo, MAX_STREAMS),
            "Parallel TCP streams.",
            default=DEFAULT_STREAMS,
        ),
        Key(
            "reverse",
            BOOL,
            "The endpoint (`to`) sends: for when only one side can open connections.",
            default=False,
        ),
        Key(
            "port",
            Scalar("integer", minimum=0, maximum=65535),
            "The endpoint's port; 0: any free port. Give the replication port when a firewall only lets that one through.",
            default=0,
        ),
    ),
)
_KEYS = _CHECK.keys


@dataclass(frozen=True, slots=True)
class BandwidthCheck:
    """One throughput test between two hosts' agents."""

    source: str  # dials
    dest: str  # opens the endpoint
    duration_s: float = DEFAULT_DURATION_S
    streams: int = DEFAULT_STREAMS
    reverse: bool = False  # the endpoint (dest) sends
    port: int = 0  # endpoint port; 0 = any free port

    def __post_init__(self) -> None:
        if self.source == self.dest:
            raise ValueError(f"a bandwidth test needs two hosts, got {self.source} twice")
        for bound in (BW_DURATION_S, BW_STREAMS):  # as the flags and the agent check them
            why = bound.problem(getattr(self, bound.name))
            if why is not None:
                raise ValueError(f"{bound.name}: {why}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port ({self.port}) must be within 0..65535")

    @property
    def sender(self) -> str:
        """The host the data leaves from."""
        return self.dest if self.reverse else self.source

    @property
    def receiver(self) -> str:
        return self.source if self.reverse else self.dest

    @property
    def label(self) -> str:
        return f"{self.source}>{self.dest}" + (" (reverse)" if self.reverse else "")


def _check(node: Node, hosts: dict[str, tuple[bool, str]]) -> BandwidthCheck:
    m = node.as_mapping(_KEYS)
    for key in _CHECK.required:
        if key not in m:
            node.fail(f"a bandwidth test needs {key!r} (a host name)")
    ends = []
    for key in ("from", "to"):
        name = m[key].as_str()
        if name not in hosts:
            m[key].fail(f"unknown host {name!r}; hosts: {', '.join(sorted(hosts))}")
        runs, transport = hosts[name]
        if not runs:
            m[key].fail(
                f"host {name!r} has agent: {transport}; a bandwidth test needs an agent on both "
                "ends (give the host an agent, or test from another host)"
            )
        ends.append(name)
    if ends[0] == ends[1]:
        m["to"].fail("a bandwidth test joins two different hosts")
    for bound in (BW_DURATION_S, BW_STREAMS):
        if bound.name in m and (why := bound.problem(m[bound.name].value)) is not None:
            m[bound.name].fail(why)
    duration = float(m["duration_s"].value) if "duration_s" in m else DEFAULT_DURATION_S
    streams = int(m["streams"].value) if "streams" in m else DEFAULT_STREAMS
    return BandwidthCheck(
        source=ends[0],
        dest=ends[1],
        duration_s=duration,
        streams=streams,
        reverse=m["reverse"].as_bool() if "reverse" in m else False,
        port=m["port"].as_int(lo=0, hi=65535) if "port" in m else 0,
    )


def parse_bandwidth(node: Node, hosts: dict[str, tuple[bool, str]]) -> tuple[BandwidthCheck, ...]:
    """`bandwidth:` → checks. `hosts` maps a host name to (agent runs, transport name)."""
    checks: list[BandwidthCheck] = []
    seen: dict[BandwidthCheck, Node] = {}
    for item in node.as_list():
        check = _check(item, hosts)
        if check in seen:
            item.fail(f"the same test as line {seen[check].location.line}")
        seen[check] = item
        checks.append(check)
    return tuple(checks)
