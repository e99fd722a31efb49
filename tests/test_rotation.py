"""A rotated refresh token the store refused to save is never lost (issue 9, finding 2).

The sandbox rotates refresh tokens and, like Databricks, revokes the whole grant when a retired
one is presented again. A store that refuses writes during one refresh and then recovers must
leave a working grant, with the newest refresh token stored and no family revocation.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

import scopedauth
from scopedauth.errors import StorageError
from scopedauth.grants import session
from scopedauth.sandbox import Sandbox
from scopedauth.storage.store import TokenStore
from scopedauth.tokens import Token
from tests.test_session import FlakyBackend, _expire
from tests.users import user_login


def refused_refresh(sandbox: Sandbox, port: int) -> tuple[FlakyBackend, TokenStore, Token, Token]:
    """Log in, let the token expire, refresh while the store refuses both save attempts."""
    backend = FlakyBackend()
    store = TokenStore(backend)
    first = user_login(sandbox, port, store)
    _expire(store, first)
    backend.fail_sets = 2
    fresh = scopedauth.get_token(first.target, store=store)
    assert fresh.refresh_token != first.refresh_token
    stored = TokenStore(backend).load(first.target)
    assert stored is not None and stored.refresh_token == first.refresh_token  # the save really failed
    return backend, store, first, fresh


def assert_grant_works(sandbox: Sandbox, backend: FlakyBackend, target: scopedauth.Target) -> None:
    """As another process would: the stored record refreshes, and the family is intact."""
    other = TokenStore(backend)
    stored = other.load(target)
    assert stored is not None
    _expire(other, stored)
    again = scopedauth.get_token(target, store=other)
    assert again.refresh_token != stored.refresh_token
    assert sandbox.stats.family_revocations == 0 and sandbox.stats.refresh_failures == 0


def test_the_next_refresh_uses_the_token_the_store_refused(sandbox: Sandbox, listener_port: int) -> None:
    """The audit's repro: the next refresh read the store again and sent the retired token."""
    backend, store, first, fresh = refused_refresh(sandbox, listener_port)
    # the store works again; the server refuses the access token (a 401): refresh once more
    newer = session.renew(first.target, rejected=fresh.access_token, store=store)
    assert newer.refresh_token not in (first.refresh_token, fresh.refresh_token)
    assert sandbox.stats.family_revocations == 0
    stored = TokenStore(backend).load(first.target)
    assert stored is not None and stored.refresh_token == newer.refresh_token
    assert_grant_works(sandbox, backend, first.target)


def test_an_expired_token_is_refreshed_from_the_unsaved_one(
    sandbox: Sandbox, listener_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two hours on, before any retry saved it: the ladder's refresh must start from the newest token."""
    from scopedauth import tokens

    backend, store, first, fresh = refused_refresh(sandbox, listener_port)
    backend.fail_sets = 0
    assert fresh.expiry is not None
    monkeypatch.setattr(tokens, "utcnow", lambda: fresh.expiry + timedelta(hours=1))
    newer = scopedauth.get_token(first.target, store=store)
    assert newer.access_token != fresh.access_token
    assert sandbox.stats.family_revocations == 0
    stored = TokenStore(backend).load(first.target)
    assert stored is not None and stored.refresh_token == newer.refresh_token


def test_it_is_saved_once_the_store_works_again(
    sandbox: Sandbox, listener_port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No refresh needed: the next call after the retry interval saves it, so other processes are safe."""
    backend, store, first, fresh = refused_refresh(sandbox, listener_port)
    backend.fail_sets = 1  # still broken at the first retry
    later = session._now() + session.HOLD_OFF_SECONDS + 1
    monkeypatch.setattr(session, "_now", lambda: later)
    assert scopedauth.get_token(first.target, store=store).access_token == fresh.access_token
    stored = TokenStore(backend).load(first.target)
    assert stored is not None and stored.refresh_token == first.refresh_token
    monkeypatch.setattr(session, "_now", lambda: later + session.HOLD_OFF_SECONDS + 1)
    with caplog.at_level(logging.INFO, logger="scopedauth"):
        assert scopedauth.get_token(first.target, store=store).access_token == fresh.access_token
    stored = TokenStore(backend).load(first.target)
    assert stored is not None and stored.refresh_token == fresh.refresh_token
    assert fresh.refresh_token not in caplog.text  # the log says it was saved, never what
    assert sandbox.stats.refreshes == 1  # saving needed no refresh
    session.forget_memory()
    assert_grant_works(sandbox, backend, first.target)


def test_a_logout_meanwhile_is_not_undone(sandbox: Sandbox, listener_port: int) -> None:
    """The unsaved token is dropped, not written back, when the record was deleted meanwhile."""
    backend, store, first, _ = refused_refresh(sandbox, listener_port)
    TokenStore(backend).delete(first.target)  # another process logged out
    session.forget_memory()
    with pytest.raises(scopedauth.LoginRequiredError):
        session.renew(first.target, store=store)
    assert TokenStore(backend).load(first.target) is None


def test_a_newer_login_elsewhere_wins_over_the_unsaved_token(sandbox: Sandbox, listener_port: int) -> None:
    backend, store, first, fresh = refused_refresh(sandbox, listener_port)
    relogin = user_login(sandbox, listener_port, TokenStore(backend))  # another process logged in again
    session.forget_memory()
    renewed = session.renew(first.target, rejected=fresh.access_token, store=store)
    assert renewed.access_token == relogin.access_token  # the store's newer grant, untouched
    stored = TokenStore(backend).load(first.target)
    assert stored is not None and stored.refresh_token == relogin.refresh_token


def test_a_store_that_still_refuses_keeps_the_newest_token(sandbox: Sandbox, listener_port: int) -> None:
    backend, store, first, fresh = refused_refresh(sandbox, listener_port)
    backend.fail_sets = 10**6  # never recovers
    newer = session.renew(first.target, rejected=fresh.access_token, store=store)
    newest = session.renew(first.target, rejected=newer.access_token, store=store)
    assert len({first.refresh_token, fresh.refresh_token, newer.refresh_token, newest.refresh_token}) == 4
    assert sandbox.stats.family_revocations == 0
    with pytest.raises(StorageError):
        backend.set("probe", "x")
