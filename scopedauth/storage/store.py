"""TokenStore: token records over any :class:`~scopedauth.backends.Backend`.

What it adds to a raw backend:

* JSON v1 records (:class:`~scopedauth.tokens.Token`), decoded strictly: a corrupt or foreign
  value is a :class:`StorageError` and is never overwritten or deleted by a read path.
* Chunking for capped backends (Windows Credential Manager), when a value is longer than
  ``backend.max_value`` UTF-16 units: the value is written to numbered entries
  ``<key>#<generation>#<i>`` (``i`` from 0, each at most ``max_value - 8`` units) first, then
  the main entry becomes the header ``scopedauth-chunks:v1:<generation>:<count>:<sha256>``
  (``generation``: ``0`` or ``1``, the slot the header does not name, older versions wrote
  random hex; ``sha256``: the first 32 hex digits of the SHA-256 of the whole value's UTF-8),
  then the previous generation is removed. A crash at any point leaves either the old or the
  new record readable, never half; a missing or altered chunk is a :class:`StorageError`.
  Chunks a failed save left behind sit in the unnamed slot, where the next save and a delete
  find them without listing the keyring.
* An index entry (``.index``, ``{"version": 1, "keys": [...]}``) listing the stored keys,
  because keyrings cannot be enumerated.
* Write-only-on-change: ``save`` skips the write when the bytes are those last read or written,
  or those the backend already holds (macOS Keychain asks the user on every write).
"""

from __future__ import annotations

import json
import os
import re

from ..config import STORAGE_KINDS, Target
from ..errors import ConfigError, StorageError
from ..log import logger
from ..tokens import Token
from .backends import Backend, FileBackend, KeyringBackend, MemoryBackend, value_length

__all__ = ["CHUNK_HEADER", "INDEX_KEY", "TokenStore", "open_store"]


CHUNK_HEADER = "scopedauth-chunks:v1:"
INDEX_KEY = ".index"
_MAX_CHUNKS = 9999
_HEADER = re.compile(r"([0-9a-f]{1,32}):([1-9][0-9]{0,3}):([0-9a-f]{32})")  # count: 1.._MAX_CHUNKS
_CHUNK_OVERHEAD = 8  # units kept free in every chunk for any per-entry overhead of the backend
_SLOTS = ("0", "1")  # the two chunk generations a record alternates between (older versions: random hex)
_READ_ATTEMPTS = 20  # header changes a lock-free read follows before giving up (a writer in a loop)


class _CorruptEntryError(StorageError):
    """The stored bytes are wrong (as opposed to the backend failing to answer)."""


class _UnlistableIndexError(StorageError):
    """The index is corrupt and the backend cannot list its keys to rebuild it."""


class _ChunksChangedError(_CorruptEntryError):
    """A chunk is missing or does not match its header: damage, or a writer rotating under us."""


def _digest(value: str) -> str:
    import hashlib  # chunked values only: keep it off the hot path

    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _parse_header(head: str) -> tuple[str, int, str] | None:
    """``(generation, count, digest)`` of a chunk header; None for a plain value; ValueError if bad."""
    if not head.startswith(CHUNK_HEADER):
        return None
    match = _HEADER.fullmatch(head[len(CHUNK_HEADER) :])
    if match is None:
        raise ValueError(head)
    return match[1], int(match[2]), match[3]


def _split(value: str, size: int) -> list[str]:
    """Pieces of at most ``size`` UTF-16 units, never splitting a surrogate pair."""
    if value.isascii():
        return [value[i : i + size] for i in range(0, len(value), size)]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in value:
        units = 2 if ord(char) > 0xFFFF else 1
        if used + units > size and current:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += units
    if current:
        parts.append("".join(current))
    return parts


def _chunk_key(key: str, generation: str, index: int) -> str:
    return f"{key}#{generation}#{index}"


