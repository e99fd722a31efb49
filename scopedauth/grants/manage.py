"""Creating and ending grants: log in, exchange, log out, and report what is stored.

Each takes the target's lock, so a login or logout never interleaves with a refresh of the
same grant in another process; :mod:`scopedauth.grants.session` then serves what these stored.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..config import Target, resolve_target
from ..errors import LoginRequiredError, ScopedAuthError, StorageError
from ..storage.store import TokenStore
from ..tokens import Token
from .resolve import resolve, store_for
from .session import Say, forget, login_locked, remember, say_on_stderr

__all__ = ["LogoutResult", "StatusEntry", "exchange", "login", "logout", "serving", "status"]

log = logging.getLogger("scopedauth")


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
    ``store_secret`` keeps that secret in the store (see :mod:`scopedauth.grants.m2m`).
    Holds the target's lock so a concurrent refresh cannot interleave.
    """
    from ..storage.locks import target_lock
    from .m2m import choose_secret, forget_secret

    st = store_for(store)
    say = say or say_on_stderr
    app = options.pop("app", None)
    if target is None and app:
        browser: dict[str, Any] = {"port": port, "redirect_uri": redirect_uri, "timeout": timeout, "mode": mode}
        browser.update(browser_command=browser_command, read_line=read_line, opener=opener)
        target = _app_target(st, app, options, say, browser)
    target = resolve(target, store=st, for_login=True, **options)
    user_only = mode != "auto" or any(x is not None for x in (redirect_uri, browser_command, read_line, opener))
    secret = choose_secret(target, client_secret_env, user_only=user_only, store_secret=store_secret)
    with target_lock(target.key):
        replaced = _other_kind(st, target, grant=secret is not None)
        if secret is not None:
            from .m2m import login as m2m_login

            token = m2m_login(target, st, secret=secret[0], grant=secret[1], store_secret=store_secret)
            _retire(replaced, say)
            remember(st, token)
            return token
        token = login_locked(
            target,
            st,
            say=say,
            port=port,
            redirect_uri=redirect_uri,
            timeout=timeout,
            mode=mode,
            browser_command=browser_command,
            read_line=read_line,
            opener=opener,
        )
        forget_secret(st, target)  # a secret kept for a service principal under this key is now orphaned
        _retire(replaced, say)
    remember(st, token)
    return token


def _app_target(st: TokenStore, app: str, options: dict[str, Any], say: Say, browser: dict[str, Any]) -> Target:
    """``login --app``: read the app's scopes, signing in with all-apis first when nothing may read them."""
    from .apps import APPS_API_SCOPE, app_target
    from .session import get_token

    def reader(target: Target) -> Token:
        try:
            return get_token(target, store=st)
        except LoginRequiredError:
            say(
                f"Finding app {app}'s scopes takes a token that may read the workspace's Apps API: "
                f"signing in with {APPS_API_SCOPE} first."
            )
            token = get_token(target, store=st, interactive=True, say=say, login_options=browser)
            remember(st, token)
            return token

    return app_target(options, app, st, reader, say, fresh=True)  # type: ignore[arg-type]


def exchange(
    target: Target | None = None,
    *,
    store: TokenStore | str | None = None,
    subject_token_file: str | None = None,
    subject_token_env: str | None = None,
    subject_token_type: str | None = None,
    say: Say | None = None,
    **options: Any,
) -> Token:
    """Token federation (RFC 8693): exchange another identity provider's token, store the result.

    The subject token is read from the file or variable, never stored; the record remembers
    the source so a stale token is exchanged again (see :mod:`scopedauth.federation`).
    A user login stored under the same key is replaced, and its refresh token revoked (``say``
    tells, default stderr).
    """
    from ..storage.locks import target_lock
    from . import federation
    from .m2m import forget_secret

    grant = federation.source(
        subject_token_file=subject_token_file,
        subject_token_env=subject_token_env,
        subject_token_type=subject_token_type,
    )
    st = store_for(store)
    target = resolve(target, store=st, for_login=True, **options)
    with target_lock(target.key):
        replaced = _other_kind(st, target, grant=True)
        token = federation.exchange(target, st, grant)
        forget_secret(st, target)
        _retire(replaced, say or say_on_stderr)
    remember(st, token)
    return token


@dataclass(frozen=True)
class StatusEntry:
    target: Target
    token: Token | None
    error: str | None
    backend: str


