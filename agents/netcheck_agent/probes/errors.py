"""Map an OS error from a connect attempt to a sample outcome. Pure.

The outcome is what the coordinator turns into a verdict, so the mapping is
deliberate: a refusal (RST) proves the path works and nothing listens; an
unreachable (ICMP unreachable, a local firewall's EACCES/EPERM, a source
address that is not ours) says where the path breaks. Windows reports the same
conditions with WSA error numbers (or Win32 ones through the proactor), so
those are mapped too.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import NamedTuple, Optional

OPEN = "open"
REFUSED = "refused"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
HANDSHAKE_ONLY = "handshake_only"
ERROR = "error"

# Windows Sockets and Win32 numbers, with the POSIX name they correspond to.
_WINDOWS_NAMES = {
    10013: "WSAEACCES",
    10048: "WSAEADDRINUSE",
    10049: "WSAEADDRNOTAVAIL",
    10050: "WSAENETDOWN",
    10051: "WSAENETUNREACH",
    10054: "WSAECONNRESET",
    10060: "WSAETIMEDOUT",
    10061: "WSAECONNREFUSED",
    10064: "WSAEHOSTDOWN",
    10065: "WSAEHOSTUNREACH",
    121: "ERROR_SEM_TIMEOUT",
    1225: "ERROR_CONNECTION_REFUSED",
    1231: "ERROR_NETWORK_UNREACHABLE",
    1232: "ERROR_HOST_UNREACHABLE",
}

_REFUSED = {_errno.ECONNREFUSED, 10061, 1225}
_TIMEOUT = {_errno.ETIMEDOUT, 10060, 121}
_UNREACHABLE = {
    _errno.EHOSTUNREACH,
    _errno.ENETUNREACH,
    _errno.ENETDOWN,
    _errno.EACCES,  # a local firewall (iptables REJECT/nft) refusing the send
    _errno.EPERM,  # ditto, for some reject types
    _errno.EADDRNOTAVAIL,  # the requested source address is not on this host
    10013,
    10049,
    10050,
    10051,
    10064,
    10065,
    1231,
    1232,
}
_EHOSTDOWN = getattr(_errno, "EHOSTDOWN", None)
if _EHOSTDOWN is not None:
    _UNREACHABLE.add(_EHOSTDOWN)


class Classified(NamedTuple):
    outcome: str
    errno: Optional[int]
    detail: str


def errno_name(number: int) -> str:
    """Symbolic name of an errno/WSA/Win32 number (``E123`` if unknown)."""
    return _errno.errorcode.get(number) or _WINDOWS_NAMES.get(number) or f"E{number}"


def classify_oserror(exc: OSError) -> Classified:
    """Outcome, error number and ``"NAME: text"`` detail for a failed connect."""
    # The proactor keeps the Win32 code in winerror; prefer it when it is one we know.
    winerror = getattr(exc, "winerror", None)
    number = winerror if winerror in _WINDOWS_NAMES else exc.errno
    if number is None:
        return Classified(ERROR, None, f"{type(exc).__name__}: {exc}")
    # os.strerror, not exc.strerror: asyncio puts "Connect call failed (addr)" there.
    text = os.strerror(number) if number in _errno.errorcode else (exc.strerror or str(exc))
    detail = f"{errno_name(number)}: {text}"
    if number in _REFUSED or isinstance(exc, ConnectionRefusedError):
        return Classified(REFUSED, number, detail)
    if number in _TIMEOUT:
        return Classified(TIMEOUT, number, detail)
    if number in _UNREACHABLE:
        return Classified(UNREACHABLE, number, detail)
    return Classified(ERROR, number, detail)
