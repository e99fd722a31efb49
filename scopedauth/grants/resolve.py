"""Which grant a call means: resolve its arguments to a target, and remember the answer.

``get_token(host=…, scopes=…)`` runs on every request a program makes, so the resolution of an
argument list (environment, profile, the one scope set stored for a host) is remembered in
:data:`~scopedauth.grants.cache.CACHE`, keyed by the arguments and the environment variables
resolution reads, and re-checked against the config file's stamp when a profile was read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import OFFLINE_ACCESS, RESOLVE_ENV, Target, TargetOptions, resolve_target
from ..errors import ConfigError, LoginRequiredError, StorageError
from ..storage.store import TokenStore, open_store
from .cache import CACHE, TokenKey

if TYPE_CHECKING:
    from typing import Unpack

__all__ = [
    "DEFAULT_SCOPES",
    "CallKey",
    "known_call",
    "opened_store",
    "redirect_call",
    "resolve",
    "resolve_call",
    "store_for",
]

DEFAULT_SCOPES = ("all-apis",)
#: ``app=``: the target with a Databricks App's scopes (:func:`scopedauth.grants.apps.app_target`
#: with a token reader). Set by :mod:`.session`, which serves the token that reads the Apps API;
#: resolution sits below it and cannot import it.
AppResolver = Callable[[TargetOptions, str, TokenStore], Target]
app_resolver: AppResolver | None = None
_environ: Any = os.environ
# Read the variables resolution depends on straight from os.environ's own mapping: this runs on
# every get_token call, where os.environ.get's per-call key encoding would cost more than the
# rest of the lookup. Any mapping without that attribute falls back to plain lookups.
_CALL_ENV = (*RESOLVE_ENV, "SCOPEDAUTH_STORAGE")  # what a get_token call's answer depends on
_ENV_KEYS = tuple(_environ.encodekey(name) for name in _CALL_ENV) if hasattr(_environ, "encodekey") else ()


def _env_snapshot() -> tuple[object, ...]:
    data = getattr(os.environ, "_data", None)
    if data is not None and _ENV_KEYS:
        return tuple(map(data.get, _ENV_KEYS))
    return tuple(map(os.environ.get, _CALL_ENV))


def _file_stamp(paths: list[Path]) -> tuple[object, ...]:
    stamps: list[object] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            stamps.append(None)
        else:
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(stamps)


def store_for(store: TokenStore | str | None) -> TokenStore:
    """The given store, or one store per kind for the whole process (so its cache is shared)."""
    if isinstance(store, TokenStore):
        return store
    chosen = store or os.environ.get("SCOPEDAUTH_STORAGE")
    slot = chosen.lower() if chosen else "default"  # the default may fall back to memory (.ambient)
    if slot not in CACHE.stores:
        if chosen:
            CACHE.stores[slot] = open_store(slot)
        else:
            from .ambient import default_store

            CACHE.stores[slot] = default_store()
    return CACHE.stores[slot]


def opened_store(store: TokenStore | str | None) -> TokenStore | None:
    """What :func:`store_for` would give if it is open already, else None (opening may do I/O)."""
    if isinstance(store, TokenStore):
        return store
    chosen = store or os.environ.get("SCOPEDAUTH_STORAGE")
    return CACHE.stores.get(chosen.lower() if chosen else "default")  # store_for's slot rule


def resolve(
    target: Target | None = None,
    *,
    store: TokenStore | str | None = None,
    for_login: bool = False,
    read_files: list[Path] | None = None,
    **options: Unpack[TargetOptions],
) -> Target:
    """The full target. Without scopes: the one grant stored for that host and client
    (``token``), or ``all-apis`` (``login``). With ``app``: that app's scopes (:mod:`.apps`)."""
    given = target
    app = options.pop("app", None)
    if target is None and app:
        if app_resolver is None:
            raise ConfigError("app= needs scopedauth.grants.session (import it, or use scopedauth.get_token)")
        return app_resolver(options, app, store_for(store))
    if target is None:
        target = resolve_target(read_files=read_files, **options)
        from .ambient import ambient_client  # the client came from DATABRICKS_CLIENT_ID, a secret beside it

        if not for_login and not options.get("client_id") and ambient_client() == target.client_id:
            from .ambient import note_service_principal, stored_user_grant

            chosen = stored_user_grant(store_for(store), target)  # a stored user grant wins
            if chosen is None:
                chosen = _resolve(target, None, store, False, options)
                note_service_principal(chosen.client_id)
            return chosen
    return _resolve(target, given, store, for_login, options)


