"""asyncssh, imported without its crypto backend's deprecation noise.

cryptography 43 and later warn (``CryptographyDeprecationWarning``, a
``UserWarning``, so shown by default) each time asyncssh's modules name the DSA
key types at import: five warnings with source lines on the user's terminal at
every SSH sweep. netcheck never offers, accepts or loads a DSA key (see
``_cipher_order`` and the key checks in :mod:`netcheck.transports.ssh`), so the
warning says nothing to the user. It is silenced for this import only; every
other warning still shows.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="DSA is deprecated", category=UserWarning)
    import asyncssh

__all__ = ["asyncssh"]
