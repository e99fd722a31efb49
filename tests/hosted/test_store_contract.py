"""One contract, every hosted store: SQLite, PostgreSQL and Redis (real servers)."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from scopedauth.hosted.backends import open_store
from scopedauth.hosted.model import SCHEMA_VERSION, HostedStore, LoginAttempt, SessionRow

from .conftest import STORES

pytestmark = pytest.mark.parametrize("store_url", STORES, indirect=True)


def session_row(
    id_hash: str = "a" * 64, subject: str = "alice", tenant: str = "https://ws", **kw: object
) -> SessionRow:
    now = time.time()
    values: dict[str, object] = {
        "id_hash": id_hash,
        "tenant": tenant,
        "subject": subject,
        "client_id": "app",
        "scopes": "sql",
        "kid": "k1",
        "ciphertext": "CIPHER",
        "expires_at": now + 3600,
        "absolute_expiry": now + 86400,
        "created_at": now,
    }
    values.update(kw)
    return SessionRow(**values)  # type: ignore[arg-type]


def attempt(browser: str = "b" * 64, expires_at: float | None = None) -> LoginAttempt:
    return LoginAttempt(browser, "https://ws", "s" * 64, "k1", "VERIFIER", "/", expires_at or time.time() + 600)


def test_migrate_is_idempotent(store_url: str) -> None:
    with closing(open_store(store_url)) as store:
        assert store.schema_version() == 0
        store.migrate()
        store.migrate()
        assert store.schema_version() == SCHEMA_VERSION
    with closing(open_store(store_url, migrate=True)) as again:
        assert again.schema_version() == SCHEMA_VERSION


def test_concurrent_migrations_all_succeed(store_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with closing(open_store(store_url)) as store:
                store.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with closing(open_store(store_url)) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_attempt_is_single_use(store: HostedStore) -> None:
    store.put_attempt(attempt())
    taken = store.take_attempt("b" * 64, time.time())
    assert taken == attempt(expires_at=taken.expires_at if taken else 0)
    assert store.take_attempt("b" * 64, time.time()) is None


def test_attempt_replaced_and_expired(store: HostedStore) -> None:
    store.put_attempt(attempt(expires_at=time.time() + 600))
    store.put_attempt(attempt(expires_at=time.time() + 300))
    got = store.take_attempt("b" * 64, time.time())
    assert got is not None and got.expires_at < time.time() + 301
    store.put_attempt(attempt(expires_at=time.time() + 5))
    assert store.take_attempt("b" * 64, time.time() + 10) is None


def test_concurrent_takers_one_wins(store: HostedStore) -> None:
    store.put_attempt(attempt())
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(store.take_attempt("b" * 64, time.time()))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([g for g in got if g is not None]) == 1


def test_session_roundtrip_and_delete(store: HostedStore) -> None:
    row = session_row()
    store.create_session(row)
    assert store.get_session(row.id_hash) == row
    assert store.get_session("f" * 64) is None
    store.delete_session(row.id_hash)
    assert store.get_session(row.id_hash) is None
    store.delete_session(row.id_hash)  # twice is fine


def test_lease_is_compare_and_set(store: HostedStore) -> None:
    row = session_row()
    store.create_session(row)
    now = time.time()
    assert not store.try_lease(row.id_hash, 1, "w1", now + 30, now)  # wrong generation
    assert store.try_lease(row.id_hash, 0, "w1", now + 30, now)
    assert not store.try_lease(row.id_hash, 0, "w2", now + 30, now)  # held
    assert store.try_lease(row.id_hash, 0, "w2", now + 100, now + 31)  # lease ran out: take over
    # the first holder's write-back loses: the lease is no longer its own
    assert not store.complete_refresh(row.id_hash, 0, "w1", kid="k1", ciphertext="OLD", expires_at=1.0)
    assert store.complete_refresh(row.id_hash, 0, "w2", kid="k2", ciphertext="NEW", expires_at=2.0)
    got = store.get_session(row.id_hash)
    assert got is not None
    assert (got.generation, got.ciphertext, got.kid, got.expires_at, got.lease_owner) == (1, "NEW", "k2", 2.0, "")
    assert not store.complete_refresh(row.id_hash, 0, "w2", kid="k2", ciphertext="AGAIN", expires_at=3.0)
    assert store.try_lease(row.id_hash, 1, "w3", now + 30, now)


def test_release_lease(store: HostedStore) -> None:
    row = session_row()
    store.create_session(row)
    now = time.time()
    assert store.try_lease(row.id_hash, 0, "w1", now + 30, now)
    store.release_lease(row.id_hash, 0, "other")  # not the holder: nothing happens
    assert not store.try_lease(row.id_hash, 0, "w2", now + 30, now)
    store.release_lease(row.id_hash, 0, "w1")
    assert store.try_lease(row.id_hash, 0, "w2", now + 30, now)


def test_concurrent_leases_one_wins(store: HostedStore) -> None:
    row = session_row()
    store.create_session(row)
    now = time.time()
    wins: list[bool] = []
    threads = [
        threading.Thread(target=lambda i=i: wins.append(store.try_lease(row.id_hash, 0, f"w{i}", now + 30, now)))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_revoke_drops_ciphertext_and_blocks_leases(store: HostedStore) -> None:
    row = session_row()
    store.create_session(row)
    now = time.time()
    assert store.try_lease(row.id_hash, 0, "w1", now + 30, now)
    store.revoke_session(row.id_hash, now)
    got = store.get_session(row.id_hash)
    assert got is not None and got.revoked_at is not None and got.ciphertext == ""
    assert not store.complete_refresh(row.id_hash, 0, "w1", kid="k1", ciphertext="X", expires_at=1.0)
    assert not store.try_lease(row.id_hash, got.generation, "w2", now + 60, now + 60)
    assert store.purge(now) == 1
    assert store.get_session(row.id_hash) is None


def test_a_revoke_that_needs_the_lease_fails_without_it(store: HostedStore) -> None:
    """A refresher revokes on invalid_grant only while it still holds the lease at its generation."""
    row = session_row()
    store.create_session(row)
    now = time.time()
    assert store.try_lease(row.id_hash, 0, "w1", now - 1, now)  # w1's lease ran out...
    assert store.try_lease(row.id_hash, 0, "w2", now + 30, now)  # ...and w2 took it over
    assert not store.revoke_session(row.id_hash, now, held=(0, "w1"))
    assert store.complete_refresh(row.id_hash, 0, "w2", kid="k1", ciphertext="NEW", expires_at=1.0)
    assert not store.revoke_session(row.id_hash, now, held=(0, "w2"))  # a generation later
    got = store.get_session(row.id_hash)
    assert got is not None and got.revoked_at is None and got.ciphertext == "NEW"
    assert store.try_lease(row.id_hash, 1, "w3", now + 30, now)
    assert store.revoke_session(row.id_hash, now, held=(1, "w3"))


def test_sessions_of_a_user_per_tenant(store: HostedStore) -> None:
    store.create_session(session_row("1" * 64, "alice", "https://a"))
    store.create_session(session_row("2" * 64, "alice", "https://a"))
    store.create_session(session_row("3" * 64, "alice", "https://b"))
    store.create_session(session_row("4" * 64, "bob", "https://a"))
    assert sorted(r.id_hash for r in store.sessions_of("https://a", "alice")) == ["1" * 64, "2" * 64]
    assert [r.id_hash for r in store.sessions_of("https://b", "alice")] == ["3" * 64]
    store.delete_session("1" * 64)
    assert [r.id_hash for r in store.sessions_of("https://a", "alice")] == ["2" * 64]
    assert sorted(r.id_hash for r in store.iter_sessions()) == ["2" * 64, "3" * 64, "4" * 64]


def test_rewrap_is_compare_and_set(store: HostedStore) -> None:
    row = session_row()
    store.create_session(row)
    assert not store.rewrap(row.id_hash, 1, "k1", kid="k2", ciphertext="X")
    assert not store.rewrap(row.id_hash, 0, "k0", kid="k2", ciphertext="X")
    assert store.rewrap(row.id_hash, 0, "k1", kid="k2", ciphertext="X")
    got = store.get_session(row.id_hash)
    assert got is not None and (got.kid, got.ciphertext, got.generation) == ("k2", "X", 0)


def test_purge_removes_ended_sessions(store: HostedStore) -> None:
    now = time.time()
    store.create_session(session_row("1" * 64, absolute_expiry=now + 1))
    store.create_session(session_row("2" * 64))
    assert store.purge(now + 2) >= 1
    assert store.get_session("2" * 64) is not None
