"""The SSH transport prefers AES-GCM and still offers everything asyncssh offers."""

from __future__ import annotations

import asyncssh

from netcheck.transports.ssh import _cipher_order


def test_aes_gcm_first_and_every_default_still_offered() -> None:
    order = _cipher_order()
    assert order[:2] == ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
    defaults = [a.decode() for a in asyncssh.encryption.get_default_encryption_algs()]
    assert set(defaults) <= set(order)  # a host that spoke only ChaCha20 still connects
    assert len(order) == len(set(order))
    # only ciphers asyncssh itself would use: nothing weaker is added
    assert set(order) <= {a.decode() for a in asyncssh.encryption.get_encryption_algs()}
