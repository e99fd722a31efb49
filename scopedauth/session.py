"""The use cases: get a token, log in, log out, report status.

``get_token`` is a ladder; each rung is cheaper than the next and the first that yields a
usable token wins::

    1. this process's memory holds a valid token              → return it
    2. the store holds a valid record                         → remember, return it
    3. take the target's file lock, read the store again
       (another process may have refreshed meanwhile):
         valid now                                            → return it
         refresh token present → refresh, SAVE FIRST, return
         invalid_grant → read again; still dead → mark it needs_login (kept, not deleted)
         refresh failed for another reason but the access
         token is still valid (early refresh)                 → warn once, return it
         no refresh token but a re-mint source (service
         principal secret, federated subject token)           → mint again, SAVE, return
         nothing stored but a client secret for this client
         in the environment or profile                         → client credentials, SAVE
    4. interactive allowed → browser login under the same lock; else LoginRequiredError

Rungs 1–2 import no HTTP, lock or browser code: that is the hot path of ``scopedauth token``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .config import OFFLINE_ACCESS, Target, resolve_target
from .errors import (
    ConfigError,
    InvalidGrantError,
    LoginRequiredError,
    NetworkError,
    StorageError,
    TokenEndpointError,
)
from .store import TokenStore, open_store
from .tokens import Token

__all__ = ["StatusEntry", "exchange", "get_token", "headers", "login", "logout", "renew", "resolve", "status"]

log = logging.getLogger("scopedauth")
DEFAULT_SCOPES = ("all-apis",)
_memory: dict[tuple[_Same, str], Token] = {}
_warned: set[str] = set()
#: after a failed early refresh, this process serves the still-valid token until then (monotonic)
_hold_off: dict[tuple[_Same, str], float] = {}
HOLD_OFF_SECONDS = 30.0
_stores: dict[str, TokenStore] = {}
Say = Callable[[str], None]


class _Same:
    """A cache-key part equal only to a key for the very same backend. It holds the backend, so
    while a token is cached for it no other backend can be allocated at its address (id reuse)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


def _mkey(st: TokenStore, target: Target) -> tuple[_Same, str]:
    return (_Same(st.backend), target.key)


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _store(store: TokenStore | str | None) -> TokenStore:
    if isinstance(store, TokenStore):
        return store
    kind = (store or os.environ.get("SCOPEDAUTH_STORAGE") or "keyring").lower()
    if kind not in _stores:
        _stores[kind] = open_store(kind)
    return _stores[kind]


def resolve(
    target: Target | None = None,
    *,
    store: TokenStore | str | None = None,
    for_login: bool = False,
    **options: Any,
) -> Target:
    """The full target. Without scopes: the one grant stored for that host and client
    (``token``), or ``all-apis`` (``login``)."""
    if target is None:
        target = resolve_target(**options)
    if target.scopes:
        return target
    if for_login:
        wanted = (
            (*DEFAULT_SCOPES, OFFLINE_ACCESS) if options.get("refresh_token", True) is not False else DEFAULT_SCOPES
        )
        return Target(target.host, target.client_id, tuple(sorted(wanted)), target.account_id, target.profile)
    same = [
        t
        for t in _store(store).targets()
        if (t.host, t.client_id, t.account_id) == (target.host, target.client_id, target.account_id)
    ]
    if len(same) == 1:
        return Target(same[0].host, same[0].client_id, same[0].scopes, same[0].account_id, target.profile)
    if not same:
        fallback = resolve(target, for_login=True)
        from .m2m import find_secret  # off the hot path: only when nothing is stored for the host

        if find_secret(fallback) is not None:
            return fallback  # a service principal's secret is at hand: rung 3 mints all-apis
        raise LoginRequiredError(f"no token stored for {target.host}", fallback.login_command())
    options_text = "\n".join(f"  --scopes '{' '.join(t.scopes)}'" for t in same)
    raise ConfigError(f"several scope sets are stored for {target.host}; pick one with --scopes:\n{options_text}")


def _now() -> float:
    return time.monotonic()


def _usable(token: Token | None) -> bool:
    return token is not None and token.is_valid() and not token.wants_refresh()


def get_token(
    target: Target | None = None,
    *,
    store: TokenStore | str | None = None,
    interactive: bool = False,
    say: Say | None = None,
    login_options: dict[str, Any] | None = None,
    **options: Any,
) -> Token:
    """A valid token for the target, refreshing or (when ``interactive``) logging in as needed.

    ``options`` are :func:`scopedauth.config.resolve_target` keywords (host, profile, scopes, …).
    Raises :class:`LoginRequiredError` carrying the exact ``scopedauth login`` command.
    """
    st = _store(store)
    target = resolve(target, store=st, **options)
    mkey = _mkey(st, target)
    cached = _memory.get(mkey)
    if cached is not None and (_usable(cached) or (cached.is_valid() and _hold_off.get(mkey, 0.0) > _now())):
        return cached
    token = st.load(target)
    if token is not None and _usable(token):
        _memory[mkey] = token
        return token
    return _slow_path(target, st, token, interactive, say or _stderr, login_options or {})


