"""The TokenStore contract, run against every store (memory, file, the real Secret Service),
then chunking over a size-capped keyring and the file store's on-disk guarantees.

Like keyring's ``BackendBasicTests``: one suite, every backend. Real parts only: the keyring
cases go through the real Secret Service or the dict-backed keyrings in ``keyring_backends``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from keyring.errors import PasswordSetError

from scopedauth.config import Target
from scopedauth.errors import ConfigError, StorageError
from scopedauth.storage.backends import Backend, FileBackend, KeyringBackend, MemoryBackend, value_length
from scopedauth.storage.store import CHUNK_HEADER, INDEX_KEY, TokenStore, open_store
from scopedauth.tokens import Token, utcnow
from tests.keyring_backends import WINDOWS_BLOB_BYTES, CappedKeyring, FlakyKeyring

HOST = "https://adb-1234567890123456.7.azuredatabricks.net"
HEADER_RE = re.compile(re.escape(CHUNK_HEADER) + r"([0-9a-f]+):(\d+):([0-9a-f]{32})")


def make_target(
    *scopes: str, host: str = HOST, client_id: str = "databricks-cli", account: str | None = None
) -> Target:
    return Target(
        host=host, client_id=client_id, scopes=tuple(sorted(scopes or ("offline_access", "sql"))), account_id=account
    )


def make_token(target: Target, *, size: int = 0, refresh: bool = True) -> Token:
    """A token whose times survive the JSON round trip (second precision)."""
    now = utcnow().replace(microsecond=0)
    access = "eyJ" + secrets.token_urlsafe(max(24, size))[: max(24, size)]
    return Token(
        target=target,
        access_token=access,
        expiry=now + timedelta(hours=1),
        refresh_token=("dor-" + secrets.token_hex(16)) if refresh else None,
        granted_scopes=target.scopes,
        token_endpoint=f"{target.host}/oidc/v1/token",
        obtained_at=now,
    )


def purge_service(service: str) -> None:
    """Delete every Secret Service item of a test's private service name."""
    import secretstorage

    connection = secretstorage.dbus_init()
    with closing(connection):
        collection = secretstorage.get_default_collection(connection)
        for item in collection.search_items({"service": service}):
            item.delete()


@pytest.fixture
def store(any_store: TokenStore) -> Iterator[TokenStore]:
    """``any_store``; the Secret Service one under a private service name, purged afterwards."""
    backend = any_store.backend
    if isinstance(backend, KeyringBackend):
        backend.service = f"scopedauth-test-{secrets.token_hex(6)}"
        try:
            yield any_store
        finally:
            purge_service(backend.service)
    else:
        yield any_store


