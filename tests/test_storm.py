"""Single flight across processes: a storm of ``scopedauth token`` with an expired token.

The sandbox rotates refresh tokens and revokes the whole family when an old one is reused, as
Databricks may, so any second refresh would kill the grant and fail the test.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import scopedauth
from scopedauth.config import resolve_target
from scopedauth.oauth import client as oauth
from scopedauth.sandbox import Sandbox
from scopedauth.storage.store import TokenStore
from tests.storm import run_storm
from tests.users import user_login

N = 20


def _expire(store: TokenStore, token: scopedauth.Token) -> None:
    assert token.expiry is not None
    store.save(token.replace(expiry=token.obtained_at - timedelta(minutes=1)))


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["file", "keyring"])
def test_storm_refreshes_exactly_once(
    sandbox: Sandbox, listener_port: int, tmp_path: Path, storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if storage == "keyring":
        from tests.conftest import require_keyring

        require_keyring()
    monkeypatch.setenv("SCOPEDAUTH_STORAGE", storage)
    monkeypatch.setenv("SCOPEDAUTH_KEYRING_TIMEOUT", "60")  # 20 clients queue at one Secret Service
    target = resolve_target(host=sandbox.url, scopes="sql")
    store = scopedauth.grants.session.store_for(storage)
    first = user_login(sandbox, listener_port, store)
    _expire(store, first)
    sandbox.expire_access_tokens()

    result = run_storm(N, ["--host", sandbox.url, "--scopes", "sql"], tmp_path)

    assert result.codes == [0] * N, result.errors
    assert len(set(result.outputs)) == 1, "every process must print the same token"
    assert result.outputs[0] != first.access_token
    assert sandbox.stats.refreshes == 1
    assert sandbox.stats.family_revocations == 0
    store.forget_cache()
    stored = store.load(target)
    assert stored is not None and stored.access_token == result.outputs[0]
    assert stored.refresh_token != first.refresh_token
    assert all(first.access_token not in e and result.outputs[0] not in e for e in result.errors)


@pytest.mark.slow
def test_storm_against_a_dead_grant_all_fail_cleanly(
    sandbox: Sandbox, listener_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every process reports login-required; the server sees one refresh attempt, not N."""
    monkeypatch.setenv("SCOPEDAUTH_STORAGE", "file")
    target = resolve_target(host=sandbox.url, scopes="sql")
    store = scopedauth.grants.session.store_for("file")
    first = user_login(sandbox, listener_port, store)
    oauth.refresh(first)  # rotated elsewhere: our stored refresh token is now stale
    _expire(store, first)

    result = run_storm(16, ["--host", sandbox.url, "--scopes", "sql"], tmp_path)

    assert result.codes == [4] * 16, result.errors
    assert all("scopedauth login --host" in e for e in result.errors)
    assert sandbox.stats.refresh_failures == 1, "after the first invalid_grant the rest must read needs_login"
    store.forget_cache()
    kept = store.load(target)
    assert kept is not None and kept.needs_login