def status(store: TokenStore | str | None = None, targets: Iterable[Target] | None = None) -> list[StatusEntry]:
    """Every stored target with its record, or the error reading it (never the token itself)."""
    st = store_for(store)
    found = []
    for target in list(targets) if targets is not None else st.targets():
        try:
            found.append(StatusEntry(target, st.load(target), None, st.name))
        except StorageError as exc:
            found.append(StatusEntry(target, None, str(exc), st.name))
    return found


def serving(store: TokenStore | str | None = None, **options: Any) -> Target | None:
    """The stored grant :func:`~scopedauth.get_token` with these options is served from, or None.

    The exact grant when it is live, else the smallest covering one (see
    :mod:`scopedauth.grants.covering`); None when a login is needed.
    """
    from .covering import serving_grant

    st = store_for(store)
    try:
        target = resolve(None, store=st, **options)
    except LoginRequiredError:
        return None
    return serving_grant(st, target)


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
    """Revoke (RFC 7009, when advertised) and delete stored grants, kept client secrets and lock files.

    Logging out of what is not stored is not an error: its result says ``deleted=False``.
    """
    from ..storage.locks import lock_path, target_lock
    from .m2m import forget_secret

    st = store_for(store)
    try:
        chosen = st.targets() if all_targets else [resolve(target, store=st, **options)]
    except LoginRequiredError:  # nothing stored for that host: nothing to log out of (like rm -f)
        return [LogoutResult(target or resolve_target(**options), revoked=False, deleted=False)]
    results = []
    for tgt in chosen:
        with target_lock(tgt.key):
            try:
                token = st.load(tgt)
            except StorageError:
                token = None
            revoked = bool(token and revoke and _revoke(token))
            forget_secret(st, tgt)  # whatever the record says: an orphaned secret must not outlive it
            deleted = st.delete(tgt)
            if sys.platform != "win32":  # Windows cannot unlink an open file; filelock removes it on release there
                with contextlib.suppress(OSError):  # only tidiness: the record is gone already
                    lock_path(tgt.key).unlink(missing_ok=True)  # while held: waiters re-check and lock afresh
        forget(tgt.key)
        results.append(LogoutResult(tgt, revoked, deleted))
    return results


def _kind(token: Token) -> str:
    from ..tokens import CLIENT_CREDENTIALS

    if token.grant is None:
        return "user login"
    return "service principal token" if token.grant.type == CLIENT_CREDENTIALS else "federated token"


def _other_kind(st: TokenStore, target: Target, *, grant: bool) -> Token | None:
    """The stored record a new grant is about to replace, when it is of the other kind.

    Kinds: a user login (no ``grant``, usually a refresh token) or a service principal or
    federated token (``grant`` set). Same-kind replacements are an ordinary login again.
    """
    try:
        old = st.load(target)
    except StorageError:
        return None
    if old is None or (old.grant is not None) == grant:
        return None
    return old


def _retire(old: Token | None, say: Say) -> None:
    """After the new grant is stored: revoke the replaced one's refresh token (best effort), and say so.

    Revoking after the save means a failed new login leaves the old grant in place.
    """
    if old is None:
        return
    note = ""
    if old.refresh_token:
        revoked = _revoke(old)
        note = (
            " (revoked its refresh token)"
            if revoked
            else " (could not revoke its refresh token: it stays valid at the server until it expires or is revoked)"
        )
    say(f"scopedauth: replacing the stored {_kind(old)} for {old.target.describe()}{note}")


def _revoke(token: Token) -> bool:
    """Best effort: True when the server confirmed; never raises (logout must still delete)."""
    try:
        return _revoke_at_server(token)
    except ScopedAuthError as exc:  # e.g. a revocation endpoint that is not https
        log.warning("could not revoke: %s", exc)
        return False


def _revoke_at_server(token: Token) -> bool:
    from ..oauth import client as oauth
    from ..oauth.endpoints import discover_or_none
    from ..tokens import CLIENT_CREDENTIALS

    if token.grant is not None and token.grant.type == CLIENT_CREDENTIALS:
        return False  # revoking needs the client secret; a client-credentials token lives an hour at most

    endpoints = discover_or_none(token.target)
    if endpoints is None or not endpoints.revocation_endpoint:
        return False
    return oauth.revoke(token, endpoints.revocation_endpoint)
