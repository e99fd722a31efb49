"""Operator tasks on a hosted store: re-encrypt every session under the keyring's first key."""

from __future__ import annotations

from dataclasses import dataclass

from .keys import Keyring
from .model import HostedStore
from .refresh import session_aad

__all__ = ["RotationResult", "rotate_keys"]


@dataclass(frozen=True)
class RotationResult:
    rotated: int  # re-encrypted under the first key now
    current: int  # already under the first key (or revoked: no ciphertext left)
    raced: int  # refreshed by a replica meanwhile, so already written under the first key


def rotate_keys(store: HostedStore, keys: Keyring) -> RotationResult:
    """Re-encrypt every session row not under ``keys.primary``.

    Each write is a compare-and-set on the row's generation and old key id, so a replica
    refreshing the same row at the same time wins, and its write already uses the first key.
    Login attempts are not rewritten: they live ten minutes, so keep an old key in the keyring
    for ten minutes after the rotation before removing it.
    """
    rotated = current = raced = 0
    for row in store.iter_sessions():
        if row.kid == keys.primary or not row.ciphertext:
            current += 1
            continue
        plain = keys.decrypt(row.kid, row.ciphertext, session_aad(row))
        kid, blob = keys.encrypt(plain, session_aad(row))
        if store.rewrap(row.id_hash, row.generation, row.kid, kid=kid, ciphertext=blob):
            rotated += 1
        else:
            raced += 1
    return RotationResult(rotated, current, raced)
