"""Rotated refresh tokens the store refused: kept, used for the next refresh, saved once it works.

The server retires a refresh token the moment it answers a refresh with a new one, and a
retired token presented again revokes the whole grant (reuse detection). So when the store
refuses to save the rotated token, the store's copy becomes a trap: the newest token lives only
in this process. It is kept in :data:`~scopedauth.grants.cache.CACHE` (``unsaved``) with the
refresh token the store still holds, and

* whenever the ladder reads the store under the target's lock (:func:`newest`), a record that
  still holds that retired token is replaced by the kept one: saved if the store works now, and
  used either way, so a refresh never presents the retired token;
* a record that holds anything else (another process logged in again) or nothing (logged out)
  wins, and the kept token is dropped;
* every ``get_token`` call, at most once per :data:`RETRY_SECONDS`, tries to save it
  (:func:`retry_saves`), so other processes stop seeing the retired token as soon as possible.
"""

from __future__ import annotations

from ..errors import StorageError
from ..log import logger
from ..storage.store import TokenStore
from ..tokens import Token
from .cache import CACHE, TokenKey, Unsaved

__all__ = ["RETRY_SECONDS", "newest", "retry_saves", "save_rotated"]

#: how often a call may retry saving a kept token (a failing keyring may take seconds to say so)
RETRY_SECONDS = 30.0


def save_rotated(st: TokenStore, fresh: Token, replaced: Token, now: float) -> None:
    """Save a rotated refresh token before anything else can use it; never lose it to a hiccup.

    The server has already retired ``replaced``'s refresh token, so a failed write must not
    throw the new one away: try once more, then keep it (see the module docstring) and say so.
    """
    key = CACHE.key(st, fresh.target)
    for attempt in (1, 2):
        try:
            st.save(fresh)
        except StorageError as exc:
            if attempt == 2:
                logger().warning(
                    "could not save the new refresh token (%s); this process keeps using it and saves it as soon "
                    "as the store works again (until then, other processes would present the retired one)",
                    exc,
                )
        else:
            CACHE.unsaved.pop(key, None)
            return
    previous = CACHE.unsaved.get(key)
    stale = previous.stale if previous is not None else replaced.refresh_token  # what the store still holds
    CACHE.unsaved[key] = Unsaved(st, fresh, stale, now + RETRY_SECONDS)


def newest(key: TokenKey, stored: Token | None) -> Token | None:
    """The token to go on with, given the record just read under the target's lock."""
    kept = CACHE.unsaved.get(key)
    if kept is None:
        return stored
    if stored is None or stored.refresh_token != kept.stale:
        CACHE.unsaved.pop(key, None)  # logged out, or a newer grant was stored meanwhile: the store wins
        return stored
    try:
        kept.store.save(kept.token)
    except StorageError as exc:
        logger().debug("the store still refuses the kept refresh token: %s", exc)
    else:
        CACHE.unsaved.pop(key, None)
        logger().info("saved the new refresh token this process had kept since the store refused it")
    return kept.token


def retry_saves(now: float) -> None:
    """Try to save every kept token whose retry time has come (never waiting on another's lock)."""
    from ..storage.locks import target_lock

    for key, kept in list(CACHE.unsaved.items()):
        if kept.next_try > now:
            continue
        kept.next_try = now + RETRY_SECONDS
        try:
            with target_lock(key[1], timeout=0):
                kept.store.forget_cache()
                newest(key, kept.store.load(kept.token.target))
        except StorageError as exc:  # busy lock, or the store still failing: the next retry
            logger().debug("could not save the kept refresh token yet: %s", exc)
