"""Which stored grant serves a request for which no grant with exactly those scopes is stored.

A token granted ``sql files.files`` is also good for a program that only needs ``sql``, so
asking for ``sql`` must not fail (or start a login) while such a grant is stored. The rule:

1. a stored grant with exactly the scopes asked for wins (the caller tries it first);
2. else the *smallest* stored grant for the same host, client and account whose scopes include
   every scope asked for (``offline_access`` aside: it decides refreshability, not access);
   among equals one that can renew itself, then the lowest key, so the choice is stable;
3. only a *live* grant serves: readable, not marked dead (needs_login), and either valid or
   able to renew itself; an exact grant that is not live gives way to a covering one.

``login`` is unaffected: it stores exactly what it was asked for.
"""

from __future__ import annotations

from ..config import OFFLINE_ACCESS, Target
from ..errors import StorageError
from ..log import logger
from ..storage.store import TokenStore
from ..tokens import Token

__all__ = ["covering_grant", "covers", "live", "serving_grant"]


def covers(stored: Target, wanted: Target) -> bool:
    """``stored`` is for the same host, client and account and has every scope ``wanted`` asks for."""
    if (stored.host, stored.client_id, stored.account_id) != (wanted.host, wanted.client_id, wanted.account_id):
        return False
    need = set(wanted.scopes) - {OFFLINE_ACCESS}
    return bool(need) and need <= set(stored.scopes)


def live(token: Token | None) -> bool:
    """Can serve now or after a refresh without a person: valid, or renewable, and not marked dead."""
    return token is not None and not token.needs_login and (token.is_valid() or token.renewable)


def serving_grant(st: TokenStore, wanted: Target) -> Target | None:
    """The stored grant a request for ``wanted`` is served from: itself when live, else the smallest covering one."""
    try:
        exact = st.load(wanted)
    except StorageError:
        exact = None
    return wanted if live(exact) else covering_grant(st, wanted)


def covering_grant(st: TokenStore, wanted: Target) -> Target | None:
    """The smallest live stored grant covering ``wanted`` other than ``wanted`` itself, or None."""
    ranked: list[tuple[tuple[int, bool, str], Target]] = []
    for stored in st.targets():
        if stored == wanted or not covers(stored, wanted):
            continue
        try:
            token = st.load(stored)
        except StorageError:
            continue
        if not live(token):
            continue
        extra = len(set(stored.scopes) - {OFFLINE_ACCESS})
        ranked.append(((extra, not (token is not None and token.renewable), stored.key), stored))
    if not ranked:
        return None
    best = min(ranked, key=lambda item: item[0])[1]
    logger().debug("no grant for exactly %r is stored; served by the grant %r, which covers it", wanted.key, best.key)
    return Target(best.host, best.client_id, best.scopes, best.account_id, wanted.profile)
