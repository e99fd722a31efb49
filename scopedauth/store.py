"""TokenStore: token records over any :class:`~scopedauth.backends.Backend`.

What it adds to a raw backend:

* JSON v1 records (:class:`~scopedauth.tokens.Token`), decoded strictly: a corrupt or foreign
  value is a :class:`StorageError` and is never overwritten by a read path.
* Chunking for capped backends (Windows Credential Manager): the value is written to numbered
  entries ``<key>#<generation>#<i>`` first, then the main entry becomes the header
  ``scopedauth-chunks:v1:<generation>:<count>:<sha256>``, then the previous generation is
  removed. A crash at any point leaves either the old or the new record readable, never half.
* An index entry (``.index``) listing the stored keys, because keyrings cannot be enumerated.
* Write-only-on-change: ``save`` skips the write when the bytes are those last read or written
  (macOS Keychain asks the user on every write).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets

from .backends import Backend, FileBackend, KeyringBackend, MemoryBackend
from .config import Target
from .errors import ConfigError, StorageError
from .tokens import Token

__all__ = ["CHUNK_HEADER", "INDEX_KEY", "TokenStore", "open_store"]

CHUNK_HEADER = "scopedauth-chunks:v1:"
INDEX_KEY = ".index"
_STORAGE_KINDS = ("keyring", "file", "memory")


class TokenStore:
    """Records keyed by :attr:`Target.key`. Not locked itself: callers take the target's lock."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._seen: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.backend.name

    # -- raw values with chunking -------------------------------------------------------------

    def _get_raw(self, key: str) -> str | None:
        head = self.backend.get(key)
        if head is None or not head.startswith(CHUNK_HEADER):
            return head
        try:
            gen, count_s, digest = head[len(CHUNK_HEADER) :].split(":")
            count = int(count_s)
        except ValueError:
            raise StorageError(f"the chunk header of {key!r} is corrupt; it was left untouched") from None
        parts = []
        for i in range(count):
            part = self.backend.get(f"{key}#{gen}#{i}")
            if part is None:
                raise StorageError(f"chunk {i} of {key!r} is missing; the entry was left untouched")
            parts.append(part)
        value = "".join(parts)
        if hashlib.sha256(value.encode()).hexdigest()[:32] != digest:
            raise StorageError(f"the chunks of {key!r} do not match their header; the entry was left untouched")
        return value

    def _old_generation(self, key: str) -> tuple[str, int] | None:
        head = self.backend.get(key)
        if head and head.startswith(CHUNK_HEADER):
            gen, count, _ = head[len(CHUNK_HEADER) :].split(":")
            return gen, int(count)
        return None

    def _set_raw(self, key: str, value: str) -> None:
        cap = self.backend.max_value
        try:
            old = self._old_generation(key)
        except (ValueError, StorageError):
            old = None
        if cap is None or len(value) <= cap:
            self.backend.set(key, value)
        else:
            size = cap - 8  # leave room for any per-entry overhead of the backend
            gen = secrets.token_hex(4)
            chunks = [value[i : i + size] for i in range(0, len(value), size)]
            for i, chunk in enumerate(chunks):
                self.backend.set(f"{key}#{gen}#{i}", chunk)
            digest = hashlib.sha256(value.encode()).hexdigest()[:32]
            self.backend.set(key, f"{CHUNK_HEADER}{gen}:{len(chunks)}:{digest}")
        if old:
            for i in range(old[1]):
                self.backend.delete(f"{key}#{old[0]}#{i}")

    def _delete_raw(self, key: str) -> bool:
        try:
            old = self._old_generation(key)
        except (ValueError, StorageError):
            old = None
        existed = self.backend.get(key) is not None
        self.backend.delete(key)
        if old:
            for i in range(old[1]):
                self.backend.delete(f"{key}#{old[0]}#{i}")
        return existed

    # -- records ------------------------------------------------------------------------------

    def load(self, target: Target) -> Token | None:
        """The stored record for ``target``; None if there is none; StorageError if unreadable."""
        key = target.key
        raw = self._get_raw(key)
        if raw is None:
            return None
        self._seen[key] = raw
        token = Token.from_json(raw, where=f"{self.name} entry {key!r}")
        if token.target != target:
            raise StorageError(f"the entry {key!r} holds a record for another target; it was left untouched")
        return token.replace(target=target)

    def save(self, token: Token) -> bool:
        """Write the record (and index it). Returns False when nothing changed."""
        key = token.target.key
        raw = token.to_json()
        if self._seen.get(key) == raw:
            return False
        self._set_raw(key, raw)
        self._seen[key] = raw
        self._index_add(key)
        return True

    def delete(self, target: Target) -> bool:
        key = target.key
        existed = self._delete_raw(key)
        self._seen.pop(key, None)
        self._index_remove(key)
        return existed

    def forget_cache(self) -> None:
        """Drop what this object remembers having read (another process may have written)."""
        self._seen.clear()

    # -- index --------------------------------------------------------------------------------

    def keys(self) -> list[str]:
        raw = self._get_raw(INDEX_KEY)
        if not raw:
            return []
        try:
            data = json.loads(raw)
            keys = data["keys"]
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise StorageError(f"the index entry {INDEX_KEY!r} in {self.name} is corrupt") from None
        return sorted(set(keys))

    def targets(self) -> list[Target]:
        found = []
        for key in self.keys():
            try:
                found.append(Target.from_key(key))
            except ConfigError:
                continue
        return found

    def _index_add(self, key: str) -> None:
        from .locks import index_lock

        with index_lock():
            keys = self._keys_or_empty()
            if key not in keys:
                self._set_raw(INDEX_KEY, json.dumps({"version": 1, "keys": sorted({*keys, key})}))

    def _index_remove(self, key: str) -> None:
        from .locks import index_lock

        with index_lock():
            keys = self._keys_or_empty()
            if key in keys:
                self._set_raw(INDEX_KEY, json.dumps({"version": 1, "keys": sorted(set(keys) - {key})}))

    def _keys_or_empty(self) -> list[str]:
        try:
            return self.keys()
        except StorageError:
            return []  # a corrupt index is rebuilt from what we write next


def open_store(kind: str | None = None) -> TokenStore:
    """The store the user chose: ``--storage`` / ``SCOPEDAUTH_STORAGE``, default the OS keyring.

    The file store is plaintext and therefore never chosen automatically.
    """
    kind = (kind or os.environ.get("SCOPEDAUTH_STORAGE") or "keyring").lower()
    if kind == "keyring":
        return TokenStore(KeyringBackend())
    if kind == "file":
        return TokenStore(FileBackend())
    if kind == "memory":
        return TokenStore(_MEMORY)
    raise ConfigError(f"unknown storage {kind!r}: choose one of {', '.join(_STORAGE_KINDS)}")


_MEMORY = MemoryBackend()
