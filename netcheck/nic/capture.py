"""Reading the captured handshakes: which interface a request left or arrived on, and
which one its reply used (pure). A reply on another NIC than the request is an
asymmetric return; strict reverse-path filtering drops it silently."""

from __future__ import annotations

from collections.abc import Sequence

from netcheck_agent import protocol as p

from netcheck.nic.live import Live
from netcheck.nic.model import NicCellResult, NicFinding, NicVerdict
from netcheck.topology.model import Host

__all__ = ["asymmetry", "path_notes"]

FAIL, WARN, PASS, UNKNOWN = NicVerdict.FAIL, NicVerdict.WARN, NicVerdict.PASS, NicVerdict.UNKNOWN


def _is_reply(flags: str) -> bool:
    return flags.startswith("SA") or "R" in flags


def _path(
    c: NicCellResult, packets: Sequence[p.CapturedPacket]
) -> tuple[set[str], set[str]] | None:
    """(interfaces the request was seen on, interfaces the reply was seen on), or None."""
    s = c.cell.spec
    req: set[str] = set()
    rep: set[str] = set()
    for pk in packets:
        if pk.src == s.source_address and pk.dst == s.dest_address and pk.dport == s.port:
            if pk.flags == "S":
                req.add(pk.iface)
        elif (
            pk.src == s.dest_address
            and pk.dst == s.source_address
            and pk.sport == s.port
            and _is_reply(pk.flags)
        ):
            rep.add(pk.iface)
    return (req, rep) if req or rep else None


def path_notes(
    cells: Sequence[NicCellResult], capture: p.CaptureResult | None, live: Live | None
) -> list[NicCellResult]:
    """Each cell with what the capture saw of its handshakes, in words."""
    if capture is None or capture.status != "captured":
        return list(cells)
    out = []
    for c in cells:
        seen = _path(c, capture.packets)
        if seen is None:
            out.append(c)
            continue
        req, rep = seen
        strict = {i for i in req | rep if live is not None and live.rp_filter(i) == 1}
        if c.cell.outbound:
            note = f"left {'/'.join(sorted(req)) or '?'}"
            note += f", reply on {'/'.join(sorted(rep))}" if rep else ", no reply seen"
            if rep - req and strict & (rep - req):
                note += f" (strict rp_filter on {'/'.join(sorted(strict & (rep - req)))} drops it)"
        else:
            note = f"arrived on {'/'.join(sorted(req)) or '?'}"
            note += f", answered from {'/'.join(sorted(rep))}" if rep else ", no answer left"
            back = _route_back(live, c.cell.peer_address)
            if not rep and req and strict & req and back is not None and back not in req:
                note += f" (strict rp_filter: the route back leaves via {back})"
        out.append(NicCellResult(c.cell, c.verdict, note))
    return out


def _route_back(live: Live | None, address: str) -> str | None:
    choice = live.routes.get(address) if live is not None else None
    return choice.iface if choice is not None else None


def asymmetry(
    host: Host, cells: Sequence[NicCellResult], capture: p.CaptureResult, live: Live | None
) -> list[NicFinding]:
    out = []
    flows = 0
    for c in cells:
        if not c.cell.expected:
            continue
        seen = _path(c, capture.packets)
        if seen is None:
            continue
        flows += 1
        req, rep = seen
        s = c.cell.spec
        nic = host.nic(c.cell.nic)
        held = live.holding(str(nic.address)) if live else None
        home = held[0].name if held else None
        rp = {i: live.rp_filter(i) for i in req | rep} if live else {}
        subject = f"{host.name}/{nic.name} {'→' if c.cell.outbound else '←'} {c.cell.peer}"
        if c.cell.outbound:
            wrong_exit = home is not None and req and home not in req
            back_elsewhere = rep and not rep <= req
            if not (wrong_exit or back_elsewhere):
                continue
            strict = [i for i in rep if rp.get(i) == 1 and i not in req]
            text = (
                f"a probe from {nic.name} {nic.address} to {c.cell.peer} {s.dest_address}:{s.port} "
                f"left via {'/'.join(sorted(req)) or '?'}"
                + (f" (not {home})" if wrong_exit else "")
                + (f"; its reply arrived on {'/'.join(sorted(rep))}" if rep else "; no reply seen")
                + (", where strict rp_filter drops it" if strict else "")
            )
        else:
            wrong_in = home is not None and req and home not in req
            answered_elsewhere = rep and not rep <= req
            back = _route_back(live, c.cell.peer_address)
            back_elsewhere = bool(req and not rep and back is not None and back not in req)
            if not (wrong_in or answered_elsewhere or back_elsewhere):
                continue
            strict = [i for i in req if rp.get(i) == 1]
            text = (
                f"{c.cell.peer}'s probe to {nic.name} {nic.address}:{s.port} arrived on "
                f"{'/'.join(sorted(req)) or '?'}"
                + (f" (not {home}, the interface holding it)" if wrong_in else "")
                + (f"; answered from {'/'.join(sorted(rep))}" if rep else "; no answer left")
                + (f" (the route back leaves via {back})" if back_elsewhere else "")
                + (" (strict rp_filter drops it)" if strict and not rep else "")
            )
        dropped = not rep or bool(strict)
        out.append(
            NicFinding(
                "nic-asymmetric-return",
                subject,
                FAIL if dropped else WARN,
                text,
                f"Make the network return traffic for {nic.address} on the {nic.name} NIC "
                f"(route {nic.address}'s subnet to that NIC on the gateways, not via another "
                f"NIC of {host.name}); strict reverse-path filtering drops replies that arrive "
                "on another NIC.",
            )
        )
    if out:
        return out
    if flows == 0:
        return [
            NicFinding(
                "nic-asymmetric-return",
                host.name,
                UNKNOWN,
                "the capture saw none of the flows the NIC-selection rule needs",
            )
        ]
    return [
        NicFinding(
            "nic-asymmetric-return",
            host.name,
            PASS,
            f"{flows} flow(s) captured: every reply came back on the NIC the request used",
        )
    ]
