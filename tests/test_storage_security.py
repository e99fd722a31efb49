"""Storage under attack or accident: races, corrupt indexes, colliding keys, orphaned chunks.

Regression tests for the storage findings of the security audit (issue 9: findings 6 and 12).
Real parts only: the size-capped dict keyring of ``tests/keyring_backends`` stands in for
Windows Credential Manager, behind the real :class:`KeyringBackend`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from keyring.errors import KeyringLocked

from scopedauth.config import Target, resolve_target
from scopedauth.errors import ConfigError, StorageError
from scopedauth.sandbox import Sandbox
from scopedauth.storage.backends import FileBackend, KeyringBackend, MemoryBackend
from scopedauth.storage.store import INDEX_KEY, TokenStore
from tests.clitools import base_env, file_records, run
from tests.keyring_backends import WINDOWS_BLOB_BYTES, CappedKeyring, FlakyKeyring, RefusingKeyring
from tests.test_store_contract import HEADER_RE, make_target, make_token

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


# -- finding 12 (b): keys of different kinds never collide ------------------------------------


@pytest.mark.parametrize("scope", ["sql#client-secret", "all-apis#0badc0de#0", "a|b", "a b", "a,b", "\x7f"])
def test_a_scope_that_could_forge_another_key_is_refused(scope: str) -> None:
    """``#`` starts a chunk's or a kept secret's suffix; ``|``, space and ``,`` separate the key's parts."""
    with pytest.raises(
        ConfigError, match=r"not a usable OAuth scope: .* \(it may not hold white space, \\ \" # \| or ,\)$"
    ):
        Target(host="https://h.cloud.databricks.com", scopes=(scope,))
    if " " not in scope and "," not in scope:  # resolve_target splits on those, as a list of scopes
        with pytest.raises(ConfigError, match="scope"):
            resolve_target(host="https://h.cloud.databricks.com", scopes=[scope])


def test_every_rfc6749_scope_character_but_the_separators_is_kept() -> None:
    """The restriction is only the separators: everything else RFC 6749 allows still passes."""
    allowed = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\#|,')
    target = Target(host="https://h.cloud.databricks.com", scopes=(allowed, "iam.current-user:read"))
    assert Target.from_key(target.key) == target


def test_a_stored_record_with_a_separator_in_its_scopes_is_corrupt_not_a_crash() -> None:
    backend = MemoryBackend()
    target = make_target()
    record = json.loads(make_token(target).to_json())
    record["scopes"] = ["offline_access", "sql#client-secret"]
    backend.set(target.key, json.dumps(record))
    with pytest.raises(StorageError, match="field 'scopes' holds a scope that cannot be part of a store key"):
        TokenStore(backend).load(target)


def test_logout_with_a_forged_scope_keeps_the_service_principals_secret(sandbox: Sandbox, tmp_path: Path) -> None:
    """The audit's repro: ``logout --scopes 'sql#client-secret'`` named the kept secret's key."""
    login = run(
        *("login", "--host", sandbox.url, "--client-id", "sp-client", "--scopes", "sql"),
        *("--client-secret-env", "SP_SECRET", "--store-secret"),
        env=base_env(SP_SECRET="sp-secret"),
    )
    assert login.returncode == 0, login.stderr
    secret_key = f"{sandbox.url}|sp-client|offline_access sql#client-secret"
    assert file_records(tmp_path)[secret_key] == "sp-secret"
    out = run("logout", "--host", sandbox.url, "--client-id", "sp-client", "--scopes", "sql#client-secret")
    assert out.returncode == 2, out.stderr
    assert "scope" in out.stderr and "Traceback" not in out.stderr
    assert file_records(tmp_path)[secret_key] == "sp-secret"


# -- finding 12 (a): a corrupt index is never shrunk silently ----------------------------------


def test_a_corrupt_index_is_rebuilt_from_the_listing_never_shrunk(any_store: TokenStore) -> None:
    """Memory, file and the real Secret Service can be listed: the index comes back whole."""
    store = any_store
    first, second, third = make_target("sql"), make_target("all-apis"), make_target("files.files")
    store.save(make_token(first))
    store.save(make_token(second))
    store.backend.set(INDEX_KEY, "{broken")
    assert store.keys() == sorted([first.key, second.key])  # read from the listing, nothing written
    assert store.backend.get(INDEX_KEY) == "{broken"
    TokenStore(store.backend).save(make_token(third))
    assert json.loads(store.backend.get(INDEX_KEY) or "")["keys"] == sorted([first.key, second.key, third.key])


