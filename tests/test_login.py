"""End-to-end logins against the sandbox: real listener, real exchange, real stores.

In-process tests drive :func:`scopedauth.login` with a scripted user in a thread (the same
HTTP consent flow as ``tests/agents/approve.py``); the CLI tests in test_cli_login.py run the
real command with ``$BROWSER`` set to that script.
"""

from __future__ import annotations

import json

import pytest
import requests

import scopedauth
from scopedauth.config import Target
from scopedauth.errors import (
    AuthorizationDeniedError,
    CallbackTimeoutError,
    ListenerError,
    LoginRequiredError,
    TokenEndpointError,
)
from scopedauth.sandbox import Sandbox, SandboxConfig
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from tests.users import scripted_user


def target(sb: Sandbox, scopes: str = "sql files.files") -> Target:
    from scopedauth.config import resolve_target

    return resolve_target(host=sb.url, scopes=scopes)


def test_login_stores_exactly_the_requested_scopes(sandbox: Sandbox, listener_port: int, any_store: TokenStore) -> None:
    pages: list[str] = []
    tgt = target(sandbox)
    token = scopedauth.login(
        tgt, store=any_store, port=listener_port, opener=scripted_user(pages), timeout=30, say=lambda _m: None
    )
    assert token.granted_scopes == ("files.files", "offline_access", "sql")
    assert token.refresh_token
    stored = any_store.load(tgt)
    assert stored is not None and stored.access_token == token.access_token
    assert "Signed in" in pages[0] and "files.files" in pages[0]
    # the token really works against the sample app
    resp = requests.get(f"{sandbox.app_url}/api/hello", headers=scopedauth.headers(tgt, store=any_store), timeout=10)
    assert resp.status_code == 200