class CountingBackend:
    """Passes through to another backend, recording every write and delete."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.sets: list[str] = []
        self.deletes: list[str] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def max_value(self) -> int | None:
        return self.inner.max_value

    def get(self, key: str) -> str | None:
        return self.inner.get(key)

    def set(self, key: str, value: str) -> None:
        self.sets.append(key)
        self.inner.set(key, value)

    def delete(self, key: str) -> None:
        self.deletes.append(key)
        self.inner.delete(key)


# -- the contract, every store ---------------------------------------------------------------


def test_round_trip(store: TokenStore) -> None:
    target = make_target()
    token = make_token(target)
    assert store.save(token) is True
    loaded = store.load(target)
    assert loaded == token
    assert loaded is not None and loaded.access_token == token.access_token
    assert loaded.refresh_token == token.refresh_token and loaded.expiry == token.expiry
    # a fresh store over the same backend reads the same record (nothing only in memory)
    assert TokenStore(store.backend).load(target) == token
    # the caller's target (with its profile) comes back, not a copy decoded from the record
    with_profile = Target(target.host, target.client_id, target.scopes, None, profile="dev")
    again = store.load(with_profile)
    assert again is not None and again.target.profile == "dev"


def test_missing_is_none(store: TokenStore) -> None:
    target = make_target("sql")
    assert store.load(target) is None
    assert store.delete(target) is False
    assert store.keys() == []
    assert store.targets() == []


def test_overwrite(store: TokenStore) -> None:
    target = make_target()
    first, second = make_token(target), make_token(target)
    assert store.save(first) is True
    assert store.save(second) is True
    assert store.load(target) == second
    assert TokenStore(store.backend).load(target) == second
    assert store.keys() == [target.key]


def test_delete(store: TokenStore) -> None:
    target, other = make_target(), make_target("all-apis")
    store.save(make_token(target))
    kept = make_token(other)
    store.save(kept)
    assert store.delete(target) is True
    assert store.load(target) is None
    assert store.backend.get(target.key) is None
    assert store.delete(target) is False
    assert store.keys() == [other.key]
    assert store.load(other) == kept


def test_index_lists_keys_and_targets(store: TokenStore) -> None:
    workspace = make_target("sql", "offline_access")
    account = make_target("all-apis", host="https://accounts.cloud.databricks.com", account="0d26daa6-5e44-4c97")
    custom = make_target("files.files", client_id="my-app")
    for target in (workspace, account, custom):
        store.save(make_token(target))
    assert store.keys() == sorted([workspace.key, account.key, custom.key])
    assert set(store.targets()) == {workspace, account, custom}
    assert json.loads(store.backend.get(INDEX_KEY) or "")["version"] == 1
    store.delete(account)
    assert store.keys() == sorted([workspace.key, custom.key])
    assert set(store.targets()) == {workspace, custom}


def test_many_scope_sets_for_one_host_side_by_side(store: TokenStore) -> None:
    scope_sets = [
        ("offline_access", "sql"),
        ("all-apis", "offline_access"),
        ("dashboards.genie", "files.files", "offline_access", "sql"),
        ("iam.current-user:read",),
        ("file.files", "serving.serving-endpoints"),
    ]
    targets = [make_target(*scopes) for scopes in scope_sets]
    assert len({t.key for t in targets}) == len(targets)
    tokens = {t.key: make_token(t, refresh="offline_access" in t.scopes) for t in targets}
    for token in tokens.values():
        store.save(token)
    for target in targets:
        assert store.load(target) == tokens[target.key]
    assert store.keys() == sorted(tokens)
    store.delete(targets[2])
    assert store.load(targets[2]) is None
    for target in targets[:2] + targets[3:]:
        assert store.load(target) == tokens[target.key]
    assert store.keys() == sorted(k for k in tokens if k != targets[2].key)


def test_write_only_on_change(store: TokenStore) -> None:
    counting = CountingBackend(store.backend)
    st = TokenStore(counting)
    target = make_target()
    token = make_token(target)
    assert st.save(token) is True
    assert target.key in counting.sets and INDEX_KEY in counting.sets
    counting.sets.clear()

    assert st.save(token) is False  # what this object wrote
    assert st.load(target) == token
    assert st.save(token) is False  # what this object read
    assert TokenStore(counting).save(token) is False  # what the backend already holds
    st.forget_cache()
    assert st.save(token) is False
    assert counting.sets == []

    changed = token.replace(access_token="eyJ" + secrets.token_hex(20))
    assert st.save(changed) is True
    assert counting.sets == [target.key]  # the index already lists it: not rewritten
    assert TokenStore(store.backend).load(target) == changed


def test_save_after_another_process_deleted_writes_again(store: TokenStore) -> None:
    target = make_target()
    token = make_token(target)
    st = TokenStore(store.backend)
    st.save(token)
    TokenStore(store.backend).delete(target)  # someone else logged out
    assert st.load(target) is None
    assert st.save(token) is True
    assert TokenStore(store.backend).load(target) == token


def _version_2(target: Target) -> str:
    record = json.loads(make_token(target).to_json())
    record["version"] = 2
    return json.dumps(record)


CORRUPT: dict[str, Any] = {
    "garbage": lambda t: "\x00not json at all {",
    "foreign-json": lambda t: json.dumps({"password": "hunter2", "user": "someone"}),
    "json-list": lambda t: "[1, 2, 3]",
    "version-2": _version_2,
    "version-1-missing-fields": lambda t: json.dumps({"version": 1, "host": t.host}),
    "bad-chunk-header": lambda t: CHUNK_HEADER + "zz:1:nothex",
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_value_is_an_error_and_left_untouched(store: TokenStore, kind: str) -> None:
    target = make_target()
    bad = CORRUPT[kind](target)
    store.backend.set(target.key, bad)
    with pytest.raises(StorageError, match="untouched"):
        store.load(target)
    assert store.backend.get(target.key) == bad
    with pytest.raises(StorageError):
        TokenStore(store.backend).load(target)
    store.keys()
    store.targets()
    assert store.backend.get(target.key) == bad


def test_record_under_another_targets_key(store: TokenStore) -> None:
    mine, theirs = make_target("sql"), make_target("all-apis")
    foreign = make_token(theirs).to_json()
    store.backend.set(mine.key, foreign)
    with pytest.raises(StorageError, match="another target"):
        store.load(mine)
    assert store.backend.get(mine.key) == foreign
    assert store.load(theirs) is None


def test_corrupt_index_is_read_from_the_listing_then_rebuilt_by_the_next_save(store: TokenStore) -> None:
    # every contract store can be listed; one that cannot: tests/test_storage_security.py
    store.backend.set(INDEX_KEY, "{broken")
    assert store.keys() == []
    target = make_target()
    store.save(make_token(target))
    assert json.loads(store.backend.get(INDEX_KEY) or "")["keys"] == [target.key]


def test_open_store_kinds(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    assert open_store("memory").name == "memory"
    file_store = open_store("file")
    assert isinstance(file_store.backend, FileBackend)
    assert file_store.backend.path == isolated_env / "config" / "tokens.json"
    monkeypatch.setenv("SCOPEDAUTH_STORAGE", "FILE")
    assert open_store().name == "file"
    with pytest.raises(ConfigError, match="keyring, file, memory"):
        open_store("floppy")


# -- chunking over a size-capped keyring ----------------------------------------------------


@pytest.fixture(params=["capped-keyring", "capped-memory"])
def capped(request: pytest.FixtureRequest) -> tuple[TokenStore, Any]:
    """A store over a backend with the Windows cap, and a way to list every raw entry."""
    if request.param == "capped-keyring":
        kr = CappedKeyring()
        backend = KeyringBackend(kr)
        return TokenStore(backend), lambda: kr.entries(backend.service)
    memory = MemoryBackend(max_value=WINDOWS_BLOB_BYTES // 2)
    return TokenStore(memory), lambda: dict(memory.data)


def chunk_entries(entries: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in entries.items() if k.startswith(key + "#")}


def test_capped_keyring_really_refuses_big_values() -> None:
    kr = CappedKeyring()
    assert KeyringBackend(kr).max_value == WINDOWS_BLOB_BYTES // 2
    kr.set_password("s", "u", "x" * (WINDOWS_BLOB_BYTES // 2))
    with pytest.raises(PasswordSetError):
        kr.set_password("s", "u", "x" * (WINDOWS_BLOB_BYTES // 2 + 1))
    with pytest.raises(PasswordSetError):  # bytes of UTF-16, not characters
        kr.set_password("s", "u", "\U0001f600" * 700)


def test_big_record_is_chunked_and_reads_back_whole(capped: tuple[TokenStore, Any]) -> None:
    store, entries = capped
    target = make_target()
    token = make_token(target, size=6144)
    raw = token.to_json()
    assert value_length(raw) > WINDOWS_BLOB_BYTES // 2
    assert store.save(token) is True
    assert store.load(target) == token
    assert TokenStore(store.backend).load(target) == token

    everything = entries()
    head = everything[target.key]
    match = HEADER_RE.fullmatch(head)
    assert match, head
    gen, count, digest = match[1], int(match[2]), match[3]
    assert count == math.ceil(len(raw) / (WINDOWS_BLOB_BYTES // 2 - 8)) >= 5
    chunks = chunk_entries(everything, target.key)
    assert sorted(chunks) == sorted(f"{target.key}#{gen}#{i}" for i in range(count))
    assert "".join(chunks[f"{target.key}#{gen}#{i}"] for i in range(count)) == raw
    assert digest == hashlib.sha256(raw.encode()).hexdigest()[:32]
    assert all(len(v.encode("utf-16-le")) <= WINDOWS_BLOB_BYTES for v in everything.values())
    assert store.keys() == [target.key]


def test_overwrite_with_smaller_record_removes_old_chunks(capped: tuple[TokenStore, Any]) -> None:
    store, entries = capped
    target = make_target()
    store.save(make_token(target, size=6144))
    assert chunk_entries(entries(), target.key)
    small = make_token(target)
    store.save(small)
    assert chunk_entries(entries(), target.key) == {}
    assert entries()[target.key] == small.to_json()
    assert store.load(target) == small


def test_overwrite_big_with_big_replaces_the_generation(capped: tuple[TokenStore, Any]) -> None:
    store, entries = capped
    target = make_target()
    store.save(make_token(target, size=6144))
    old_gen = HEADER_RE.fullmatch(entries()[target.key])[1]  # type: ignore[index]
    newer = make_token(target, size=3000)
    store.save(newer)
    match = HEADER_RE.fullmatch(entries()[target.key])
    assert match and match[1] != old_gen
    assert sorted(chunk_entries(entries(), target.key)) == sorted(
        f"{target.key}#{match[1]}#{i}" for i in range(int(match[2]))
    )
    assert store.load(target) == newer


def test_delete_removes_every_chunk(capped: tuple[TokenStore, Any]) -> None:
    store, entries = capped
    target, other = make_target(), make_target("all-apis")
    store.save(make_token(target, size=6144))
    kept = make_token(other, size=4000)
    store.save(kept)
    assert store.delete(target) is True
    assert not [k for k in entries() if k.startswith(target.key)]
    assert store.load(other) == kept
    assert store.keys() == [other.key]


@pytest.mark.parametrize("damage", ["missing", "tampered", "truncated"])
def test_damaged_chunk_is_an_error_and_nothing_is_deleted(capped: tuple[TokenStore, Any], damage: str) -> None:
    store, entries = capped
    target = make_target()
    store.save(make_token(target, size=6144))
    gen = HEADER_RE.fullmatch(entries()[target.key])[1]  # type: ignore[index]
    victim = f"{target.key}#{gen}#1"
    if damage == "missing":
        store.backend.delete(victim)
    elif damage == "tampered":
        value = entries()[victim]
        store.backend.set(victim, ("A" if value[0] != "A" else "B") + value[1:])
    else:
        store.backend.set(victim, entries()[victim][:-1])
    before = entries()
    with pytest.raises(StorageError, match="missing" if damage == "missing" else "do not match"):
        TokenStore(store.backend).load(target)
    assert entries() == before


def test_failure_midway_through_a_new_generation_keeps_the_old_record() -> None:
    kr = FlakyKeyring()
    backend = KeyringBackend(kr)
    store = TokenStore(backend)
    target = make_target()
    old = make_token(target, size=6144)
    store.save(old)
    count = int(HEADER_RE.fullmatch(kr.entries(backend.service)[target.key])[2])  # type: ignore[index]
    for nth in range(1, count + 2):  # every chunk write, then the header write
        before = kr.entries(backend.service)
        kr.arm(nth)
        with pytest.raises(StorageError, match="refused"):
            TokenStore(backend).save(make_token(target, size=6144))
        assert TokenStore(backend).load(target) == old, nth
        if nth <= count:  # the header was never touched: the partial generation is cleaned up
            assert kr.entries(backend.service) == before, nth


class _Crash(BaseException):
    """The process dying: no except clause runs."""


class CrashingMemory(MemoryBackend):
    def __init__(self, max_value: int) -> None:
        super().__init__(max_value)
        self.crash_on: int | None = None

    def set(self, key: str, value: str) -> None:
        if self.crash_on is not None:
            self.crash_on -= 1
            if self.crash_on == 0:
                raise _Crash
        super().set(key, value)


@pytest.mark.parametrize("nth", [1, 2, 4, 6])
def test_crash_at_any_write_leaves_a_readable_record(nth: int) -> None:
    backend = CrashingMemory(WINDOWS_BLOB_BYTES // 2)
    target = make_target()
    old, new = make_token(target, size=6144), make_token(target, size=6144)
    TokenStore(backend).save(old)
    backend.crash_on = nth
    with pytest.raises(_Crash):
        TokenStore(backend).save(new)
    assert TokenStore(backend).load(target) in (old, new)


def test_big_index_is_chunked_too(capped: tuple[TokenStore, Any]) -> None:
    store, entries = capped
    targets = [make_target("offline_access", f"custom.scope-{i:02d}", "dashboards.genie") for i in range(30)]
    for target in targets:
        store.save(make_token(target))
    assert HEADER_RE.fullmatch(entries()[INDEX_KEY])
    assert store.keys() == sorted(t.key for t in targets)


def test_chunks_count_utf16_units_not_characters(capped: tuple[TokenStore, Any]) -> None:
    store, _ = capped
    value = "\U0001f600" * 1000 + "é" * 1000  # 3000 UTF-16 units in 2000 characters
    store._set_raw("raw-entry", value)
    assert store._get_raw("raw-entry") == value


# -- the file store on disk -----------------------------------------------------------------


def test_file_store_modes(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCOPEDAUTH_CONFIG_DIR")  # the default place, <config>/scopedauth, is scopedauth's own
    monkeypatch.setenv("XDG_CONFIG_HOME", str(isolated_env / "xdg"))
    config = isolated_env / "xdg" / "scopedauth"
    config.mkdir(parents=True, mode=0o755)
    os.chmod(config, 0o755)  # noqa: S103 - too open on purpose: the store must tighten it
    store = open_store("file")
    store.save(make_token(make_target()))
    path = config / "tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.stat().st_mode) == 0o700


def test_file_store_leaves_no_temp_files(isolated_env: Path) -> None:
    store = open_store("file")
    targets = [make_target("sql"), make_target("all-apis")]
    for i in range(10):
        store.save(make_token(targets[i % 2]))
    store.delete(targets[0])
    names = sorted(p.name for p in (isolated_env / "config").iterdir())
    assert names == ["tokens.json", "tokens.json.lock"]


_WRITER = r"""
import sys, time
from pathlib import Path
from scopedauth.storage.backends import FileBackend
backend, until, n = FileBackend(Path(sys.argv[1])), time.monotonic() + float(sys.argv[2]), 0
while time.monotonic() < until:
    backend.set(sys.argv[3], "x" * (200_000 if n % 2 else 10))
    n += 1