def _resolve(
    target: Target, given: Target | None, store: TokenStore | str | None, for_login: bool, options: TargetOptions
) -> Target:
    if target.scopes:
        return target
    if for_login:
        if given is None:  # resolve again so the profile's disable_oauth_refresh_token applies too
            defaults: TargetOptions = {**options, "scopes": " ".join(DEFAULT_SCOPES)}
            return resolve_target(**defaults)
        wanted = (
            (*DEFAULT_SCOPES, OFFLINE_ACCESS) if options.get("refresh_token", True) is not False else DEFAULT_SCOPES
        )
        return Target(target.host, target.client_id, tuple(sorted(wanted)), target.account_id, target.profile)
    st = store_for(store)
    pick_key = CACHE.pick_key(st, target)
    picked = CACHE.picked.get(pick_key)
    if picked is None:
        same = [
            t
            for t in st.targets()
            if (t.host, t.client_id, t.account_id) == (target.host, target.client_id, target.account_id)
        ]
        if len(same) > 1:  # a grant marked dead does not make the choice ambiguous
            same = [t for t in same if not _is_dead(st, t)] or same
        if len(same) == 1:
            picked = CACHE.picked[pick_key] = same[0]
    if picked is not None:
        return Target(picked.host, picked.client_id, picked.scopes, picked.account_id, target.profile)
    fallback = resolve(target, for_login=True)
    from .m2m import find_secret  # off the hot path: only when no one grant is stored for the host

    if find_secret(fallback) is not None:
        # a service principal's secret is at hand: its default, all-apis, as the SDK asks (rung 3
        # mints it), even when it minted other scope sets before
        return fallback
    if not same:
        raise LoginRequiredError(f"no token stored for {target.host}", fallback.login_command())
    options_text = "\n".join(f"  --scopes '{' '.join(t.scopes)}'" for t in same)
    raise ConfigError(f"several scope sets are stored for {target.host}; pick one with --scopes:\n{options_text}")


def _is_dead(st: TokenStore, target: Target) -> bool:
    try:
        token = st.load(target)
    except StorageError:
        return False
    return token is not None and token.needs_login


#: the memo key of one get_token argument list (the arguments and the environment they depend on)
CallKey = tuple[object, ...]


def known_call(
    store: TokenStore | str | None, options: TargetOptions
) -> tuple[CallKey, tuple[TokenStore, Target, TokenKey] | None]:
    """The memo key for a ``get_token`` argument list, and what it resolved to if still current.

    No I/O but a ``stat`` of the config file when a profile was read: cheap enough for an
    event loop (see :mod:`scopedauth.grants.aio`).
    """
    scopes = options.get("scopes")
    if scopes is not None and not isinstance(scopes, str):
        options["scopes"] = tuple(scopes)
    call = (store, *options.items(), *_env_snapshot())
    known = CACHE.resolved.get(call)
    if known is not None:
        st, target, tkey, files, stamp = known
        if not files or _file_stamp(files) == stamp:
            return call, (st, target, tkey)
    return call, None


def resolve_call(
    store: TokenStore | str | None, options: TargetOptions
) -> tuple[CallKey, tuple[TokenStore, Target, TokenKey]]:
    """The memo key and ``(store, target, token key)`` for a ``get_token`` argument list, remembered."""
    call, known = known_call(store, options)
    if known is not None:
        return call, known
    st = store_for(store)
    read: list[Path] = []
    target = resolve(None, store=st, read_files=read, **options)
    tkey = CACHE.key(st, target)
    CACHE.resolved[call] = (st, target, tkey, read, _file_stamp(read))
    return call, (st, target, tkey)


def redirect_call(call: CallKey, st: TokenStore, target: Target) -> None:
    """From now on this argument list means ``target`` (a grant that covers what it asked for)."""
    known = CACHE.resolved.get(call)
    if known is not None:
        CACHE.resolved[call] = (st, target, CACHE.key(st, target), known[3], known[4])
