"""The ladder's corner cases: a store that fails mid-rotation, tokens nothing can renew,
renewing after a 401, and choosing the stored scope set once per process."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

import scopedauth
from scopedauth.config import Target
from scopedauth.errors import LoginRequiredError, StorageError
from scopedauth.grants import session
from scopedauth.grants.cache import CACHE
from scopedauth.sandbox import Sandbox
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import INDEX_KEY, TokenStore
from scopedauth.tokens import Token, utcnow
from tests.users import user_login


class FlakyBackend(MemoryBackend):
    """A memory backend whose next ``fail_sets`` writes fail, and which counts reads per key."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_sets = 0
        self.reads: dict[str, int] = {}

    def get(self, key: str) -> str | None:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().get(key)

    def set(self, key: str, value: str) -> None:
        if self.fail_sets:
            self.fail_sets -= 1
            raise StorageError("the keyring did not answer within 10s (write)")
        super().set(key, value)


def _expire(store: TokenStore, token: Token) -> None:
    store.save(token.replace(expiry=token.obtained_at - timedelta(minutes=1)))
    session.forget_memory()


def test_rotated_refresh_token_survives_one_failed_write(sandbox: Sandbox, listener_port: int) -> None:
    backend = FlakyBackend()
    store = TokenStore(backend)
    first = user_login(sandbox, listener_port, store)
    _expire(store, first)
    backend.fail_sets = 1
    fresh = scopedauth.get_token(first.target, store=store)
    assert fresh.access_token != first.access_token
    stored = store.load(first.target)
    assert stored is not None and stored.refresh_token == fresh.refresh_token