def test_a_corrupt_index_is_rebuilt_for_a_capped_store_too() -> None:
    """The listing holds chunks and the index's own entries: only record keys go into the index."""
    backend = MemoryBackend(max_value=WINDOWS_BLOB_BYTES // 2)
    big, small = make_target("sql"), make_target("all-apis")
    store = TokenStore(backend)
    store.save(make_token(big, size=6144))
    store.save(make_token(small))
    backend.set(INDEX_KEY, "not json")
    assert TokenStore(backend).keys() == sorted([big.key, small.key])
    TokenStore(backend).delete(small)
    assert json.loads(backend.get(INDEX_KEY) or "")["keys"] == [big.key]


def test_a_corrupt_index_an_unlistable_keyring_cannot_rebuild_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    """Without a listing the index is neither shrunk nor guessed: saves warn, listing stops."""
    backend = KeyringBackend(CappedKeyring())
    assert backend.list_keys() is None
    first, second = make_target("sql"), make_target("all-apis")
    TokenStore(backend).save(make_token(first))
    backend.set(INDEX_KEY, "{broken")
    token = make_token(second)
    assert TokenStore(backend).save(token) is True  # the record itself is stored: a rotated token is never dropped
    assert TokenStore(backend).load(second) == token
    assert backend.get(INDEX_KEY) == "{broken"
    assert "index" in caplog.text and "left untouched" in caplog.text
    with pytest.raises(StorageError, match="cannot be listed"):
        TokenStore(backend).keys()
    assert TokenStore(backend).delete(first) is True  # logout of one grant still works
    assert backend.get(INDEX_KEY) == "{broken"


def test_logout_all_after_a_corrupt_index_removes_every_record(tmp_path: Path) -> None:
    """The audit's repro: the next save wrote an index of one key, so ``logout --all`` left the rest."""
    store = TokenStore(FileBackend(tmp_path / "config" / "tokens.json"))
    hosts = [f"https://adb-{i}.azuredatabricks.net" for i in range(3)]
    store.save(make_token(make_target(host=hosts[0])))
    store.save(make_token(make_target(host=hosts[1])))
    store.backend.set(INDEX_KEY, "[1, 2")
    store.save(make_token(make_target(host=hosts[2])))
    out = run("logout", "--all", "--no-revoke")
    assert out.returncode == 0, out.stderr
    assert {k for k in file_records(tmp_path) if k != INDEX_KEY} == set()


# -- finding 12 (c): chunks orphaned by a failed header write do not outlive the next save -----


class StuckKeyring(FlakyKeyring, RefusingKeyring):
    """Capped; one chosen write fails (``arm``), and deletes are refused while ``refuse_delete``."""


def orphaned(target: Target) -> tuple[StuckKeyring, KeyringBackend, set[str]]:
    """A stored big record, then a save whose header write failed and whose cleanup was refused."""
    kr = StuckKeyring()
    backend = KeyringBackend(kr)
    TokenStore(backend).save(make_token(target, size=6144))
    before = set(kr.entries(backend.service))
    count = int(HEADER_RE.fullmatch(kr.entries(backend.service)[target.key])[2])  # type: ignore[index]
    kr.arm(count + 1)  # every chunk of the new generation is written; the header write fails
    kr.refuse_delete = True
    with pytest.raises(StorageError):
        TokenStore(backend).save(make_token(target, size=6144))
    kr.refuse_delete = False
    orphans = {v for k, v in kr.entries(backend.service).items() if k not in before}
    assert orphans  # the failed save really left chunks of a refresh token behind
    return kr, backend, orphans


def test_orphan_chunks_go_at_the_next_successful_save() -> None:
    target = make_target()
    kr, backend, orphans = orphaned(target)
    newest = make_token(target, size=3000)
    TokenStore(backend).save(newest)
    entries = kr.entries(backend.service)
    assert not orphans & set(entries.values())
    match = HEADER_RE.fullmatch(entries[target.key])
    assert match is not None
    assert sorted(k for k in entries if k.startswith(target.key + "#")) == sorted(
        f"{target.key}#{match[1]}#{i}" for i in range(int(match[2]))
    )
    assert TokenStore(backend).load(target) == newest


def test_orphan_chunks_go_at_the_next_save_even_a_small_one() -> None:
    target = make_target()
    kr, backend, _ = orphaned(target)
    TokenStore(backend).save(make_token(target))
    assert [k for k in kr.entries(backend.service) if k.startswith(target.key + "#")] == []


def test_orphan_chunks_go_at_logout(tmp_path: Path) -> None:
    target = make_target()
    kr, backend, _ = orphaned(target)
    assert TokenStore(backend).delete(target) is True
    assert [k for k in kr.entries(backend.service) if k.startswith(target.key)] == []


def test_legacy_orphans_of_a_listable_store_go_at_logout() -> None:
    """Chunks of any generation (older versions picked random ones) go when the store can be listed."""
    backend = MemoryBackend(max_value=WINDOWS_BLOB_BYTES // 2)
    target = make_target()
    TokenStore(backend).save(make_token(target, size=6144))
    backend.set(f"{target.key}#0badc0de#0", "eyJ-a-piece-of-an-old-token")
    backend.set(f"{target.key}#0badc0de#3", "eyJ-another-piece")
    TokenStore(backend).delete(target)
    assert [k for k in backend.data if k.startswith(target.key)] == []


class UnlistableKeyring(CappedKeyring):
    """Looks searchable like the Secret Service backend, but its collection is locked."""

    def get_preferred_collection(self) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


def test_a_listing_that_fails_never_fails_a_delete() -> None:
    kr = UnlistableKeyring()
    backend = KeyringBackend(kr)
    target = make_target()
    TokenStore(backend).save(make_token(target, size=6144))
    with pytest.raises(StorageError, match="locked"):
        backend.list_keys()
    assert TokenStore(backend).delete(target) is True
    assert [k for k in kr.entries(backend.service) if k.startswith(target.key)] == []