print(n)
"""


def test_concurrent_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "config" / "tokens.json"
    backend = FileBackend(path)
    backend.set("seed", "1")
    reads, seen = 0, set()
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), "1.0", "k"], stdout=subprocess.PIPE, text=True
    ) as writer:
        try:
            deadline = time.monotonic() + 15
            while writer.poll() is None and time.monotonic() < deadline:
                data = json.loads(path.read_text(encoding="utf-8"))  # a torn file fails right here
                assert data["seed"] == "1"
                value = FileBackend(path).get("k")
                seen.add(len(value or ""))
                reads += 1
        finally:
            try:
                out, _ = writer.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                writer.kill()  # leave no process behind; Popen's with reaps it and closes the pipe
                raise
    assert writer.returncode == 0
    assert int(out) > 10 and reads > 10
    assert {10, 200_000} & seen  # the reader did observe the writer's values
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tokens.")]


_KEYS_WRITER = r"""
import sys
from pathlib import Path
from scopedauth.storage.backends import FileBackend
backend = FileBackend(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    backend.set(f"{sys.argv[2]}-{i}", "v" * 5000)
"""


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "config" / "tokens.json"
    FileBackend(path).set("seed", "1")
    writers = [subprocess.Popen([sys.executable, "-c", _KEYS_WRITER, str(path), name, "40"]) for name in ("a", "b")]
    for writer in writers:
        assert writer.wait(timeout=30) == 0
    data = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(data) == sorted(["seed", *(f"{n}-{i}" for n in "ab" for i in range(40))])


@pytest.mark.parametrize(
    "content", ["{not json", "[1, 2]", '{"k": 1}', "\udcff".encode("utf-8", "surrogateescape").decode("latin-1")]
)
def test_corrupt_file_is_an_error_and_left_untouched(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config" / "tokens.json"
    path.parent.mkdir(parents=True)
    raw = content.encode("latin-1")
    path.write_bytes(raw)
    backend = FileBackend(path)
    with pytest.raises(StorageError, match="untouched"):
        backend.get("k")
    with pytest.raises(StorageError):
        backend.set("k", "v")
    with pytest.raises(StorageError):
        backend.delete("k")
    with pytest.raises(StorageError):
        TokenStore(backend).load(make_target())
    assert path.read_bytes() == raw
