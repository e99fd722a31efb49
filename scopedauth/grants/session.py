"""Getting a token: the ladder, its in-process cache, and renewing after a 401.

``get_token`` is a ladder; each rung is cheaper than the next and the first that yields a
usable token wins::

    1. this process's memory holds a valid token              → return it
    2. the store holds a valid record                         → remember, return it
    3. take the target's file lock, read the store again
       (another process may have refreshed meanwhile):
         valid now                                            → return it
         refresh token present → refresh, SAVE FIRST, return
         (a rotated token the store refused is kept and used
         until it can be saved: :mod:`.rotation`)
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

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import StorageKind, Target, TargetOptions
from ..errors import (
    InvalidGrantError,
    LoginRequiredError,
    NetworkError,
    StorageError,
    TokenEndpointError,
)
from ..log import logger
from ..storage.store import TokenStore
from ..tokens import Token
from . import resolve as _resolution
from .cache import CACHE, TokenKey
from .resolve import CallKey, known_call, opened_store, redirect_call, resolve, resolve_call, store_for

if TYPE_CHECKING:
    from typing import Unpack

__all__ = [
    "forget",
    "forget_memory",
    "from_memory",
    "get_token",
    "headers",
    "login_locked",
    "peek",
    "remember",
    "renew",
    "resolve",
    "say_on_stderr",
    "store_for",
]

HOLD_OFF_SECONDS = 30.0
Say = Callable[[str], None]


def _app_target(options: TargetOptions, app: str, st: TokenStore) -> Target:
    """``app=``: the app's scopes, read (when not cached) with a token this module serves."""
    from .apps import app_target

    return app_target(options, app, st, lambda t: get_token(t, store=st), say_on_stderr)


_resolution.app_resolver = _app_target