class TokenStore:
    """Records keyed by :attr:`Target.key`. Not locked itself: callers take the target's lock."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._seen: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.backend.name

    # -- raw values with chunking -------------------------------------------------------------

    def _assemble(self, key: str, head: str) -> str:
        """The value behind ``head`` (a plain value, or a chunk header whose chunks are read)."""
        try:
            header = _parse_header(head)
        except ValueError:
            raise _CorruptEntryError(f"the chunk header of {key!r} is corrupt; it was left untouched") from None
        if header is None:
            return head
        gen, count, digest = header
        parts = []
        for i in range(count):
            part = self.backend.get(_chunk_key(key, gen, i))
            if part is None:
                raise _ChunksChangedError(f"chunk {i} of {key!r} is missing; the entry was left untouched")
            parts.append(part)
        value = "".join(parts)
        if _digest(value) != digest:
            raise _ChunksChangedError(f"the chunks of {key!r} do not match their header; the entry was left untouched")
        return value

    def _get_raw(self, key: str) -> str | None:
        """The whole value, read without a lock while a writer may be rotating its chunks.

        A writer removes a generation's chunks only after the header names the next one, so a
        chunk that is missing (or does not match) while the header has meanwhile changed is a
        race, not damage: read again. Bad chunks under the same header twice running are corrupt.
        """
        head, suspect = self.backend.get(key), None
        for _ in range(_READ_ATTEMPTS):
            if head is None:
                return None
            try:
                return self._assemble(key, head)
            except _ChunksChangedError:
                again = self.backend.get(key)
                if again == head == suspect:
                    raise
                head, suspect = again, head
        raise StorageError(f"the entry {key!r} kept changing while it was read; try again")

    @staticmethod
    def _header_of(head: str | None) -> tuple[str, int, str] | None:
        try:
            return _parse_header(head) if head else None
        except ValueError:
            return None  # a corrupt header names no chunks we could safely delete

    def _set_raw(self, key: str, value: str, head: str | None = None, *, head_known: bool = False) -> None:
        """Write ``value``: chunks of the other generation slot first, then the header, then drop the old.

        A failure before the header is written leaves the old record (and removes the new
        chunks written so far, if the backend lets us); a failure after leaves the new one.
        Chunks a failed save could not remove sit in the slot the header does not name, so the
        next successful save (which writes that slot) and a delete find and remove them.
        """
        if not head_known:
            head = self.backend.get(key)
        old = self._header_of(head)
        cap = self.backend.max_value
        gen, count = "", 0
        if cap is None or value_length(value) <= cap:
            self.backend.set(key, value)
        else:
            gen = _SLOTS[1] if old is not None and old[0] == _SLOTS[0] else _SLOTS[0]
            chunks = _split(value, max(1, cap - _CHUNK_OVERHEAD))
            if len(chunks) > _MAX_CHUNKS:
                raise StorageError(f"a value for {key!r} would need {len(chunks)} chunks; the limit is {_MAX_CHUNKS}")
            written: list[str] = []
            try:
                for i, chunk in enumerate(chunks):
                    written.append(_chunk_key(key, gen, i))
                    self.backend.set(written[-1], chunk)
                self.backend.set(key, f"{CHUNK_HEADER}{gen}:{len(chunks)}:{_digest(value)}")
            except StorageError:
                self._delete_quietly(written)
                raise
            count = len(chunks)
        if old is not None:
            self._delete_quietly([_chunk_key(key, old[0], i) for i in range(old[1])])
        if cap is not None:
            self._sweep(key, gen, count)

    def _sweep(self, key: str, gen: str = "", count: int = 0) -> None:
        """Remove chunks of ``key`` beyond the ``count`` of generation ``gen``: orphans of failed saves.

        Probes both slots (one read each, usually), so it works on keyrings that cannot be listed.
        """
        for slot in _SLOTS:
            i = count if slot == gen else 0
            while i < _MAX_CHUNKS and self.backend.get(_chunk_key(key, slot, i)) is not None:
                self._delete_quietly([_chunk_key(key, slot, i)])
                i += 1

    def _delete_quietly(self, keys: list[str]) -> None:
        for chunk in keys:
            try:
                self.backend.delete(chunk)
            except StorageError as exc:  # an orphaned chunk is harmless; the record is consistent
                logger().debug("could not remove the stale chunk %s: %s", chunk, exc)

    def _delete_raw(self, key: str) -> bool:
        head = self.backend.get(key)
        if head is not None:
            self.backend.delete(key)
            old = self._header_of(head)
            if old is not None:
                self._delete_quietly([_chunk_key(key, old[0], i) for i in range(old[1])])
        if self.backend.max_value is not None:
            self._sweep(key)
        chunk = re.compile(re.escape(key) + r"#[0-9a-f]{1,32}#[0-9]{1,4}")
        self._delete_quietly([k for k in self._listed() or () if chunk.fullmatch(k)])  # any generation, old ones too
        return head is not None

    def _listed(self) -> list[str] | None:
        """Every key the backend can list; None when it cannot (most keyrings) or fails to."""
        lister = getattr(self.backend, "list_keys", None)
        try:
            return lister() if lister is not None else None
        except StorageError as exc:
            logger().debug("could not list %s: %s", self.name, exc)
            return None

    # -- records ------------------------------------------------------------------------------

    def load(self, target: Target) -> Token | None:
        """The stored record for ``target``; None if there is none; StorageError if unreadable.

        Never writes: a corrupt or foreign value stays exactly as it was.
        """
        key = target.key
        self._seen.pop(key, None)
        raw = self._get_raw(key)
        if raw is None:
            return None
        try:
            token = Token.from_json(raw, where=f"entry {key!r}")
        except StorageError as exc:  # name the store only now: naming it may import the keyring package
            raise StorageError(f"{exc} (store: {self.name})") from None
        if token.target != target:
            raise _CorruptEntryError(f"the entry {key!r} holds a record for another target; it was left untouched")
        self._seen[key] = raw
        return token.replace(target=target)

    def save(self, token: Token) -> bool:
        """Write the record (and index it). Returns False when the stored bytes are already these.

        Compared with what this object last read or wrote, else with what the backend holds
        (one read), so an unchanged record is never rewritten (macOS asks the user on writes).
        """
        key = token.target.key
        raw = token.to_json()
        if self._seen.get(key) == raw:
            return False
        head = self.backend.get(key)
        try:
            current = None if head is None else self._assemble(key, head)
        except _CorruptEntryError:
            current = None
        changed = current != raw
        if changed:
            self._set_raw(key, raw, head, head_known=True)
        self._seen[key] = raw
        try:
            self._index_add(key)
        except StorageError as exc:  # the record itself is stored; the next save retries
            logger().warning("stored %s, but could not update the index: %s", key, exc)
        return changed

    def delete(self, target: Target) -> bool:
        """Remove the record and its chunks; True if there was one."""
        key = target.key
        self._seen.pop(key, None)
        existed = self._delete_raw(key)
        try:
            self._index_remove(key)
        except _UnlistableIndexError as exc:  # a stale key in an index is harmless: it loads as nothing
            logger().warning("deleted %s, but could not update the index: %s", key, exc)
        return existed

    def forget_cache(self) -> None:
        """Drop what this object remembers having read (another process may have written)."""
        self._seen.clear()

    # -- index --------------------------------------------------------------------------------

    def keys(self) -> list[str]:
        """The stored keys: from the index entry (keyrings cannot be enumerated in general).

        A corrupt index is never taken as "nothing stored": the keys come from the backend's
        listing when it has one (nothing is written here), else :class:`StorageError`.
        """
        return self._index_keys()[0]

    def _read_index(self) -> list[str]:
        raw = self._get_raw(INDEX_KEY)
        if not raw:
            return []
        try:
            data = json.loads(raw)
            keys = data["keys"]
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise _CorruptEntryError(f"the index entry {INDEX_KEY!r} in {self.name} is corrupt") from None
        return sorted(set(keys))

    def _index_keys(self) -> tuple[list[str], bool]:
        """``(keys, rebuilt)``: the index's keys, or those listed by the backend when it is corrupt."""
        try:
            return self._read_index(), False
        except _CorruptEntryError:
            listed = self._listed()
            if listed is None:
                raise _UnlistableIndexError(
                    f"the index entry {INDEX_KEY!r} in {self.name} is corrupt and this store cannot be listed to "
                    "rebuild it; it was left untouched, so 'status' and 'logout --all' cannot see every grant. "
                    f"Log out of each grant by name, then delete the entry {INDEX_KEY!r} to start a new index"
                ) from None
        logger().warning(
            "the index entry %r in %s is corrupt: rebuilding it from the store's listing", INDEX_KEY, self.name
        )
        return sorted({k for k in listed if _is_record_key(k)}), True

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
            keys, rebuilt = self._index_keys()
            if rebuilt or key not in keys:
                self._set_raw(INDEX_KEY, json.dumps({"version": 1, "keys": sorted({*keys, key})}))

    def _index_remove(self, key: str) -> None:
        from .locks import index_lock

        with index_lock():
            keys, rebuilt = self._index_keys()
            if rebuilt or key in keys:
                self._set_raw(INDEX_KEY, json.dumps({"version": 1, "keys": sorted(set(keys) - {key})}))


def _is_record_key(key: str) -> bool:
    """A record's key, not the index, a chunk or a kept secret (scopes never hold '#': config._KEY_SCOPE)."""
    try:
        Target.from_key(key)
    except ConfigError:
        return False
    return True


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
    raise ConfigError(f"unknown storage {kind!r}: choose one of {', '.join(STORAGE_KINDS)}")


_MEMORY = MemoryBackend()