def test_rotated_token_is_served_even_when_the_store_keeps_failing(
    sandbox: Sandbox, listener_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    backend = FlakyBackend()
    store = TokenStore(backend)
    first = user_login(sandbox, listener_port, store)
    _expire(store, first)
    backend.fail_sets = 2
    with caplog.at_level(logging.WARNING, logger="scopedauth"):
        fresh = scopedauth.get_token(first.target, store=store)
    assert fresh.access_token != first.access_token
    assert "could not save the new refresh token" in caplog.text
    assert fresh.access_token not in caplog.text and (fresh.refresh_token or "") not in caplog.text
    # this process keeps serving it, without touching the (now dead) stored refresh token again
    assert scopedauth.get_token(first.target, store=store).access_token == fresh.access_token
    assert sandbox.stats.refreshes == 1 and sandbox.stats.family_revocations == 0


def test_valid_token_without_refresh_is_served_to_its_end(sandbox: Sandbox) -> None:
    store = TokenStore(MemoryBackend())
    target = Target(sandbox.url, scopes=("sql",))
    token = Token(
        target,
        access_token="short-lived",
        expiry=utcnow() + timedelta(seconds=120),
        token_endpoint=f"{sandbox.url}/oidc/v1/token",
        obtained_at=utcnow() - timedelta(minutes=58),
    )
    store.save(token)
    assert scopedauth.get_token(target, store=store).access_token == "short-lived"
    store.save(token.replace(expiry=utcnow() + timedelta(seconds=20)))  # under the 40 s leeway
    session.forget_memory()
    with pytest.raises(LoginRequiredError):
        scopedauth.get_token(target, store=store)


def test_renew_mints_a_service_principal_token_again(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SP_SECRET", "sp-secret")
    store = TokenStore(MemoryBackend())
    first = scopedauth.login(
        host=sandbox.url, client_id="sp-client", client_secret_env="SP_SECRET", scopes="sql", store=store
    )
    again = session.renew(first.target, rejected=first.access_token, store=store)
    assert again.access_token != first.access_token
    assert sandbox.stats.client_credentials == 2


def test_renew_with_a_dead_refresh_token_asks_for_login(sandbox: Sandbox, listener_port: int) -> None:
    from scopedauth.oauth import client as oauth

    store = TokenStore(MemoryBackend())
    first = user_login(sandbox, listener_port, store)
    oauth.refresh(first)  # rotated elsewhere: ours is now a reused token
    with pytest.raises(LoginRequiredError) as info:
        session.renew(first.target, rejected=first.access_token, store=store)
    assert info.value.command.startswith("scopedauth login --host")


def test_scope_set_is_chosen_once_per_process(sandbox: Sandbox, listener_port: int) -> None:
    backend = FlakyBackend()
    store = TokenStore(backend)
    first = user_login(sandbox, listener_port, store)
    backend.reads.clear()
    for _ in range(5):
        assert scopedauth.get_token(host=sandbox.url, store=store).access_token == first.access_token
    assert backend.reads.get(INDEX_KEY, 0) == 1
    user_login(sandbox, listener_port, store, "sql files.files")  # now two sets: ambiguous again
    with pytest.raises(scopedauth.errors.ConfigError):
        scopedauth.get_token(host=sandbox.url, store=store)


def test_a_dead_grant_does_not_make_the_choice_ambiguous(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    dead = user_login(sandbox, listener_port, store, "sql files.files")
    store.save(dead.replace(needs_login=True))
    live = user_login(sandbox, listener_port, store, "sql")
    session.forget_memory()
    assert scopedauth.get_token(host=sandbox.url, store=store).access_token == live.access_token


# -- the per-process memo of what an argument list resolves to ----------------------------------

WS = "https://memo.cloud.databricks.com"


def _store_valid(store: TokenStore, target: Target, access_token: str) -> Token:
    token = Token(target, access_token, expiry=utcnow() + timedelta(hours=1))
    store.save(token)
    return token


def test_memo_sees_a_changed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABRICKS_CLIENT_ID picks another client: the same arguments must now mean another grant."""
    store = TokenStore(MemoryBackend())
    _store_valid(store, Target(WS, scopes=("offline_access", "sql")), "for-the-cli")
    other = Target(WS, client_id="my-app", scopes=("offline_access", "sql"))
    _store_valid(store, other, "for-my-app")
    assert scopedauth.get_token(host=WS, scopes="sql", store=store).access_token == "for-the-cli"
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "my-app")
    assert scopedauth.get_token(host=WS, scopes="sql", store=store).access_token == "for-my-app"
    monkeypatch.delenv("DATABRICKS_CLIENT_ID")
    assert scopedauth.get_token(host=WS, scopes="sql", store=store).access_token == "for-the-cli"


def test_memo_sees_an_edited_profile(isolated_env: object, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """A profile's host changed on disk (another tool rewrote the file): the next call follows it."""
    import os
    from pathlib import Path

    cfg = Path(os.environ["DATABRICKS_CONFIG_FILE"])
    store = TokenStore(MemoryBackend())
    second = "https://memo-two.cloud.databricks.com"
    _store_valid(store, Target(WS, scopes=("offline_access", "sql")), "first-host")
    _store_valid(store, Target(second, scopes=("offline_access", "sql")), "second-host")
    cfg.write_text(f"[p]\nhost = {WS}\n")
    assert scopedauth.get_token(profile="p", scopes="sql", store=store).access_token == "first-host"
    cfg.write_text(f"[p]\nhost = {second}\n# longer, so the size differs even within one mtime tick\n")
    assert scopedauth.get_token(profile="p", scopes="sql", store=store).access_token == "second-host"


def test_scopes_as_a_list_are_served_from_the_memo_too() -> None:
    store = TokenStore(MemoryBackend())
    _store_valid(store, Target(WS, scopes=("files.files", "offline_access", "sql")), "listed")
    for _ in range(2):
        assert scopedauth.get_token(host=WS, scopes=["sql", "files.files"], store=store).access_token == "listed"
        assert scopedauth.headers(host=WS, scopes=("files.files", "sql"), store=store) == {
            "Authorization": "Bearer listed"
        }


def test_reset_forgets_tokens_choices_and_stores() -> None:
    from scopedauth.grants.cache import CACHE

    store = TokenStore(MemoryBackend())
    _store_valid(store, Target(WS, scopes=("offline_access", "sql")), "kept")
    scopedauth.get_token(host=WS, scopes="sql", store=store)
    session.store_for("memory")
    assert CACHE.tokens and CACHE.resolved and CACHE.stores
    CACHE.reset()
    assert not (CACHE.tokens or CACHE.resolved or CACHE.stores or CACHE.picked or CACHE.hold_off)


# -- a remembered resolution that misses is resolved again (the store may have changed) ----------


def _valid(target: Target, access_token: str, **changes: object) -> Token:
    return Token(target, access_token, expiry=utcnow() + timedelta(hours=1), refresh_token="r", **changes)  # type: ignore[arg-type]


def test_a_dead_covering_grant_is_not_remembered_past_a_miss() -> None:
    """The call was served by a covering grant; that grant dies (marked in another process) while
    another live grant covers the request: the next miss must find the live one, not name the
    dead one's scopes in a login command."""
    backend = MemoryBackend()
    mine, other = TokenStore(backend), TokenStore(backend)  # `other` plays another process
    first = _valid(Target(WS, scopes=("files.files", "offline_access", "sql")), "C1")
    other.save(first)
    other.save(_valid(Target(WS, scopes=("dashboards.genie", "jobs", "offline_access", "sql")), "C2"))
    assert scopedauth.get_token(host=WS, scopes="sql", store=mine).access_token == "C1"
    other.save(first.replace(needs_login=True))
    CACHE.tokens.clear()  # this process's copy of C1 expired
    mine.forget_cache()
    assert scopedauth.get_token(host=WS, scopes="sql", store=mine).access_token == "C2"


def test_an_exact_grant_logged_in_elsewhere_replaces_a_covering_grant_logged_out_elsewhere() -> None:
    backend = MemoryBackend()
    mine, other = TokenStore(backend), TokenStore(backend)
    cover = Target(WS, scopes=("files.files", "offline_access", "sql"))
    other.save(_valid(cover, "COVER"))
    assert scopedauth.get_token(host=WS, scopes="sql", store=mine).access_token == "COVER"
    other.delete(cover)
    other.save(_valid(Target(WS, scopes=("offline_access", "sql")), "EXACT"))
    CACHE.tokens.clear()
    mine.forget_cache()
    assert scopedauth.get_token(host=WS, scopes="sql", store=mine).access_token == "EXACT"