def _slow_path(
    target: Target,
    st: TokenStore,
    token: Token | None,
    interactive: bool,
    say: Say,
    login_options: dict[str, Any],
) -> Token:
    from .locks import target_lock

    mkey = _mkey(st, target)
    with target_lock(target.key):
        st.forget_cache()
        token = st.load(target)
        if token is not None and _usable(token):
            _memory[mkey] = token
            return token
        if token is not None and token.refreshable:
            try:
                fresh = _refresh_locked(target, st, token)
            except (NetworkError, TokenEndpointError) as exc:
                if not isinstance(exc, InvalidGrantError) and token.is_valid():
                    if target.key not in _warned:
                        _warned.add(target.key)
                        log.warning("early refresh failed (%s); using the current token until it expires", exc)
                    _memory[mkey] = token
                    _hold_off[mkey] = _now() + HOLD_OFF_SECONDS  # do not hammer a failing server
                    return token
                if not isinstance(exc, InvalidGrantError):
                    raise
            else:
                _memory[mkey] = fresh
                return fresh
        if token is not None and token.grant is not None and not token.needs_login:
            return _remint_locked(target, st, token, mkey)
        if token is None or token.grant is None:
            from .m2m import mint_from_environment

            minted = mint_from_environment(target, st)
            if minted is not None:
                _memory[mkey] = minted
                return minted
        if interactive:
            fresh = _login_locked(target, st, say=say, **login_options)
            _memory[mkey] = fresh
            return fresh
    why = "the stored grant has expired or was revoked" if token is not None else "nothing is stored"
    raise LoginRequiredError(f"{why} for {target.describe()}", target.login_command())


def renew(
    target: Target | None = None,
    *,
    rejected: str | None = None,
    store: TokenStore | str | None = None,
    **options: Any,
) -> Token:
    """A token other than ``rejected``, which a server just refused (401) though it looked valid.

    Used by :class:`~scopedauth.integrations.BearerAuth` to refresh once on a 401. Another
    process may already have stored a newer token; only if not is the refresh token used.
    """
    from .locks import target_lock

    st = _store(store)
    target = resolve(target, store=st, **options)
    mkey = _mkey(st, target)
    _memory.pop(mkey, None)
    with target_lock(target.key):
        st.forget_cache()
        token = st.load(target)
        if token is not None and token.is_valid() and token.access_token != rejected:
            _memory[mkey] = token
            return token
        if token is not None and token.refreshable:
            fresh = _refresh_locked(target, st, token)
            _memory[mkey] = fresh
            return fresh
    raise LoginRequiredError(f"the server refused the token for {target.describe()}", target.login_command())


def _refresh_locked(target: Target, st: TokenStore, token: Token) -> Token:
    from . import oauth

    try:
        fresh = oauth.refresh(token)
    except InvalidGrantError:
        st.forget_cache()
        again = st.load(target)
        if again is not None and again.refresh_token != token.refresh_token and _usable(again):
            return again  # someone else rotated it (e.g. a tool not using our lock)
        if again is not None and not again.needs_login:
            try:
                st.save(again.replace(needs_login=True))
            except StorageError as exc:
                log.warning("could not mark the dead grant: %s", exc)
        raise
    st.save(fresh)  # the rotated refresh token is saved before anything else can use it
    return fresh


def _remint_locked(target: Target, st: TokenStore, token: Token, mkey: tuple[_Same, str]) -> Token:
    """Rung 3 for grants without a refresh token: mint again from the recorded source.

    As with an early refresh, a failure while the current token is still valid serves the
    current token (warned once) instead of failing a caller who has an hour of token left.
    """
    from . import federation, m2m
    from .tokens import CLIENT_CREDENTIALS, TOKEN_EXCHANGE

    kind = token.grant.type if token.grant else ""
    try:
        if kind == CLIENT_CREDENTIALS:
            fresh = m2m.remint(token, st)
        elif kind == TOKEN_EXCHANGE:
            fresh = federation.reexchange(token, st)
        else:
            raise LoginRequiredError(f"this scopedauth cannot renew a {kind!r} grant", target.login_command())
    except (NetworkError, TokenEndpointError, LoginRequiredError) as exc:
        if not token.is_valid():
            raise
        if target.key not in _warned:
            _warned.add(target.key)
            log.warning("early renewal failed (%s); using the current token until it expires", exc)
        _memory[mkey] = token
        _hold_off[mkey] = _now() + HOLD_OFF_SECONDS
        return token
    _memory[mkey] = fresh
    return fresh


def _login_locked(target: Target, st: TokenStore, say: Say, **login_options: Any) -> Token:
    from .flow import run_login

    return run_login(target, st, say=say, **login_options)