def test_deny_raises_and_stores_nothing(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    pages: list[str] = []
    with pytest.raises(AuthorizationDeniedError) as info:
        scopedauth.login(
            target(sandbox),
            store=store,
            port=listener_port,
            opener=scripted_user(pages, "deny"),
            timeout=30,
            say=lambda _m: None,
        )
    assert info.value.error == "access_denied"
    assert store.backend.data == {}  # type: ignore[attr-defined]
    assert "refused" in pages[0]


def test_forged_callback_does_not_end_the_login(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    forged: list[int] = []

    def forge(_url: str) -> None:
        with requests.Session() as http:
            http.trust_env = False
            forged.append(http.get(f"http://localhost:{listener_port}/?code=evil&state=guess", timeout=10).status_code)

    token = scopedauth.login(
        target(sandbox),
        store=store,
        port=listener_port,
        opener=scripted_user([], before=forge),
        timeout=30,
        say=lambda _m: None,
    )
    assert forged == [400]
    assert token.access_token
    assert sandbox.stats.code_exchanges == 1


def test_timeout_stores_nothing_and_releases_port(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    with pytest.raises(CallbackTimeoutError):
        scopedauth.login(
            target(sandbox),
            store=store,
            port=listener_port,
            opener=lambda _u: True,
            timeout=0.5,
            say=lambda _m: None,
        )
    assert store.backend.data == {}  # type: ignore[attr-defined]
    # the port is free again: a new login can bind it
    token = scopedauth.login(
        target(sandbox),
        store=store,
        port=listener_port,
        opener=scripted_user([]),
        timeout=30,
        say=lambda _m: None,
    )
    assert token.access_token


def test_busy_port_fails_fast_and_stores_nothing(sandbox: Sandbox, listener_port: int) -> None:
    import socket

    store = TokenStore(MemoryBackend())
    holder = socket.socket()
    holder.bind(("127.0.0.1", listener_port))
    holder.listen(1)
    try:
        with pytest.raises(ListenerError, match=str(listener_port)):
            scopedauth.login(
                target(sandbox),
                store=store,
                port=listener_port,
                opener=scripted_user([]),
                timeout=30,
                say=lambda _m: None,
            )
    finally:
        holder.close()
    assert store.backend.data == {}  # type: ignore[attr-defined]
    assert sandbox.stats.authorize_requests == 0  # the browser was never sent anywhere


@pytest.mark.parametrize("status", [500, 503, 400])
def test_broken_token_endpoint_stores_nothing_and_page_says_so(
    sandbox: Sandbox, listener_port: int, status: int
) -> None:
    store = TokenStore(MemoryBackend())
    pages: list[str] = []
    sandbox.fail_next_token_requests(5, status=status)
    with pytest.raises(TokenEndpointError):
        scopedauth.login(
            target(sandbox),
            store=store,
            port=listener_port,
            opener=scripted_user(pages),
            timeout=30,
            say=lambda _m: None,
        )
    assert store.backend.data == {}  # type: ignore[attr-defined]
    assert "Sign-in failed" in pages[0] and "Signed in<" not in pages[0]


def test_narrower_grant_is_said_and_recorded(listener_port: int) -> None:
    config = SandboxConfig(
        redirect_uris={"databricks-cli": [f"http://localhost:{listener_port}"]},
        withheld_scopes=["dashboards.genie"],
    )
    said: list[str] = []
    pages: list[str] = []
    store = TokenStore(MemoryBackend())
    with Sandbox(config) as sb:
        token = scopedauth.login(
            target(sb, "sql dashboards.genie"),
            store=store,
            port=listener_port,
            opener=scripted_user(pages),
            timeout=30,
            say=said.append,
        )
    assert token.missing_scopes == ("dashboards.genie",)
    assert any("Not granted: dashboards.genie" in line for line in said)
    record = json.loads(next(iter(store.backend.data.values())))  # type: ignore[attr-defined]
    assert record["granted_scopes"] == ["offline_access", "sql"]
    assert "dashboards.genie" in pages[0] and "Not granted" in pages[0]


def test_get_token_after_login_and_login_required_without(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    tgt = target(sandbox)
    with pytest.raises(LoginRequiredError) as info:
        scopedauth.get_token(tgt, store=store)
    assert info.value.command == f"scopedauth login --host {sandbox.url} --scopes 'files.files sql'"
    token = scopedauth.login(
        tgt, store=store, port=listener_port, opener=scripted_user([]), timeout=30, say=lambda _m: None
    )
    assert scopedauth.get_token(tgt, store=store).access_token == token.access_token
    assert scopedauth.get_token(host=sandbox.url, store=store).access_token == token.access_token


def test_expired_access_token_is_refreshed_and_rotation_saved(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    tgt = target(sandbox)
    first = scopedauth.login(
        tgt, store=store, port=listener_port, opener=scripted_user([]), timeout=30, say=lambda _m: None
    )
    from datetime import timedelta

    assert first.expiry is not None
    store.save(first.replace(expiry=first.obtained_at + timedelta(seconds=10)))
    scopedauth.grants.session.forget_memory()
    fresh = scopedauth.get_token(tgt, store=store)
    assert fresh.access_token != first.access_token
    assert fresh.refresh_token != first.refresh_token
    stored = store.load(tgt)
    assert stored is not None and stored.refresh_token == fresh.refresh_token
    assert sandbox.stats.refreshes == 1


def test_dead_refresh_token_means_login_required_and_record_kept(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    tgt = target(sandbox)
    first = scopedauth.login(
        tgt, store=store, port=listener_port, opener=scripted_user([]), timeout=30, say=lambda _m: None
    )
    from scopedauth.oauth import client as oauth

    oauth.refresh(first)  # someone else rotated it outside our lock: ours is now a reused token
    from datetime import timedelta

    store.save(first.replace(expiry=first.obtained_at + timedelta(seconds=1)))
    scopedauth.grants.session.forget_memory()
    with pytest.raises(LoginRequiredError) as info:
        scopedauth.get_token(tgt, store=store)
    assert "scopedauth login" in info.value.command
    kept = store.load(tgt)
    assert kept is not None and kept.needs_login