def say_on_stderr(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _now() -> float:
    return time.monotonic()


def _usable(token: Token | None) -> bool:
    """Serve as is: valid, and outside the refresh window unless nothing could renew it anyway."""
    return token is not None and token.is_valid() and not (token.wants_refresh() and token.renewable)


def get_token(
    target: Target | None = None,
    *,
    store: TokenStore | StorageKind | None = None,
    interactive: bool = False,
    say: Say | None = None,
    login_options: dict[str, Any] | None = None,
    **options: Unpack[TargetOptions],
) -> Token:
    """A valid token for the target, refreshing or (when ``interactive``) logging in as needed.

    Args:
        target: a resolved :class:`Target`; else the target is resolved from ``options``.
        store: a :class:`TokenStore`, or a storage kind (``"keyring"``, ``"file"``,
            ``"memory"``); default ``SCOPEDAUTH_STORAGE``, else the OS keyring.
        interactive: log in through the browser when nothing usable is stored (default: raise).
        say: where an interactive login talks to the person (default: stderr).
        login_options: keywords for that login (see :func:`scopedauth.login`).
        **options: :class:`~scopedauth.config.TargetOptions`: ``host``, ``profile``,
            ``account_id``, ``client_id``, ``scopes``, ``refresh_token``.

    Raises :class:`LoginRequiredError` carrying the exact ``scopedauth login`` command.

    The answer for a fresh token is a few dictionary lookups: the (store, target) an argument
    list resolves to is remembered per process, keyed by the arguments and the environment
    variables resolution reads (and re-checked against the config file's stamp when a profile
    was read), so a changed environment or profile is seen on the next call.
    """
    if CACHE.unsaved:  # a rotated refresh token the store refused: save it once the store works
        from . import rotation

        rotation.retry_saves(_now())
    call, st, target, tkey = _locate(target, store, options)
    token, stored = _cached(st, target, tkey)
    if token is not None:
        return token
    if call is not None and CACHE.resolved.pop(call, None) is not None:
        # What the call was remembered to mean may depend on the store, which another process
        # (or a dead grant) may have changed since: a covering grant, the one scope set stored,
        # a user grant beside ambient client credentials. A miss is the slow path anyway, so
        # resolve once more from what is stored now.
        st.forget_cache()
        CACHE.picked.clear()
        call, st, target, tkey = _locate(None, store, options)
        token, stored = _cached(st, target, tkey)
        if token is not None:
            return token
    from .covering import covering_grant, live  # off the hot path: a miss only

    if not live(stored):
        cover = covering_grant(st, target)
        if cover is not None:  # serve it, and let this call shape go straight to it from now on
            if call is not None:
                redirect_call(call, st, cover)
            return get_token(cover, store=st, interactive=interactive, say=say, login_options=login_options)
    return _slow_path(target, st, stored, interactive, say or say_on_stderr, login_options or {})


def peek(
    target: Target | None = None,
    *,
    store: TokenStore | StorageKind | None = None,
    **options: Unpack[TargetOptions],
) -> Token | None:
    """The token :func:`get_token` would serve without a lock, a refresh or a login, else None.

    Rungs 1–2 only: nothing here takes a lock, talks HTTP or logs, so ``scopedauth token``
    answers a cache hit without loading any of that machinery (it calls :func:`get_token`
    only on a miss). Raises what resolution and the store raise (ConfigError, StorageError).
    """
    _, st, target, tkey = _locate(target, store, options)
    return _cached(st, target, tkey)[0]


def _locate(
    target: Target | None, store: TokenStore | StorageKind | None, options: TargetOptions
) -> tuple[CallKey | None, TokenStore, Target, TokenKey]:
    """The call's memo key (None for an explicit target), store, target and token key."""
    if target is None:
        call, (st, target, tkey) = resolve_call(store, options)
        return call, st, target, tkey
    st = store_for(store)
    target = resolve(target, store=st)
    return None, st, target, CACHE.key(st, target)


def _cached(st: TokenStore, target: Target, tkey: TokenKey) -> tuple[Token | None, Token | None]:
    """Rungs 1–2: ``(the token to serve or None, the record the store holds)``."""
    cached = _from_memory(tkey)
    if cached is not None:
        return cached, cached
    token = st.load(target)
    if token is not None and _usable(token):
        CACHE.tokens[tkey] = token
        return token, token
    return None, token


def _from_memory(tkey: TokenKey) -> Token | None:
    """Rung 1: this process's token for the key, when it may be served as is."""
    cached = CACHE.tokens.get(tkey)
    if cached is not None and (_usable(cached) or (cached.is_valid() and CACHE.hold_off.get(tkey, 0.0) > _now())):
        return cached
    return None


def from_memory(target: Target | None, store: TokenStore | str | None, options: TargetOptions) -> Token | None:
    """What :func:`get_token` would answer from memory alone, or None: no store read, no lock.

    Only a call shape resolved before (or a full target with scopes and an open store) can be
    answered; anything else needs the store and so belongs off an event loop.
    """
    if target is None:
        known = known_call(store, options)[1]
        return None if known is None else _from_memory(known[2])
    st = opened_store(store)
    if st is None or not target.scopes:
        return None
    return _from_memory(CACHE.key(st, target))


def _slow_path(
    target: Target,
    st: TokenStore,
    token: Token | None,
    interactive: bool,
    say: Say,
    login_options: dict[str, Any],
) -> Token:
    from ..storage.locks import target_lock
    from . import rotation

    mkey = CACHE.key(st, target)
    with target_lock(target.key):
        st.forget_cache()
        token = rotation.newest(mkey, st.load(target))
        if token is not None and _usable(token):
            CACHE.tokens[mkey] = token
            return token
        if token is not None and token.refreshable:
            try:
                fresh = _refresh_locked(target, st, token)
            except (NetworkError, TokenEndpointError) as exc:
                if not isinstance(exc, InvalidGrantError) and token.is_valid():
                    return _serve_while_valid(mkey, token, f"early refresh failed ({exc})")
                if not isinstance(exc, InvalidGrantError):
                    raise
            else:
                CACHE.tokens[mkey] = fresh
                return fresh
        if token is not None and token.grant is not None and not token.needs_login:
            return _remint_locked(target, st, token, mkey)
        if token is None or token.grant is None:
            from .m2m import mint_from_environment

            minted = mint_from_environment(target, st)
            if minted is not None:
                CACHE.tokens[mkey] = minted
                return minted
        if interactive:
            fresh = login_locked(target, st, say=say, **login_options)
            CACHE.tokens[mkey] = fresh
            return fresh
    why = "the stored grant has expired or was revoked" if token is not None else "nothing is stored"
    raise LoginRequiredError(f"{why} for {target.describe()}", target.login_command())


def renew(
    target: Target | None = None,
    *,
    rejected: str | None = None,
    store: TokenStore | str | None = None,
    **options: Unpack[TargetOptions],
) -> Token:
    """A token other than ``rejected``, which a server just refused (401) though it looked valid.

    Used by :class:`~scopedauth.handoff.integrations.BearerAuth` to refresh once on a 401. Another
    process may already have stored a newer token; only if not is the refresh token used.
    """
    from ..storage.locks import target_lock
    from . import rotation

    st = store_for(store)
    target = resolve(target, store=st, **options)
    mkey = CACHE.key(st, target)
    CACHE.tokens.pop(mkey, None)
    with target_lock(target.key):
        st.forget_cache()
        token = rotation.newest(mkey, st.load(target))
        if token is not None and token.is_valid() and token.access_token != rejected:
            CACHE.tokens[mkey] = token
            return token
        try:
            if token is not None and token.refreshable:
                fresh = _refresh_locked(target, st, token)
            elif token is not None and token.grant is not None and not token.needs_login:
                fresh = _mint_again(target, st, token)
            else:
                fresh = None
        except InvalidGrantError:
            fresh = None  # dead (and marked so): a new login is the only way
        if fresh is not None:
            CACHE.tokens[mkey] = fresh
            return fresh
    raise LoginRequiredError(f"the server refused the token for {target.describe()}", target.login_command())


def _refresh_locked(target: Target, st: TokenStore, token: Token) -> Token:
    from ..oauth import client as oauth

    try:
        fresh = oauth.refresh(token)
    except InvalidGrantError:
        CACHE.unsaved.pop(CACHE.key(st, target), None)  # a kept token, if it was that, is dead too
        st.forget_cache()
        again = st.load(target)
        if again is not None and again.refresh_token != token.refresh_token and _usable(again):
            return again  # someone else rotated it (e.g. a tool not using our lock)
        if again is not None and not again.needs_login:
            try:
                st.save(again.replace(needs_login=True))
            except StorageError as exc:
                logger().warning("could not mark the dead grant: %s", exc)
        raise
    from . import rotation

    rotation.save_rotated(st, fresh, token, _now())
    return fresh


def _remint_locked(target: Target, st: TokenStore, token: Token, mkey: TokenKey) -> Token:
    """Rung 3 for grants without a refresh token: mint again from the recorded source.

    As with an early refresh, a failure while the current token is still valid serves the
    current token (warned once) instead of failing a caller who has an hour of token left.
    """
    try:
        fresh = _mint_again(target, st, token)
    except (NetworkError, TokenEndpointError, LoginRequiredError) as exc:
        if not token.is_valid():
            raise
        return _serve_while_valid(mkey, token, f"early renewal failed ({exc})")
    CACHE.tokens[mkey] = fresh
    return fresh


def _mint_again(target: Target, st: TokenStore, token: Token) -> Token:
    """A new token from the source a service-principal or federated record names."""
    from ..tokens import CLIENT_CREDENTIALS, TOKEN_EXCHANGE
    from . import federation, m2m

    kind = token.grant.type if token.grant else ""
    if kind == CLIENT_CREDENTIALS:
        return m2m.remint(token, st)
    if kind == TOKEN_EXCHANGE:
        return federation.reexchange(token, st)
    raise LoginRequiredError(f"this scopedauth cannot renew a {kind!r} grant", target.login_command())


def _serve_while_valid(mkey: TokenKey, token: Token, why: str) -> Token:
    """Renewal failed but the token still works: serve it, warn, and hold off retries for a while.

    The hold-off keeps a failing server from being hit on every call; the warning comes once per
    hold-off period, so a long-running program keeps hearing about it.
    """
    logger().warning("%s; using the current token until it expires", why)
    CACHE.tokens[mkey] = token
    CACHE.hold_off[mkey] = _now() + HOLD_OFF_SECONDS
    return token


def login_locked(target: Target, st: TokenStore, say: Say, **login_options: Any) -> Token:
    """The interactive login, for callers already holding the target's lock (rung 4, manage.login)."""
    from .flow import run_login

    return run_login(target, st, say=say, **login_options)


def headers(
    target: Target | None = None,
    *,
    store: TokenStore | StorageKind | None = None,
    interactive: bool = False,
    say: Say | None = None,
    login_options: dict[str, Any] | None = None,
    **options: Unpack[TargetOptions],
) -> dict[str, str]:
    """``{"Authorization": "Bearer …"}`` for the target; the arguments are :func:`get_token`'s."""
    token = get_token(target, store=store, interactive=interactive, say=say, login_options=login_options, **options)
    return {"Authorization": f"Bearer {token.access_token}"}


def remember(st: TokenStore, token: Token) -> None:
    """Serve ``token`` from this process's memory from now on (after a login or exchange)."""
    CACHE.tokens[CACHE.key(st, token.target)] = token
    CACHE.forget_pick(st, token.target)  # the host may have several scope sets now


def forget(key: str) -> None:
    """Drop every cached token for this target key (after logout)."""
    CACHE.forget(key)


def forget_memory() -> None:
    """Drop this process's cached tokens and choices, keeping its open stores."""
    CACHE.reset(stores=False)