def login(
    target: Target | None = None,
    *,
    store: TokenStore | str | None = None,
    say: Say | None = None,
    port: int = 8020,
    redirect_uri: str | None = None,
    timeout: float = 300.0,
    mode: str = "auto",
    browser_command: str | None = None,
    read_line: Callable[[str], str] | None = None,
    opener: Callable[[str], bool] | None = None,
    client_secret_env: str | None = None,
    store_secret: bool = False,
    **options: Any,
) -> Token:
    """Log in and store the token: a user (authorization code + PKCE), or a service principal.

    ``mode``: ``auto`` (open a browser, else print the URL and wait), ``no-browser`` (print the
    URL, keep the listener up), ``paste`` (print the URL, read the redirected address back).
    With a client secret (``client_secret_env``, or one found for this client in
    ``DATABRICKS_CLIENT_SECRET`` or the profile) it is the client-credentials grant instead;
    ``store_secret`` keeps that secret in the store (see :mod:`scopedauth.m2m`).
    Holds the target's lock so a concurrent refresh cannot interleave.
    """
    from .locks import target_lock
    from .m2m import choose_secret

    st = _store(store)
    target = resolve(target, store=st, for_login=True, **options)
    user_only = mode != "auto" or any(x is not None for x in (redirect_uri, browser_command, read_line, opener))
    secret = choose_secret(target, client_secret_env, user_only=user_only, store_secret=store_secret)
    with target_lock(target.key):
        if secret is not None:
            from .m2m import login as m2m_login

            token = m2m_login(target, st, secret=secret[0], grant=secret[1], store_secret=store_secret)
            _memory[_mkey(st, target)] = token
            return token
        token = _login_locked(
            target,
            st,
            say=say or _stderr,
            port=port,
            redirect_uri=redirect_uri,
            timeout=timeout,
            mode=mode,
            browser_command=browser_command,
            read_line=read_line,
            opener=opener,
        )
    _memory[_mkey(st, target)] = token
    return token


def exchange(
    target: Target | None = None,
    *,
    store: TokenStore | str | None = None,
    subject_token_file: str | None = None,
    subject_token_env: str | None = None,
    subject_token_type: str | None = None,
    **options: Any,
) -> Token:
    """Token federation (RFC 8693): exchange another identity provider's token, store the result.

    The subject token is read from the file or variable, never stored; the record remembers
    the source so a stale token is exchanged again (see :mod:`scopedauth.federation`).
    """
    from . import federation
    from .locks import target_lock

    grant = federation.source(
        subject_token_file=subject_token_file,
        subject_token_env=subject_token_env,
        subject_token_type=subject_token_type,
    )
    st = _store(store)
    target = resolve(target, store=st, for_login=True, **options)
    with target_lock(target.key):
        token = federation.exchange(target, st, grant)
    _memory[_mkey(st, target)] = token
    return token


def headers(target: Target | None = None, **kwargs: Any) -> dict[str, str]:
    """``{"Authorization": "Bearer …"}`` for the target (same arguments as :func:`get_token`)."""
    token = get_token(target, **kwargs)
    return {"Authorization": f"Bearer {token.access_token}"}


@dataclass(frozen=True)
class StatusEntry:
    target: Target
    token: Token | None
    error: str | None
    backend: str


def status(store: TokenStore | str | None = None, targets: Iterable[Target] | None = None) -> list[StatusEntry]:
    """Every stored target with its record, or the error reading it (never the token itself)."""
    st = _store(store)
    found = []
    for target in list(targets) if targets is not None else st.targets():
        try:
            found.append(StatusEntry(target, st.load(target), None, st.name))
        except StorageError as exc:
            found.append(StatusEntry(target, None, str(exc), st.name))
    return found


@dataclass(frozen=True)
class LogoutResult:
    target: Target
    revoked: bool
    deleted: bool


def logout(
    target: Target | None = None,
    *,
    all_targets: bool = False,
    store: TokenStore | str | None = None,
    revoke: bool = True,
    **options: Any,
) -> list[LogoutResult]:
    """Revoke (RFC 7009, when advertised) and delete stored grants; remove their lock files."""
    from .locks import lock_path, target_lock

    st = _store(store)
    chosen = st.targets() if all_targets else [resolve(target, store=st, **options)]
    results = []
    for tgt in chosen:
        with target_lock(tgt.key):
            try:
                token = st.load(tgt)
            except StorageError:
                token = None
            revoked = bool(token and revoke and _revoke(token))
            if token is not None and token.grant is not None and token.grant.client_secret_stored:
                from .m2m import forget_secret

                forget_secret(st, tgt)
            deleted = st.delete(tgt)
            lock_path(tgt.key).unlink(missing_ok=True)  # while held: waiters re-check and lock afresh
        for key in [k for k in _memory if k[1] == tgt.key]:
            del _memory[key]
        results.append(LogoutResult(tgt, revoked, deleted))
    return results


def _revoke(token: Token) -> bool:
    from . import oauth
    from .endpoints import discover_or_none
    from .tokens import CLIENT_CREDENTIALS

    if token.grant is not None and token.grant.type == CLIENT_CREDENTIALS:
        return False  # revoking needs the client secret; a client-credentials token lives an hour at most

    endpoints = discover_or_none(token.target)
    if endpoints is None or not endpoints.revocation_endpoint:
        return False
    return oauth.revoke(token, endpoints.revocation_endpoint)


def forget_memory() -> None:
    """Drop this process's cached tokens (tests; after another process logged out)."""
    _memory.clear()
    _warned.clear()
    _hold_off.clear()
