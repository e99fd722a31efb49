"""Storage under attack or accident: races, corrupt indexes, colliding keys, orphaned chunks.

Regression tests for the storage findings of the security audit (issue 9: findings 6 and 12).
Real parts only: the size-capped dict keyring of ``tests/keyring_backends`` stands in for
Windows Credential Manager, behind the real :class:`KeyringBackend`.
"""

from __future__ import annotations

import threading

import pytest

from scopedauth.config import Target
from scopedauth.errors import ConfigError, StorageError
from scopedauth.storage.backends import FileBackend, KeyringBackend, MemoryBackend
from scopedauth.storage.store import INDEX_KEY, TokenStore
from tests.keyring_backends import WINDOWS_BLOB_BYTES, CappedKeyring, FlakyKeyring
from tests.test_store_contract import make_target, make_token

# -- finding 6: lock-free reads racing chunk rotation ----------------------------------------


def test_reads_racing_a_writer_on_a_capped_keyring_never_fail() -> None:
    """A writer rotates chunk generations while a reader reads: every read succeeds."""
    kr = CappedKeyring()
    backend = KeyringBackend(kr)
    target = make_target()
    TokenStore(backend).save(make_token(target, size=6144))
    saves, done = 300, threading.Event()
    writer_errors: list[BaseException] = []

    def write() -> None:
        store = TokenStore(backend)
        try:
            for _ in range(saves):
                store.save(make_token(target, size=6144))
        except BaseException as exc:  # reported by the main thread
            writer_errors.append(exc)
        finally:
            done.set()

    reader = TokenStore(backend)
    errors: list[str] = []
    seen: set[str] = set()
    thread = threading.Thread(target=write)
    thread.start()
    while not done.is_set():
        try:
            token = reader.load(target)
            assert token is not None
            seen.add(token.access_token)
        except StorageError as exc:
            errors.append(str(exc))
    thread.join()
    assert writer_errors == []
    assert errors == []
    assert len(seen) > 1  # the reader really did overlap the writer's rotations
